// MDE's documented per-endpoint call quotas as sliding windows on the emulator's Clock, so a
// test can hit the limit, advance a ManualClock and watch it lift. Not thread-safe: the MDE
// emulator calls it under its state mutex.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace vc::emu::mde {

struct Quota {
  int calls = 0;
  std::chrono::seconds window{0};
  std::string label;  // "100 calls per minute"
};

struct QuotaExceeded {
  std::string endpoint;
  std::string quota;                 // the label of the quota that was hit
  std::chrono::seconds retry_after;  // until the oldest call in that window expires
};

class CallQuotas {
 public:
  // Records a call to `endpoint` if every quota still allows it; otherwise records nothing and
  // says which quota was hit and when a retry will succeed.
  std::optional<QuotaExceeded> TryCall(const std::string& endpoint,
                                       const std::vector<Quota>& quotas, TimePoint now);
  void Clear() { calls_.clear(); }

 private:
  std::map<std::string, std::deque<TimePoint>> calls_;
};

// 100 calls per minute and 1,500 per hour: list alerts, get alert, update alert, machines,
// machine actions, result link, library.
const std::vector<Quota>& StandardQuotas();
// runliveresponse: 10 calls per minute.
const std::vector<Quota>& LiveResponseQuotas();
inline constexpr int kMaxConcurrentLiveResponses = 25;
// indicators/import: 30 calls per minute.
const std::vector<Quota>& IndicatorImportQuotas();
// indicators/BatchDelete: 30 calls per minute and 1,500 per hour.
const std::vector<Quota>& IndicatorDeleteQuotas();

}  // namespace vc::emu::mde
