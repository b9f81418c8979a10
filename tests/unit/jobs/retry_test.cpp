#include "jobs/retry.hpp"

#include <gtest/gtest.h>

namespace vc::jobs {
namespace {

store::Job JobAt(int attempts) {
  store::Job j;
  j.state = "looking_up";
  j.attempts = attempts;
  return j;
}

TEST(RetryStep, TransientErrorsBackOffAndHonourRetryAfter) {
  Error e = MakeError(ErrorCode::kRateLimited, "slow down");
  e.service = "vmray";
  e.retry_after = std::chrono::seconds(90);
  StepResult r = RetryStep(JobAt(0), e, "VMRay hash lookup");
  EXPECT_EQ(r.state, "looking_up");
  EXPECT_FALSE(r.final);
  EXPECT_FALSE(r.progressed);
  EXPECT_GE(r.delay, Millis(90'000));
  EXPECT_NE(r.reason.find("VMRay hash lookup"), std::string::npos);
  EXPECT_NE(r.reason.find("retrying 1/40"), std::string::npos);
}

TEST(RetryStep, OurOwnRateLimitIsWaitedForButNeverGivenUpOn) {
  Error e = MakeError(ErrorCode::kRateLimited,
                      "local rate limit mde.liveresponse.run reached; next slot in 17 s");
  e.service_code = std::string(kLocalRateLimitCode);
  e.retry_after = std::chrono::seconds(17);
  // Far past the attempts any service error gets, the job still waits (backed off, at least
  // until the limiter's next slot) instead of failing.
  StepResult r = RetryStep(JobAt(100), e, "starting Live Response");
  EXPECT_EQ(r.state, "looking_up");
  EXPECT_FALSE(r.final);
  EXPECT_GE(r.delay, Millis(17'000));
  EXPECT_LE(r.delay, RetryPlan{}.cap);
  EXPECT_NE(r.reason.find("waiting for a free slot"), std::string::npos) << r.reason;
  // A throttling answer from the service itself still gives up in the end.
  Error service = e;
  service.service_code.clear();
  EXPECT_TRUE(RetryStep(JobAt(100), service, "starting Live Response").final);
}

TEST(RetryStep, ConfigurationTroubleWaitsLongThenGivesUp) {
  Error e = MakeError(ErrorCode::kUnauthenticated, "key rejected");
  StepResult blocked = RetryStep(JobAt(3), e, "VMRay hash lookup");
  EXPECT_EQ(blocked.delay, Millis(30 * 60'000));
  EXPECT_NE(blocked.reason.find("blocked"), std::string::npos);
  StepResult given_up = RetryStep(JobAt(48), e, "VMRay hash lookup");
  EXPECT_TRUE(given_up.final);
  EXPECT_EQ(given_up.state, "failed");
  EXPECT_NE(given_up.reason.find("key rejected"), std::string::npos);
}

TEST(RetryStep, OtherErrorsGetAFewTries) {
  Error e = MakeError(ErrorCode::kProtocol, "data.sample_id: required field is missing");
  EXPECT_FALSE(RetryStep(JobAt(2), e, "x").final);
  EXPECT_TRUE(RetryStep(JobAt(3), e, "x").final);
}

TEST(RetryStep, BackoffIsCapped) {
  Error e = MakeError(ErrorCode::kUnavailable, "down");
  StepResult r = RetryStep(JobAt(30), e, "x");
  EXPECT_LE(r.delay, Millis(15 * 60'000));
  EXPECT_GE(r.delay, Millis(15 * 60'000 / 2));
}

}  // namespace
}  // namespace vc::jobs
