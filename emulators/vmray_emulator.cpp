#include "vmray_emulator.hpp"

namespace vc::emu {

VmrayEmulator::Options VmrayEmulator::Options::FromJson(const Json&) { return {}; }

VmrayEmulator::VmrayEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("vmray", clock), options_(std::move(options)), tokens_(tokens) {}

}  // namespace vc::emu
