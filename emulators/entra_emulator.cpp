#include "entra_emulator.hpp"

namespace vc::emu {

EntraEmulator::Options EntraEmulator::Options::FromJson(const Json&) { return {}; }

EntraEmulator::EntraEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("entra", clock), options_(std::move(options)), tokens_(tokens) {}

}  // namespace vc::emu
