// Live Response sessions this connector holds open, counted exactly. MDE allows 25 concurrent
// sessions per tenant and answers 429 beyond; counting rows before each start overshoots (many
// workers read the same count) and costs a table scan per attempt. A job takes a slot before it
// starts a session and gives it back when it leaves `collection_pending`; at start-up the count
// is rebuilt from the jobs that are in that state.
#pragma once

#include <mutex>

namespace vc::defender {

class SessionGate {
 public:
  explicit SessionGate(int limit) : limit_(limit) {}

  void Reset(int in_flight) {
    std::lock_guard lock(mu_);
    in_flight_ = in_flight;
  }
  bool TryAcquire() {
    std::lock_guard lock(mu_);
    if (in_flight_ >= limit_) return false;
    ++in_flight_;
    return true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    if (in_flight_ > 0) --in_flight_;
  }
  int in_flight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }
  int limit() const { return limit_; }

 private:
  const int limit_;
  mutable std::mutex mu_;
  int in_flight_ = 0;
};

}  // namespace vc::defender
