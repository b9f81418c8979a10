// Client-side rate limits, shared by every worker, so the connector runs at an API's documented
// limit without ever being answered 429.
//
// Each window is a bucket of `limit` tokens in which a spent token comes back exactly `period`
// after it was spent. That is the token bucket that is safe against a *sliding* window: a
// classic bucket refilling at limit/period can let 2x limit through in one window (a full
// bucket plus its refill), which MDE would answer with 429.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace vc::http {

struct RateWindow {
  int limit = 0;
  Millis period{0};
};

class RateLimiter {
 public:
  RateLimiter(std::string name, std::vector<RateWindow> windows, Clock& clock);

  // Takes a token if one is free now (returns 0) or returns how long until one is free
  // (nothing taken).
  Millis TryAcquire();
  // How long until a token is free (0: now), taking nothing: a caller that would do other
  // limited work before this call (list the device's actions before starting Live Response)
  // asks first, instead of spending that work on a call that would be held back.
  Millis FreeIn();
  // Fraction of the tightest window in use right now (for the utilisation metric).
  double Utilisation();
  const std::string& name() const { return name_; }

 private:
  void Expire(TimePoint now);
  Millis WaitLocked(TimePoint now);

  std::string name_;
  std::vector<RateWindow> windows_;
  Clock& clock_;
  std::mutex mu_;
  std::vector<std::deque<TimePoint>> spent_;  // per window, times tokens were spent
};

// Limiters by operation key ("mde.alerts.update", ...). Operations without an entry are free.
class RateLimiterRegistry {
 public:
  explicit RateLimiterRegistry(Clock& clock) : clock_(clock) {}
  void Define(const std::string& key, std::vector<RateWindow> windows);
  RateLimiter* Find(const std::string& key) const;
  std::vector<RateLimiter*> All() const;

 private:
  Clock& clock_;
  std::map<std::string, std::unique_ptr<RateLimiter>> limiters_;
};

// The documented MDE API limits (api-reference.md 2.2), keyed "mde.<operation>".
void DefineMdeLimits(RateLimiterRegistry& registry);

}  // namespace vc::http
