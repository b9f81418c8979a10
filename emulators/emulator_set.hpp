// All emulators of one test or demo run, started together on free ports and sharing one token
// registry (tokens from the Entra emulator are what the service emulators accept).
#pragma once

#include <memory>

#include "entra_emulator.hpp"
#include "graph_emulator.hpp"
#include "mde_emulator.hpp"
#include "sentinel_emulator.hpp"
#include "vmray_emulator.hpp"

namespace vc::emu {

struct EmulatorSetOptions {
  EntraEmulator::Options entra;
  VmrayEmulator::Options vmray;
  MdeEmulator::Options mde;
  GraphEmulator::Options graph;
  SentinelEmulator::Options sentinel;
  // {"entra": {...}, "vmray": {...}, "mde": {...}, "graph": {...}}; missing sections keep their
  // defaults.
  static EmulatorSetOptions FromJson(const Json& j);
};

class EmulatorSet {
 public:
  explicit EmulatorSet(EmulatorSetOptions options = {}, Clock& clock = DefaultClock());
  ~EmulatorSet();
  void Start();
  void Stop();

  EntraEmulator& entra() { return *entra_; }
  VmrayEmulator& vmray() { return *vmray_; }
  MdeEmulator& mde() { return *mde_; }
  GraphEmulator& graph() { return *graph_; }
  SentinelEmulator& sentinel() { return *sentinel_; }
  TokenRegistry& tokens() { return tokens_; }

  // {"entra": "http://127.0.0.1:P", "vmray": "...", "mde": "...", "graph": "...",
  //  "sentinel": "..."}
  Json Endpoints() const;
  // Routes a seed document {"entra": ..., "vmray": ..., "mde": ..., "graph": ...} to each
  // emulator.
  std::optional<std::string> Seed(const Json& seed);
  // Every assertion failure of every emulator, prefixed with the emulator name.
  std::vector<std::string> AssertionFailures() const;

 private:
  TokenRegistry tokens_;
  std::unique_ptr<EntraEmulator> entra_;
  std::unique_ptr<VmrayEmulator> vmray_;
  std::unique_ptr<MdeEmulator> mde_;
  std::unique_ptr<GraphEmulator> graph_;
  std::unique_ptr<SentinelEmulator> sentinel_;
};

}  // namespace vc::emu
