// What /readyz reports: one named check per thing the connector needs to do its work, each with
// what failed and what to do about it. The daemon assembles the list; the checks that need
// judgement (is the last poll recent enough, can the store still be written) live here so they
// are tested on their own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "store/store.hpp"

namespace vc::server {

struct ReadinessCheck {
  std::string name;  // "config", "store", "poller:defender_alerts", ...
  bool ok = false;
  std::string detail;  // what was seen
  std::string action;  // what to do when it failed (empty when ok)
};

bool AllReady(const std::vector<ReadinessCheck>& checks);
// {"ready": bool, "checks": [{"name", "ok", "detail", "action"}]}; every text scrubbed.
std::string ReadinessJson(const std::vector<ReadinessCheck>& checks);

// A poller is healthy when its last successful poll is at most `window` old. Before the first
// success it is not ready yet. A clock that jumped back (last success in the future) counts as
// fresh: the next poll sets a new time, and a connector must not go unready because of NTP.
ReadinessCheck PollCheck(const std::string& job, std::optional<TimePoint> last_success,
                         std::optional<std::string> last_error, TimePoint now, Millis interval,
                         Millis window);
// The usual window: three missed polls plus slack for a slow page of alerts.
Millis PollWindow(Millis interval);

// Writes a small cursor row: proves the store is open, the file writable and the disk not full.
ReadinessCheck StoreCheck(store::Store& store, TimePoint now);

}  // namespace vc::server
