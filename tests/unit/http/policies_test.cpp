#include "http/policies.hpp"

#include <gtest/gtest.h>

#include "scripted_transport.hpp"

namespace vc::http {
namespace {

using testing::ScriptedTransport;

class StaticCredential final : public Credential {
 public:
  explicit StaticCredential(bool can_refresh) : can_refresh_(can_refresh) {}
  Result<std::string> AuthorizationHeader() override {
    return "Bearer token-" + std::to_string(refreshes);
  }
  Result<std::string> AfterRejection(const std::string& rejected) override {
    last_rejected = rejected;
    ++refreshes;
    return AuthorizationHeader();
  }
  std::string last_rejected;
  bool CanRefresh() const override { return can_refresh_; }
  int refreshes = 0;

 private:
  bool can_refresh_;
};

struct Fixture {
  ManualClock clock;
  SeededRandom random{7};
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();

  Pipeline Make(RetryOptions options, std::shared_ptr<Credential> credential = nullptr) {
    std::vector<std::shared_ptr<Policy>> policies;
    policies.push_back(std::make_shared<RequestIdPolicy>(random));
    policies.push_back(std::make_shared<UserAgentPolicy>("vmray-connector/test"));
    policies.push_back(std::make_shared<RetryPolicy>(options, clock, random));
    if (credential) policies.push_back(std::make_shared<AuthPolicy>(credential));
    return Pipeline(policies, transport);
  }
};

Request Get() {
  Request r;
  r.url = "https://api.example/x";
  r.service = "test";
  r.operation = "get";
  return r;
}

TEST(RetryPolicy, RetriesServerErrorsWithJitteredBackoff) {
  Fixture f;
  f.transport->ThenStatus(503);
  f.transport->ThenStatus(502);
  f.transport->ThenStatus(200);
  auto p = f.Make({});
  auto r = p.Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(f.transport->sent().size(), 3u);
  auto sleeps = f.clock.Sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LT(sleeps[0].count(), 1000);  // full jitter within base * 2^0
  EXPECT_LT(sleeps[1].count(), 2000);  // within base * 2^1
  // Same request id and user agent on every attempt.
  EXPECT_EQ(f.transport->sent()[0].headers.Get("client-request-id"),
            f.transport->sent()[2].headers.Get("client-request-id"));
  EXPECT_EQ(f.transport->sent()[0].headers.Get("User-Agent"), "vmray-connector/test");
}

TEST(RetryPolicy, HonoursRetryAfterSeconds) {
  Fixture f;
  f.transport->ThenStatus(429, {{"Retry-After", "7"}});
  f.transport->ThenStatus(200);
  auto r = f.Make({}).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(f.clock.Sleeps(), std::vector<Millis>{Millis(7000)});
}

TEST(RetryPolicy, HonoursRetryAfterHttpDate) {
  Fixture f;
  // ManualClock starts at 1700000000 = Tue, 14 Nov 2023 22:13:20 GMT.
  f.transport->ThenStatus(503, {{"Retry-After", "Tue, 14 Nov 2023 22:13:32 GMT"}});
  f.transport->ThenStatus(200);
  ASSERT_TRUE(f.Make({}).Send(Get()));
  EXPECT_EQ(f.clock.Sleeps(), std::vector<Millis>{Millis(12000)});
}

TEST(RetryPolicy, LongRetryAfterGoesBackToTheCallerInsteadOfSleeping) {
  Fixture f;
  f.transport->ThenStatus(429, {{"Retry-After", "120"}});
  auto r = f.Make({}).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_TRUE(f.clock.Sleeps().empty());
  EXPECT_EQ(f.transport->sent().size(), 1u);
}

TEST(RetryPolicy, StopsAtMaxRetries) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.transport->ThenStatus(500);
  RetryOptions o;
  o.max_retries = 2;
  auto r = f.Make(o).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(f.transport->sent().size(), 3u);
}

TEST(RetryPolicy, StopsWhenTheBudgetIsSpent) {
  Fixture f;
  f.transport->ThenStatus(503, {{"Retry-After", "20"}});
  f.transport->ThenStatus(503, {{"Retry-After", "20"}});
  f.transport->ThenStatus(200);
  RetryOptions o;
  o.total_budget = Millis(30'000);
  auto r = f.Make(o).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(f.transport->sent().size(), 2u);
  EXPECT_EQ(f.clock.Sleeps(), std::vector<Millis>{Millis(20000)});
}

TEST(RetryPolicy, NonIdempotentPostIsNotRepeatedAfterAmbiguousFailure) {
  Fixture f;
  f.transport->ThenStatus(503);
  Request post = Get();
  post.method = Method::kPost;
  auto r = f.Make({}).Send(post);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(f.transport->sent().size(), 1u);
}

TEST(RetryPolicy, NonIdempotentPostIsRepeatedAfter429AndConnectFailure) {
  Fixture f;
  f.transport->ThenStatus(429, {{"Retry-After", "1"}});
  f.transport->ThenError(ErrorCode::kUnavailable, std::string(kTransportConnect));
  f.transport->ThenStatus(201);
  Request post = Get();
  post.method = Method::kPost;
  auto r = f.Make({}).Send(post);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(f.transport->sent().size(), 3u);
}

TEST(RetryPolicy, NonIdempotentPostNotRepeatedAfterLostAnswer) {
  Fixture f;
  f.transport->ThenError(ErrorCode::kUnavailable, std::string(kTransportIo));
  Request post = Get();
  post.method = Method::kPost;
  auto r = f.Make({}).Send(post);
  ASSERT_FALSE(r);
  EXPECT_EQ(f.transport->sent().size(), 1u);
}

TEST(RetryPolicy, TransportTimeoutRetriedForGet) {
  Fixture f;
  f.transport->ThenError(ErrorCode::kTimeout, std::string(kTransportTimeout));
  f.transport->ThenStatus(200);
  auto r = f.Make({}).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(f.transport->sent().size(), 2u);
}

TEST(RetryPolicy, ClientErrorsAreNotRetried) {
  Fixture f;
  f.transport->ThenStatus(404);
  auto r = f.Make({}).Send(Get());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(f.transport->sent().size(), 1u);
}

TEST(AuthPolicy, RefreshesOnceOn401) {
  Fixture f;
  auto cred = std::make_shared<StaticCredential>(true);
  f.transport->ThenStatus(401);
  f.transport->ThenStatus(200);
  auto r = f.Make({}, cred).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(cred->refreshes, 1);
  EXPECT_EQ(f.transport->sent()[0].headers.Get("Authorization"), "Bearer token-0");
  EXPECT_EQ(f.transport->sent()[1].headers.Get("Authorization"), "Bearer token-1");
  EXPECT_EQ(cred->last_rejected, "Bearer token-0") << "the credential learns which header failed";
}

TEST(AuthPolicy, NeverLoopsOnPersistent401) {
  Fixture f;
  auto cred = std::make_shared<StaticCredential>(true);
  f.transport->ThenStatus(401);
  f.transport->ThenStatus(401);
  auto r = f.Make({}, cred).Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(f.transport->sent().size(), 2u);
  EXPECT_EQ(cred->refreshes, 1);
}

TEST(AuthPolicy, ApiKeysAreNotRefreshed) {
  Fixture f;
  auto cred = std::make_shared<StaticCredential>(false);
  f.transport->ThenStatus(401);
  auto r = f.Make({}, cred).Send(Get());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(f.transport->sent().size(), 1u);
}

TEST(RateLimitPolicy, WaitsInlineForShortWaitsAndDefersLongOnes) {
  ManualClock clock;
  auto limiters = std::make_shared<RateLimiterRegistry>(clock);
  limiters->Define("test.get", {{2, std::chrono::seconds(10)}});
  auto transport = std::make_shared<ScriptedTransport>();
  for (int i = 0; i < 4; ++i) transport->ThenStatus(200);
  Pipeline p({std::make_shared<RateLimitPolicy>(limiters, clock, Millis(15'000))}, transport);
  ASSERT_TRUE(p.Send(Get()));
  ASSERT_TRUE(p.Send(Get()));
  ASSERT_TRUE(p.Send(Get()));  // third waits 10 s inline
  EXPECT_EQ(clock.Sleeps(), std::vector<Millis>{Millis(10'000)});

  Pipeline strict({std::make_shared<RateLimitPolicy>(limiters, clock, Millis(1'000))}, transport);
  // At t=10 s the two t=0 tokens are back and one is spent: one more fits, then a 10 s wait.
  ASSERT_TRUE(strict.Send(Get()));
  auto r2 = strict.Send(Get());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, ErrorCode::kRateLimited);
  ASSERT_TRUE(r2.error().retry_after);
  EXPECT_EQ(r2.error().retry_after->count(), 10);
  EXPECT_EQ(transport->sent().size(), 4u);
}

// A caller that took the token itself (RateLimiter::TryAcquire) is not charged twice; a retry of
// the same request inside the pipeline is.
TEST(RateLimitPolicy, PrepaidRequestPassesOnceAndItsRetryPays) {
  ManualClock clock;
  SeededRandom random{7};
  auto limiters = std::make_shared<RateLimiterRegistry>(clock);
  limiters->Define("test.get", {{1, std::chrono::seconds(60)}});
  RateLimiter* limiter = limiters->Find("test.get");
  auto transport = std::make_shared<ScriptedTransport>();
  transport->ThenStatus(503);
  transport->ThenStatus(200);
  RetryOptions retry;
  retry.max_retries = 1;
  Pipeline p({std::make_shared<RetryPolicy>(retry, clock, random),
              std::make_shared<RateLimitPolicy>(limiters, clock, Millis(0))},
             transport);
  ASSERT_EQ(limiter->TryAcquire(), Millis(0));  // the caller's token: the only one this minute
  Request r = Get();
  r.rate_limit_prepaid = true;
  auto sent = p.Send(r);
  ASSERT_FALSE(sent);  // the first attempt went out on the caller's token, the retry found none
  EXPECT_EQ(sent.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(transport->sent().size(), 1u);
}

}  // namespace
}  // namespace vc::http

namespace vc::http {
namespace {

// A Retry-After too long to wait inline goes back to the caller as delta-seconds on the
// pipeline's own clock, whatever form the server used.
TEST(RetryPolicy, LongHttpDateRetryAfterIsHandedOnAsSeconds) {
  ManualClock clock;  // 1700000000 = Tue, 14 Nov 2023 22:13:20 GMT
  SeededRandom random(1);
  auto transport = std::make_shared<testing::ScriptedTransport>();
  transport->ThenStatus(429, {{"Retry-After", "Tue, 14 Nov 2023 22:15:20 GMT"}});
  Pipeline p({std::make_shared<RetryPolicy>(RetryOptions{}, clock, random)}, transport);
  Request r;
  r.url = "https://x/y";
  auto resp = p.Send(r);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 429);
  EXPECT_EQ(resp->headers.Get("Retry-After"), "120");
  EXPECT_TRUE(clock.Sleeps().empty());
}

}  // namespace
}  // namespace vc::http
