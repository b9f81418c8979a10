#include "http/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace vc::http {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(RateLimiter, NeverExceedsTheLimitInAnySlidingWindow) {
  ManualClock clock;
  RateLimiter limiter("t", {{10, minutes(1)}}, clock);
  std::vector<TimePoint> granted;
  // Ask every 100 ms for 5 minutes.
  for (int i = 0; i < 3000; ++i) {
    if (limiter.TryAcquire().count() == 0) granted.push_back(clock.Now());
    clock.Advance(Millis(100));
  }
  ASSERT_EQ(granted.size(), 50u);  // exactly the limit: 10 per minute for 5 minutes
  for (size_t i = 10; i < granted.size(); ++i) {
    EXPECT_GE(granted[i] - granted[i - 10], minutes(1));
  }
}

TEST(RateLimiter, ReportsTheWaitUntilTheNextToken) {
  ManualClock clock;
  RateLimiter limiter("t", {{2, seconds(10)}}, clock);
  EXPECT_EQ(limiter.TryAcquire(), Millis(0));
  clock.Advance(seconds(3));
  EXPECT_EQ(limiter.TryAcquire(), Millis(0));
  EXPECT_EQ(limiter.TryAcquire(), Millis(7000));
  EXPECT_DOUBLE_EQ(limiter.Utilisation(), 1.0);
  clock.Advance(seconds(7));
  EXPECT_EQ(limiter.TryAcquire(), Millis(0));
}

TEST(RateLimiter, TightestOfSeveralWindowsWins) {
  ManualClock clock;
  RateLimiter limiter("t", {{100, minutes(1)}, {150, minutes(60)}}, clock);
  int granted = 0;
  for (int i = 0; i < 60 * 60; ++i) {  // one try per second for an hour
    if (limiter.TryAcquire().count() == 0) ++granted;
    clock.Advance(seconds(1));
  }
  EXPECT_EQ(granted, 150);
}

TEST(RateLimiterRegistry, MdeLimitsAreDefined) {
  ManualClock clock;
  RateLimiterRegistry r(clock);
  DefineMdeLimits(r);
  ASSERT_NE(r.Find("mde.liveresponse.run"), nullptr);
  ASSERT_NE(r.Find("mde.alerts.update"), nullptr);
  EXPECT_EQ(r.Find("vmray.sample.get"), nullptr);
  auto* lr = r.Find("mde.liveresponse.run");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lr->TryAcquire(), Millis(0));
  EXPECT_GT(lr->TryAcquire().count(), 0);
}

}  // namespace
}  // namespace vc::http
