// The MDE indicator calls (clients/defender/indicators.hpp) against the MDE and Entra emulators,
// wired as the daemon wires them: request shapes read back from the call log, per-item
// failures, nextLink paging, a 429 between two import batches, the local 30/min import limiter
// and BatchDelete's answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/defender/indicators.hpp"
#include "contract/contract_support.hpp"
#include "http/rate_limiter.hpp"

namespace vc::contract {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr const char* kResource = "https://api.securitycenter.microsoft.com";

std::string Hex64(int n) {
  return fmt::format("{:064x}", n);
}

Json Body(const std::string& value, const std::string& type = "FileSha256") {
  return {{"indicatorValue", value},
          {"indicatorType", type},
          {"action", "Block"},
          {"application", "VMRayDefenderFoEndpointConnectorApp"},
          {"title", "Indicator based on VMRay Analyzer Report"},
          {"description", "test"},
          {"severity", "High"},
          {"expirationTime", "2099-01-01T00:00:00Z"},
          {"generateAlert", false}};
}

class MdeIndicatorsContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    Start(Json::object());
  }
  void TearDown() override {
    api_.reset();
    client_.reset();
    tokens_.reset();
    ContractTest::TearDown();
  }
  void Start(const Json& mde_options) {
    emu::EmulatorSetOptions options;
    options.mde = emu::MdeEmulator::Options::FromJson(mde_options);
    StartEmulators(std::move(options));
    const auto& e = emulators().entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators().entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    tokens_ = std::make_shared<auth::EntraTokenCache>(entra, MakePipeline({}, kUserAgent, nullptr),
                                                      clock_);
    auto limiters = std::make_shared<http::RateLimiterRegistry>(clock_);
    http::DefineMdeLimits(*limiters);
    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kResource);
    client_ = std::make_unique<mde::Client>(mde().BaseUrl(),
                                            MakePipeline({}, kMdeUserAgent, credential, limiters),
                                            MakePipeline({}, kMdeUserAgent, nullptr));
    api_ = std::make_unique<mde::IndicatorApi>(*client_);
  }
  emu::MdeEmulator& mde() { return emulators().mde(); }
  Json State() { return mde().StateJson()["indicators"]; }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<mde::Client> client_;
  std::unique_ptr<mde::IndicatorApi> api_;
};

TEST_F(MdeIndicatorsContractTest, ImportSendsTheDocumentedBodyAndReadsPerItemResults) {
  auto results = api_->Import(
      Json::array({Body(Hex64(1)), Body("not-a-hash"), Body("evil.example", "DomainName")}));
  ASSERT_TRUE(results) << results.error().ToString();
  ASSERT_THAT(*results, SizeIs(3));
  EXPECT_FALSE((*results)[0].failed);
  EXPECT_EQ((*results)[0].indicator, Hex64(1));
  EXPECT_FALSE((*results)[0].id.empty());
  EXPECT_TRUE((*results)[1].failed);
  EXPECT_EQ((*results)[1].indicator, "not-a-hash");
  EXPECT_THAT((*results)[1].failure_reason, HasSubstr("InvalidHashValue"));
  EXPECT_TRUE((*results)[1].id.empty());
  EXPECT_FALSE((*results)[2].failed);

  const auto calls = CallsTo(mde(), "POST", "^/api/indicators/import$");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].auth, "Bearer");
  EXPECT_THAT(calls[0].content_type, HasSubstr("application/json"));
  const Json sent = Json::parse(calls[0].body);
  ASSERT_TRUE(sent["Indicators"].is_array());
  EXPECT_EQ(sent["Indicators"][2]["indicatorType"], "DomainName");
  ASSERT_THAT(State(), SizeIs(2));
  EXPECT_EQ(State()[0]["id"], (*results)[0].id);
}

TEST_F(MdeIndicatorsContractTest, ImportRefusesEmptyAndOversizedBatchesWithoutACall) {
  Json many = Json::array();
  for (int i = 0; i < 501; ++i) many.push_back(Body(Hex64(i)));
  auto big = api_->Import(many);
  ASSERT_FALSE(big);
  EXPECT_EQ(Seen(big.error()).code, ErrorCode::kInvalidArgument);
  auto empty = api_->Import(Json::array());
  ASSERT_FALSE(empty);
  EXPECT_THAT(CallsTo(mde(), "POST", "^/api/indicators/import$"), SizeIs(0));
  // Exactly 500 is one call.
  many.erase(many.end() - 1);
  auto full = api_->Import(many);
  ASSERT_TRUE(full) << full.error().ToString();
  EXPECT_THAT(*full, SizeIs(500));
}

TEST_F(MdeIndicatorsContractTest, ListFollowsNextLinkAcrossPages) {
  Start({{"indicator_page_size", 2}});
  ASSERT_TRUE(api_->Import(Json::array({Body(Hex64(1)), Body(Hex64(2)), Body(Hex64(3)),
                                        Body("evil.example", "DomainName"), Body(Hex64(5))})));
  auto all = api_->List();
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_THAT(*all, SizeIs(5));
  EXPECT_EQ((*all)[3].value, "evil.example");
  EXPECT_EQ((*all)[3].type, "DomainName");
  EXPECT_EQ((*all)[0].application, "VMRayDefenderFoEndpointConnectorApp");
  EXPECT_EQ((*all)[0].severity, "High");
  EXPECT_TRUE((*all)[0].created.has_value());
  EXPECT_TRUE((*all)[0].expiration.has_value());
  const auto gets = CallsTo(mde(), "GET", "^/api/indicators$");
  ASSERT_THAT(gets, SizeIs(3));
  EXPECT_EQ(gets[0].query, "");
  EXPECT_THAT(gets[1].query, HasSubstr("skip=2"));
  EXPECT_THAT(gets[2].query, HasSubstr("skip=4"));

  auto domains = api_->List("indicatorType eq 'DomainName'");
  ASSERT_TRUE(domains) << domains.error().ToString();
  ASSERT_THAT(*domains, SizeIs(1));
  EXPECT_EQ((*domains)[0].value, "evil.example");
}

TEST_F(MdeIndicatorsContractTest, TooManyRequestsBetweenTwoBatchesWaitsAndLosesNothing) {
  ASSERT_TRUE(api_->Import(Json::array({Body(Hex64(1)), Body(Hex64(2))})));
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "^/api/indicators/import$";
  rule.status = 429;
  rule.retry_after = "3";
  mde().AddFault(rule);
  auto second = api_->Import(Json::array({Body(Hex64(3)), Body(Hex64(2))}));
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(3000)));
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "POST", "^/api/indicators/import$")),
              ElementsAre(200, 429, 200));
  // Value 2 came twice and is still one indicator.
  EXPECT_THAT(State(), SizeIs(3));
}

TEST_F(MdeIndicatorsContractTest, LongRetryAfterComesBackAsRateLimitedWithTheWait) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "^/api/indicators/import$";
  rule.status = 429;
  rule.retry_after = "120";
  mde().AddFault(rule);
  auto r = api_->Import(Json::array({Body(Hex64(1))}));
  ASSERT_FALSE(r);
  const Error& e = Seen(r.error());
  EXPECT_EQ(e.code, ErrorCode::kRateLimited);
  ASSERT_TRUE(e.retry_after.has_value());
  EXPECT_EQ(*e.retry_after, seconds(120));
  EXPECT_THAT(State(), SizeIs(0));
}

TEST_F(MdeIndicatorsContractTest, LocalLimiterKeepsImportsAt30PerMinuteSoMdeNeverThrottles) {
  Start({{"enforce_limits", true}});
  for (int i = 0; i < 30; ++i) {
    auto r = api_->Import(Json::array({Body(Hex64(i))}));
    ASSERT_TRUE(r) << i << " " << r.error().ToString();
  }
  auto r = api_->Import(Json::array({Body(Hex64(30))}));
  ASSERT_FALSE(r);
  const Error& e = Seen(r.error());
  EXPECT_EQ(e.code, ErrorCode::kRateLimited);
  EXPECT_EQ(e.service_code, kLocalRateLimitCode);
  ASSERT_TRUE(e.retry_after.has_value());
  EXPECT_LE(*e.retry_after, seconds(60));
  EXPECT_THAT(CallsTo(mde(), "POST", "^/api/indicators/import$"), SizeIs(30));
  EXPECT_EQ(mde().StateJson()["limit_violations"], 0);
  clock_.Advance(seconds(61));
  EXPECT_TRUE(api_->Import(Json::array({Body(Hex64(30))})));
}

TEST_F(MdeIndicatorsContractTest, BatchDeleteDeletesAndAnUnknownIdIsNotFound) {
  auto imported = api_->Import(Json::array({Body(Hex64(1)), Body(Hex64(2)), Body(Hex64(3))}));
  ASSERT_TRUE(imported);
  const std::string a = (*imported)[0].id, b = (*imported)[1].id, c = (*imported)[2].id;
  auto missing = api_->BatchDelete({a, "99999"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(Seen(missing.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(State(), SizeIs(3));
  ASSERT_TRUE(api_->BatchDelete({a, b}));
  const auto calls = CallsTo(mde(), "POST", "^/api/indicators/BatchDelete$");
  ASSERT_THAT(calls, SizeIs(2));
  EXPECT_EQ(Json::parse(calls[1].body), (Json{{"IndicatorIds", {a, b}}}));
  ASSERT_THAT(State(), SizeIs(1));
  ASSERT_TRUE(api_->Delete(c));
  EXPECT_TRUE(api_->Delete(c)) << "a gone indicator counts as deleted";
  EXPECT_THAT(State(), SizeIs(0));
  EXPECT_FALSE(api_->BatchDelete({}));
}

TEST_F(MdeIndicatorsContractTest, MissingPermissionNamesTheFix) {
  ASSERT_FALSE(mde().Seed({{"denied_permissions", {"Ti.ReadWrite.All"}}}).has_value());
  auto r = api_->List();
  ASSERT_FALSE(r);
  const Error& e = Seen(r.error());
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(e.message, HasSubstr("Ti.ReadWrite.All"));
}

}  // namespace
}  // namespace vc::contract
