// What a pipeline plugs into the job engine: a JobHandler runs one short step of a job and says
// what comes next; an OutboxHandler delivers one write-back. Neither ever sleeps waiting for
// the outside world: waiting is a next_attempt_at.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace vc::jobs {

struct StepContext {
  const store::Job& job;
  TimePoint now;
  // Persists the payload before the step does something that must not be repeated blindly
  // (a submission): a crash after the call is then recognisable on the next attempt.
  std::function<Status(const std::string& payload)> checkpoint;
};

struct StepResult {
  std::string state;
  std::string reason;
  std::optional<std::string> payload;  // nullopt: unchanged
  Millis delay{0};                     // next attempt after this long (0: at once)
  bool final = false;
  bool progressed = true;  // false: same step failed again (attempts + 1), true: attempts reset
  std::vector<store::NewOutboxItem> outbox;  // enqueued in the same transaction as the update
};

class JobHandler {
 public:
  virtual ~JobHandler() = default;
  virtual std::string kind() const = 0;
  virtual StepResult Step(const StepContext& ctx) = 0;
};

struct Delivery {
  enum class Outcome { kDone, kRetry, kFailed } outcome = Outcome::kDone;
  std::string reason;
  Millis delay{0};
  // The owning job's last step (set for kDone and kFailed).
  std::string job_state;
  std::string job_reason;
};

class OutboxHandler {
 public:
  virtual ~OutboxHandler() = default;
  virtual std::string kind() const = 0;
  virtual Delivery Deliver(const store::OutboxItem& item, TimePoint now) = 0;
};

}  // namespace vc::jobs
