#include "core/clock.hpp"

#include <thread>

namespace vc {

void SystemClock::SleepFor(Millis duration) {
  if (duration.count() > 0) std::this_thread::sleep_for(duration);
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

TimePoint ManualClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void ManualClock::SleepFor(Millis duration) {
  std::lock_guard lock(mu_);
  sleeps_.push_back(duration);
  now_ += duration;
}

void ManualClock::Advance(Millis duration) {
  std::lock_guard lock(mu_);
  now_ += duration;
}

void ManualClock::Set(TimePoint t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

std::vector<Millis> ManualClock::Sleeps() const {
  std::lock_guard lock(mu_);
  return sleeps_;
}

Clock& DefaultClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace vc
