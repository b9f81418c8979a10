// EntraTokenCache against the Entra emulator: v1 and v2 request shapes, caching, refresh ahead
// of expiry, one fetch for many concurrent callers, a refresh that replaces only the rejected
// token, and the errors a misconfigured app registration produces. The client secret carries
// DO-NOT-LOG and must never reach an error, a log line or the emulator's call log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "contract/contract_support.hpp"

namespace vc::contract {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr const char* kMde = "https://api.securitycenter.microsoft.com";
constexpr const char* kSentinel = "https://management.azure.com";

class EntraContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
  }

  emu::EntraEmulator& entra() { return emulators().entra(); }

  // The settings the daemon passes (azure.*), pointing at the emulator as a sovereign cloud.
  auth::EntraOptions Options(const std::string& version = "v2") {
    const auto& o = entra().options();
    auth::EntraOptions options;
    options.authority_host = entra().BaseUrl();
    options.tenant_id = o.tenant_id;
    options.client_id = o.client_id;
    options.client_secret = Secret<>(o.client_secret);
    options.token_version = version;
    return options;
  }

  // As app/daemon.cpp builds it: the shared pipeline without a credential.
  std::unique_ptr<auth::EntraTokenCache> MakeCache(auth::EntraOptions options,
                                                   const ClientSetup& setup = {}) {
    return std::make_unique<auth::EntraTokenCache>(
        std::move(options), MakePipeline(setup, kUserAgent, nullptr), clock_);
  }

  size_t Requests() { return entra().Calls().size(); }

  // Whether the service emulators would accept `token` for `resource` now.
  bool Accepted(const std::string& token, const std::string& resource) {
    return emulators().tokens().Validate(token, {resource}, clock_.Now()) ==
           emu::TokenRegistry::Check::kValid;
  }
};

TEST_F(EntraContractTest, V2RequestsScopeDotDefaultInAFormBody) {
  auto cache = MakeCache(Options("v2"));
  auto token = cache->Token(kMde);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(Accepted(*token, kMde));

  const auto calls = entra().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_EQ(calls[0].path, "/" + entra().options().tenant_id + "/oauth2/v2.0/token");
  EXPECT_EQ(calls[0].query, "");  // a secret in a URL ends up in proxy logs
  EXPECT_EQ(calls[0].auth, "none");
  EXPECT_EQ(calls[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(calls[0].status, 200);
  EXPECT_EQ(DecodePairs(calls[0].body), (Pairs{{"grant_type", "client_credentials"},
                                               {"client_id", entra().options().client_id},
                                               {"client_secret", "[redacted]"},
                                               {"scope", std::string(kMde) + "/.default"}}));
  EXPECT_EQ(entra().StateJson()["tokens_issued"][kMde], 1);
}

TEST_F(EntraContractTest, V2ScopeOfAResourceWithTrailingSlashHasOneSlash) {
  auto cache = MakeCache(Options("v2"));
  auto token = cache->Token(std::string(kSentinel) + "/");
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(Accepted(*token, kSentinel));
  const auto calls = entra().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(OnlyValue(DecodePairs(calls[0].body), "scope"), std::string(kSentinel) + "/.default");
}

TEST_F(EntraContractTest, V1RequestsResourceAndReadsStringNumbers) {
  auto cache = MakeCache(Options("v1"));
  auto token = cache->Token(kMde);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(Accepted(*token, kMde));

  const auto calls = entra().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].path, "/" + entra().options().tenant_id + "/oauth2/token");
  EXPECT_EQ(calls[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(DecodePairs(calls[0].body), (Pairs{{"grant_type", "client_credentials"},
                                               {"client_id", entra().options().client_id},
                                               {"client_secret", "[redacted]"},
                                               {"resource", kMde}}));
  // v1 writes expires_in as a string; read right, the token is cached for its life.
  clock_.Advance(minutes(50));
  auto again = cache->Token(kMde);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *token);
  EXPECT_EQ(Requests(), 1u);
}

TEST_F(EntraContractTest, TokenIsCachedPerResource) {
  auto cache = MakeCache(Options());
  auto first = cache->Token(kMde);
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = cache->Token(kMde);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(Requests(), 1u);

  auto other = cache->Token(kSentinel);
  ASSERT_TRUE(other) << other.error().ToString();
  EXPECT_NE(*other, *first);
  EXPECT_TRUE(Accepted(*other, kSentinel));
  EXPECT_FALSE(Accepted(*other, kMde));
  EXPECT_EQ(Requests(), 2u);
}

TEST_F(EntraContractTest, TokenIsRefreshedFiveMinutesBeforeExpiry) {
  const seconds life(entra().options().token_lifetime_seconds);
  auto cache = MakeCache(Options());
  auto first = cache->Token(kMde);
  ASSERT_TRUE(first) << first.error().ToString();

  clock_.Advance(life - minutes(5) - seconds(1));
  auto cached = cache->Token(kMde);
  ASSERT_TRUE(cached) << cached.error().ToString();
  EXPECT_EQ(*cached, *first);
  EXPECT_EQ(Requests(), 1u);

  clock_.Advance(seconds(1));  // exactly five minutes before expiry
  auto fresh = cache->Token(kMde);
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_NE(*fresh, *first);
  EXPECT_TRUE(Accepted(*fresh, kMde));
  EXPECT_EQ(Requests(), 2u);
}

TEST_F(EntraContractTest, RefreshReplacesOnlyTheRejectedToken) {
  auto cache = MakeCache(Options());
  auto first = cache->Token(kMde);
  ASSERT_TRUE(first) << first.error().ToString();
  // A service rejected the token: fetch a new one, even seconds after the first.
  auto second = cache->Refresh(kMde, *first);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_NE(*second, *first);
  EXPECT_EQ(Requests(), 2u);
  // Another worker also saw a 401 for the old token: it gets the new one, no fetch.
  auto shared = cache->Refresh(kMde, *first);
  ASSERT_TRUE(shared) << shared.error().ToString();
  EXPECT_EQ(*shared, *second);
  EXPECT_EQ(Requests(), 2u);
  // The new token rejected too: one more fetch.
  auto third = cache->Refresh(kMde, *second);
  ASSERT_TRUE(third) << third.error().ToString();
  EXPECT_NE(*third, *second);
  EXPECT_EQ(Requests(), 3u);
  EXPECT_EQ(*cache->Token(kMde), *third);
}

TEST_F(EntraContractTest, SixteenConcurrentCallersShareOneTokenRequest) {
  auto cache = MakeCache(Options());
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::vector<std::string> tokens(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto token = cache->Token(kMde);
      tokens[i] = token ? *token : "error: " + token.error().ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(tokens, Each(Eq(tokens[0])));
  EXPECT_TRUE(Accepted(tokens[0], kMde)) << tokens[0];
  EXPECT_EQ(Requests(), 1u);
}

TEST_F(EntraContractTest, WrongSecretIsUnauthenticatedAndNeverShown) {
  auth::EntraOptions options = Options();
  const std::string wrong = "wrong-client-secret-DO-NOT-LOG";
  options.client_secret = Secret<>(wrong);
  auto cache = MakeCache(options);
  auto token = cache->Token(kMde);
  ASSERT_FALSE(token);
  const Error& e = Seen(token.error());
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated) << e.ToString();
  EXPECT_EQ(e.service, "entra");
  EXPECT_EQ(e.http_status, 401);
  EXPECT_EQ(e.service_code, "invalid_client");
  EXPECT_THAT(e.message, HasSubstr("AzureClientSecret"));
  EXPECT_THAT(e.message, HasSubstr("AADSTS7000215"));
  EXPECT_FALSE(e.request_id.empty());  // Entra's correlation id, for a support ticket
  EXPECT_THAT(e.ToString(), Not(HasSubstr(wrong)));
  // Credentials do not get better by asking again.
  const auto calls = entra().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_THAT(calls[0].body, Not(HasSubstr(wrong)));
  EXPECT_EQ(OnlyValue(DecodePairs(calls[0].body), "client_secret"), "[redacted]");
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
  EXPECT_EQ(entra().StateJson()["errors"]["invalid_client"], 1);
}

TEST_F(EntraContractTest, UnknownTenantIsInvalidArgumentNamingTheSetting) {
  auth::EntraOptions options = Options();
  options.tenant_id = "00000000-0000-4000-8000-000000000bad";
  auto cache = MakeCache(options);
  auto token = cache->Token(kMde);
  ASSERT_FALSE(token);
  const Error& e = Seen(token.error());
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << e.ToString();
  EXPECT_EQ(e.http_status, 400);
  EXPECT_THAT(e.message, HasSubstr("AzureTenantID"));
  EXPECT_THAT(e.message, HasSubstr("AADSTS90002"));
  EXPECT_EQ(Requests(), 1u);
}

TEST_F(EntraContractTest, UnknownResourceIsInvalidArgumentInBothVersions) {
  for (const std::string version : {"v1", "v2"}) {
    auto cache = MakeCache(Options(version));
    auto token = cache->Token("https://unknown.example.com");
    ASSERT_FALSE(token) << version;
    const Error& e = Seen(token.error());
    EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << e.ToString();
    EXPECT_EQ(e.service_code, "invalid_resource") << version;
    EXPECT_THAT(e.message, HasSubstr("https://unknown.example.com"));
  }
  EXPECT_EQ(Requests(), 2u);
}

TEST_F(EntraContractTest, TokenEndpoint503IsRetried) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/oauth2/v2\\.0/token$";
  rule.status = 503;
  entra().AddFault(rule);
  auto cache = MakeCache(Options());
  auto token = cache->Token(kMde);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(Accepted(*token, kMde));
  EXPECT_THAT(StatusesOf(entra().Calls()), ElementsAre(503, 200));
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(EntraContractTest, TokenEndpointDownIsUnavailableAfterTheRetries) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/oauth2/v2\\.0/token$";
  rule.status = 503;
  rule.times = -1;
  entra().AddFault(rule);
  ClientSetup setup;
  setup.retry.max_retries = 2;
  auto cache = MakeCache(Options(), setup);
  auto token = cache->Token(kMde);
  ASSERT_FALSE(token);
  const Error& e = Seen(token.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.service_code, "temporarily_unavailable");
  EXPECT_THAT(StatusesOf(entra().Calls()), ElementsAre(503, 503, 503));
}

TEST_F(EntraContractTest, AuthorityHostIsConfigurable) {
  // A sovereign cloud's authority, written with a trailing slash as portals show it.
  auth::EntraOptions options = Options();
  options.authority_host = entra().BaseUrl() + "/";
  auto cache = MakeCache(options);
  auto token = cache->Token(kMde);
  ASSERT_TRUE(token) << token.error().ToString();
  const auto calls = entra().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].path, "/" + options.tenant_id + "/oauth2/v2.0/token");
}

TEST_F(EntraContractTest, RotatedSecretTakesEffectWithoutLeakingEitherValue) {
  auto cache = MakeCache(Options());
  auto first = cache->Token(kMde);
  ASSERT_TRUE(first);
  // The secret is rotated in Entra but not yet in the connector's settings.
  Seed({{"entra", {{"client_secret", "rotated-secret-DO-NOT-LOG"}}}});
  auto token = cache->Refresh(kMde, *first);
  ASSERT_FALSE(token);
  const Error& e = Seen(token.error());
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated) << e.ToString();
  EXPECT_THAT(e.message, HasSubstr("AzureClientSecret"));
  EXPECT_EQ(Requests(), 2u);
}

}  // namespace
}  // namespace vc::contract
