// Injectable time. Everything that waits or stamps a time takes a Clock, so tests run with no
// real sleeps and can jump hours ahead (analysis timeouts, token expiry, rate-limit windows).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace vc {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Blocks the calling thread (short waits only: retry back-off inside one job step).
  virtual void SleepFor(Millis duration) = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Millis duration) override;
};

// A clock that only moves when told to. SleepFor advances it immediately and records the wait,
// so a test can assert the exact back-off sequence a retry policy chose.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::seconds{1'700'000'000}});
  TimePoint Now() const override;
  void SleepFor(Millis duration) override;
  void Advance(Millis duration);
  void Set(TimePoint t);
  std::vector<Millis> Sleeps() const;

 private:
  mutable std::mutex mu_;
  TimePoint now_;
  std::vector<Millis> sleeps_;
};

// Process-wide default for code that has no clock injected (main wiring only).
Clock& DefaultClock();

inline int64_t ToUnixMillis(TimePoint t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixMillis(int64_t ms) {
  return TimePoint{Millis{ms}};
}

}  // namespace vc
