// API calls the connector made, as the emulators counted them (GET /_emulator/stats on each
// service): the benchmark divides them by the alerts to get calls per alert.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::bench {

struct CallCounts {
  // "<service> <METHOD> <path template>" -> calls, e.g. "vmray GET /rest/sample/{id}/vtis".
  std::map<std::string, int64_t> routes;
  std::map<std::string, int64_t> by_service;  // "entra", "mde", "vmray"
  int64_t total = 0;
  int64_t assertions = 0;  // requests an emulator rejected as contract violations

  int64_t Route(const std::string& key) const;
  int64_t Service(const std::string& service) const;
  // Calls since `earlier`.
  CallCounts Since(const CallCounts& earlier) const;
};

// `endpoints`: the JSON line vmray-emulators printed ({"entra": url, "mde": url, ...}).
Result<CallCounts> FetchCallCounts(const Json& endpoints);

}  // namespace vc::bench
