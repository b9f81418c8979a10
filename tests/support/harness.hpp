// A whole connector against in-process emulators, on one clock. With a ManualClock the run is
// deterministic and instant: Drive() runs every due step, then moves time forward, so a test can
// cover an hour of polling, Live Response and analysis in milliseconds.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/daemon.hpp"
#include "emulator_set.hpp"

namespace vc::testing {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

class Harness {
 public:
  explicit Harness(Clock& clock, emu::EmulatorSetOptions options = {});
  ~Harness();

  emu::EmulatorSet& emulators() { return *emulators_; }
  const std::string& dir() const { return dir_; }

  // The connector's settings as environment pairs (the original app-setting names), pointing at
  // the emulators, with short intervals. `overrides` replace or add pairs.
  EnvPairs Environment(const EnvPairs& overrides = {}) const;
  // Loads and validates that environment; fails the test on a config problem.
  config::Config Config(const EnvPairs& overrides = {}) const;

  // Builds and opens a daemon (not started) on the harness clock.
  std::unique_ptr<app::Daemon> OpenDaemon(const EnvPairs& overrides = {});

  // Seeds the emulators (same JSON as POST /_emulator/state), failing the test on a problem.
  void Seed(const Json& seed);

  // One alert poll, then: run all due steps, advance the ManualClock by `tick`, repeat until
  // every job is final or `budget` of simulated time is spent. Returns whether it settled.
  bool Drive(app::Daemon& daemon, Millis budget = Millis(3'600'000), Millis tick = Millis(1'000));

 private:
  Clock& clock_;
  std::unique_ptr<emu::EmulatorSet> emulators_;
  std::string dir_;
};

// A minimal MDE alert document with one file evidence (or none when sha256 is empty).
Json AlertJson(const std::string& id, const std::string& machine_id, const std::string& sha256,
               const std::string& file_name = "sample.exe",
               const std::string& detection_source = "WindowsDefenderAtp",
               TimePoint created = TimePoint{});

// A machine seed with files {path: content}.
Json MachineJson(const std::string& id,
                 const std::vector<std::pair<std::string, std::string>>& files,
                 bool offline = false);

inline constexpr const char* kMachineId = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378";
inline constexpr const char* kEicar =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

}  // namespace vc::testing
