// `vmray-connector demo`: the whole Defender path on one machine with no cloud account. Starts
// the bundled emulators, seeds a handful of alerts that exercise each outcome, runs the daemon
// until every alert settles, and prints what happened to each.
#pragma once

#include <ostream>
#include <string>

#include "core/clock.hpp"

namespace vc::app {

struct DemoOptions {
  std::string emulators_binary;
  std::string work_dir;  // store and logs; empty: a fresh temporary directory
  Millis timeout{120'000};
  std::string ops_listen = "127.0.0.1:0";  // the status page; any free port by default
  // azurite-blob for the quarantine hand-off; empty: $VC_AZURITE_BLOB (scripts/demo.sh sets it),
  // and without either the antivirus alert waits for a storage account.
  std::string azurite_binary;
};

// Returns the process exit code: 0 when every alert reached its expected outcome.
int RunDemo(const DemoOptions& options, std::ostream& out);

}  // namespace vc::app
