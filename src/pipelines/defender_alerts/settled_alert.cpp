#include "pipelines/defender_alerts/settled_alert.hpp"

#include <algorithm>

#include "core/json.hpp"

namespace vc::defender {
namespace {

constexpr int kMaxJobsPerAlert = 1000;
// A job still writing its comment is final within seconds; give up waiting only if it never is.
constexpr int kMaxWaitsForOpenJobs = 40;
constexpr Millis kOpenJobsPoll{15'000};

}  // namespace

jobs::Delivery RetryDelivery(std::string reason, Millis delay) {
  jobs::Delivery d;
  d.outcome = jobs::Delivery::Outcome::kRetry;
  d.reason = std::move(reason);
  d.delay = delay;
  return d;
}

jobs::Delivery FinalDelivery(jobs::Delivery::Outcome outcome, std::string reason) {
  jobs::Delivery d;
  d.outcome = outcome;
  d.reason = std::move(reason);
  return d;
}

Millis WriteBackBackoff(int attempts) {
  return std::min(Millis(30 * 60'000), Millis(10'000LL << std::clamp(attempts, 0, 7)));
}

Result<SettledAlert> ReadAlert(const std::string& alert_id, store::Store& store) {
  auto jobs = store.ListJobsUnderKey("mde:" + alert_id, kMaxJobsPerAlert);
  if (!jobs) return jobs.error();
  return SettledAlert{alert_id, std::move(*jobs)};
}

std::variant<SettledAlert, jobs::Delivery> AwaitSettledAlert(const store::OutboxItem& item,
                                                             store::Store& store,
                                                             const std::string& what) {
  auto payload = ParseJson(item.payload, what);
  SettledAlert alert;
  if (payload && payload->is_object()) alert.alert_id = payload->value("alert_id", "");
  if (alert.alert_id.empty()) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed, "unreadable " + what + " request");
  }
  auto read = ReadAlert(alert.alert_id, store);
  if (!read) {
    return RetryDelivery("reading the alert's jobs: " + read.error().ToString(), Millis(30'000));
  }
  const auto& jobs = read->jobs;
  const bool open = std::any_of(jobs.begin(), jobs.end(), [](const auto& j) { return !j.final; });
  if (open && item.attempts < kMaxWaitsForOpenJobs) {
    return RetryDelivery("waiting for the alert's other jobs to finish before the " + what,
                         kOpenJobsPoll);
  }
  return std::move(*read);
}

}  // namespace vc::defender
