// How a failed step turns into a later attempt. Transient trouble (throttling, outages) backs
// off exponentially and honours Retry-After; configuration trouble (a rejected key, a missing
// permission) waits long so an operator can fix it without losing the alert; anything else
// gets a few tries and then fails the job with the error's message.
#pragma once

#include <string>

#include "core/result.hpp"
#include "jobs/handler.hpp"

namespace vc::jobs {

struct RetryPlan {
  int max_transient_attempts = 40;  // ~8 h at the 15 min cap
  int max_blocked_attempts = 48;    // a day at 30 min
  int max_other_attempts = 3;
  Millis base{5'000};
  Millis cap{15 * 60'000};
  Millis blocked_wait{30 * 60'000};
};

// Result for "this step failed with `error`; try the same step (state) again later".
StepResult RetryStep(const store::Job& job, const Error& error, const std::string& what,
                     const RetryPlan& plan = {});

}  // namespace vc::jobs
