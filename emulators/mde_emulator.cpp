#include "mde_emulator.hpp"

namespace vc::emu {

MdeEmulator::Options MdeEmulator::Options::FromJson(const Json&) { return {}; }

MdeEmulator::MdeEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("mde", clock), options_(std::move(options)), tokens_(tokens) {}

}  // namespace vc::emu
