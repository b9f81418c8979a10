#include "jobs/retry.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/metrics.hpp"
#include "core/random.hpp"

namespace vc::jobs {

StepResult RetryStep(const store::Job& job, const Error& error, const std::string& what,
                     const RetryPlan& plan) {
  Metrics::Global().Inc("vc_errors_total", {{"code", std::string(ErrorCodeName(error.code))}});
  StepResult r;
  r.state = job.state;
  r.progressed = false;
  // Our own limiter held the call back before it was sent: back off as for throttling (the
  // spread keeps a backlog of waiting jobs from waking together), but never give up on it, or a
  // large Live Response backlog would exhaust its jobs' attempts.
  const bool local_wait =
      error.code == ErrorCode::kRateLimited && error.service_code == kLocalRateLimitCode;
  const int attempt = job.attempts + 1;
  int max_attempts = plan.max_other_attempts;
  Millis delay;
  std::string kind;
  if (error.IsTransient()) {
    max_attempts = plan.max_transient_attempts;
    const double exp =
        std::min<double>(static_cast<double>(plan.cap.count()),
                         static_cast<double>(plan.base.count()) * (1 << std::min(attempt, 20)));
    // Half fixed, half jitter: spreads many jobs hitting one outage.
    delay = Millis(static_cast<int64_t>(exp / 2 + DefaultRandom().Uniform(0, exp / 2)));
    if (error.retry_after) delay = std::max(delay, Millis(error.retry_after->count() * 1000));
    kind = "retrying";
  } else if (error.code == ErrorCode::kUnauthenticated ||
             error.code == ErrorCode::kPermissionDenied) {
    max_attempts = plan.max_blocked_attempts;
    delay = plan.blocked_wait;
    kind = "blocked";
  } else {
    delay = std::min(plan.cap, Millis(plan.base.count() * (1 << std::min(attempt, 10))));
    kind = "retrying";
  }
  if (attempt > max_attempts && !local_wait) {
    r.state = "failed";
    r.final = true;
    r.reason = fmt::format("{} failed {} times, giving up: {}", what, attempt, error.ToString());
    return r;
  }
  r.delay = delay;
  if (local_wait) {
    r.reason = fmt::format("{} (waiting for a free slot, next try in {} s): {}", what,
                           delay.count() / 1000, error.ToString());
    return r;
  }
  r.reason = fmt::format("{} ({} {}/{}, next in {} s): {}", what, kind, attempt, max_attempts,
                         delay.count() / 1000, error.ToString());
  return r;
}

}  // namespace vc::jobs
