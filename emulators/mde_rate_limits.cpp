#include "mde_rate_limits.hpp"

#include <algorithm>

namespace vc::emu::mde {

std::optional<QuotaExceeded> CallQuotas::TryCall(const std::string& endpoint,
                                                 const std::vector<Quota>& quotas, TimePoint now) {
  auto& times = calls_[endpoint];
  std::chrono::seconds longest{0};
  for (const auto& q : quotas) longest = std::max(longest, q.window);
  while (!times.empty() && times.front() <= now - longest) times.pop_front();

  for (const auto& q : quotas) {
    // Calls still inside this quota's window, oldest first.
    auto first =
        std::find_if(times.begin(), times.end(), [&](TimePoint t) { return t > now - q.window; });
    const auto in_window = static_cast<int>(std::distance(first, times.end()));
    if (in_window >= q.calls) {
      // The call that frees a slot is the one `calls` positions from the newest.
      const TimePoint frees = *(times.end() - q.calls) + q.window;
      auto wait = std::chrono::ceil<std::chrono::seconds>(frees - now);
      return QuotaExceeded{endpoint, q.label, std::max(wait, std::chrono::seconds(1))};
    }
  }
  times.push_back(now);
  return std::nullopt;
}

const std::vector<Quota>& StandardQuotas() {
  static const std::vector<Quota> quotas = {{100, std::chrono::minutes(1), "100 calls per minute"},
                                            {1500, std::chrono::hours(1), "1500 calls per hour"}};
  return quotas;
}

const std::vector<Quota>& LiveResponseQuotas() {
  static const std::vector<Quota> quotas = {{10, std::chrono::minutes(1), "10 calls per minute"}};
  return quotas;
}

const std::vector<Quota>& IndicatorImportQuotas() {
  static const std::vector<Quota> quotas = {{30, std::chrono::minutes(1), "30 calls per minute"}};
  return quotas;
}

const std::vector<Quota>& IndicatorDeleteQuotas() {
  static const std::vector<Quota> quotas = {{30, std::chrono::minutes(1), "30 calls per minute"},
                                            {1500, std::chrono::hours(1), "1500 calls per hour"}};
  return quotas;
}

}  // namespace vc::emu::mde
