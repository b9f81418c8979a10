// The Sentinel incidents client (clients/sentinel/incidents.hpp) built as the daemon builds it
// (Entra token for https://management.azure.com, retry policy) against the Sentinel and Entra
// emulators: the cursor list follows nextLinks on the configured host and refuses one elsewhere,
// entities come back typed, comments are PUT under the caller's id and refused locally above
// 30,000 characters, ARM errors map to the project's codes, 429s are waited out, and ids that
// are not URL-safe are encoded into one path segment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/incidents.hpp"
#include "contract/contract_support.hpp"
#include "core/time.hpp"

namespace vc::contract {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kArm = "https://management.azure.com";
constexpr const char* kId = "73e01a99-5cd7-4139-a149-9f2736ff2ab5";

Json SeededIncident(int i, const std::string& created) {
  return {{"name", fmt::format("00000000-0000-4000-8000-{:012}", i)},
          {"properties",
           {{"title", "seeded " + std::to_string(i)},
            {"severity", "Medium"},
            {"status", "New"},
            {"createdTimeUtc", created}}}};
}

class SentinelIncidentsContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
    const auto& e = emulators().entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators().entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    tokens_ = std::make_shared<auth::EntraTokenCache>(entra, MakePipeline({}, kUserAgent, nullptr),
                                                      clock_);
    client_ = MakeClient(sentinel().BaseUrl());
  }
  void TearDown() override {
    client_.reset();
    tokens_.reset();
    ContractTest::TearDown();
  }
  std::unique_ptr<sentinel::IncidentsClient> MakeClient(const std::string& base_url,
                                                        int page_size = 2) {
    sentinel::IncidentsOptions o;
    o.base_url = base_url;
    o.subscription_id = "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0";
    o.resource_group = "myRg";
    o.workspace_name = "myWorkspace";
    o.page_size = page_size;
    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kArm);
    return std::make_unique<sentinel::IncidentsClient>(o, MakePipeline({}, kUserAgent, credential));
  }
  emu::SentinelEmulator& sentinel() { return emulators().sentinel(); }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<sentinel::IncidentsClient> client_;
};

TEST_F(SentinelIncidentsContractTest, ListsIncidentsCreatedAfterTheCursorAcrossPages) {
  Json incidents = Json::array();
  for (int i = 0; i < 5; ++i)
    incidents.push_back(SeededIncident(i, fmt::format("2026-01-01T00:0{}:00Z", i)));
  Seed({{"sentinel", {{"incidents", incidents}}}});
  auto listed = client_->ListIncidentsCreatedSince(*ParseIso8601("2026-01-01T00:00:30Z"));
  ASSERT_TRUE(listed) << listed.error().ToString();
  std::vector<std::string> titles;
  for (const auto& i : *listed) titles.push_back(i.title);
  EXPECT_THAT(titles, ElementsAre("seeded 1", "seeded 2", "seeded 3", "seeded 4"));
  EXPECT_EQ((*listed)[0].name, "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ((*listed)[0].severity, "Medium");
  EXPECT_EQ((*listed)[0].created, ParseIso8601("2026-01-01T00:01:00Z"));
  EXPECT_GT((*listed)[0].number, 0);
  EXPECT_THAT((*listed)[0].incident_url, HasSubstr("portal.azure.com"));

  const auto calls = CallsTo(sentinel(), "GET", ".*/incidents");
  ASSERT_EQ(calls.size(), 2u);  // pages of 2
  const Pairs first = DecodePairs(calls[0].query);
  EXPECT_EQ(OnlyValue(first, "api-version"), "2025-09-01");
  EXPECT_EQ(OnlyValue(first, "$filter"), "properties/createdTimeUtc gt 2026-01-01T00:00:30.000Z");
  EXPECT_EQ(OnlyValue(first, "$orderby"), "properties/createdTimeUtc asc");
  EXPECT_EQ(OnlyValue(first, "$top"), "2");
  EXPECT_TRUE(OnlyValue(DecodePairs(calls[1].query), "$skipToken"));
  EXPECT_EQ(calls[0].auth, "Bearer");
  EXPECT_EQ(emulators().entra().StateJson()["tokens_issued"][kArm], 1);
}

TEST_F(SentinelIncidentsContractTest, NextLinkToAnotherHostIsRefused) {
  for (const std::string foreign :
       {"https://evil.example/steal?api-version=2025-09-01",
        "http://127.0.0.1:1/subscriptions/x/incidents?api-version=2025-09-01", "not a url"}) {
    emu::FaultRule rule;
    rule.method = "GET";
    rule.path_regex = "/incidents$";
    rule.status = 200;
    rule.body = Json{{"value", Json::array()}, {"nextLink", foreign}}.dump();
    sentinel().AddFault(rule);
    auto listed = client_->ListIncidentsCreatedSince(*ParseIso8601("2026-01-01T00:00:00Z"));
    ASSERT_FALSE(listed) << foreign;
    EXPECT_EQ(Seen(listed.error()).code, ErrorCode::kProtocol);
    EXPECT_THAT(listed.error().message, HasSubstr("nextLink"));
    EXPECT_EQ(listed.error().service, "sentinel");
  }
  // Only the first pages were asked for; nothing went elsewhere.
  EXPECT_EQ(CallsTo(sentinel(), "GET", ".*").size(), 3u);
}

TEST_F(SentinelIncidentsContractTest, EntitiesAreTypedAndIdsAreEncoded) {
  Json seeded = SeededIncident(0, "2026-01-01T00:00:00Z");
  seeded["name"] = kId;
  seeded["entities"] = {
      {{"kind", "Url"},
       {"properties", {{"url", "http://evil.example/a?b=c"}, {"friendlyName", "evil"}}}},
      {{"kind", "Account"},
       {"properties", {{"friendlyName", "administrator"}, {"accountName", "administrator"}}}}};
  Seed({{"sentinel", {{"incidents", {seeded}}}}});
  auto entities = client_->ListEntities(kId);
  ASSERT_TRUE(entities) << entities.error().ToString();
  ASSERT_EQ(entities->size(), 2u);
  EXPECT_EQ((*entities)[0].kind, "Url");
  EXPECT_EQ((*entities)[0].url, "http://evil.example/a?b=c");
  EXPECT_EQ((*entities)[0].friendly_name, "evil");
  EXPECT_EQ((*entities)[1].kind, "Account");
  EXPECT_EQ((*entities)[1].url, "");
  EXPECT_EQ((*entities)[1].properties["accountName"], "administrator");
  const auto calls = CallsTo(sentinel(), "POST", ".*/incidents/" + std::string(kId) + "/entities");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(OnlyValue(DecodePairs(calls[0].query), "api-version"), "2025-09-01");

  // An id with query characters stays one encoded path segment (the emulator decodes the
  // path): the service answers 404 for it and the query is only the client's.
  const std::string odd_id = "a?b=1&api-version=2019-01-01#z";
  auto odd = client_->GetIncident(odd_id);
  ASSERT_FALSE(odd);
  EXPECT_EQ(Seen(odd.error()).code, ErrorCode::kNotFound);
  const auto all = sentinel().Calls();
  EXPECT_THAT(all.back().path, HasSubstr("/incidents/" + odd_id));
  EXPECT_EQ(all.back().query, "api-version=2025-09-01");
}

TEST_F(SentinelIncidentsContractTest, GetAndCreateIncident) {
  sentinel::NewIncident n;
  n.title = "VMRay: <malicious> URL";
  n.severity = "High";
  n.description = "from the connector";
  n.labels = {"VMRay"};
  auto created = client_->CreateIncident(kId, n);
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(created->name, kId);
  EXPECT_EQ(created->status, "New");
  EXPECT_FALSE(created->etag.empty());
  const Json stored = sentinel().StateJson()["incidents"][0];
  EXPECT_EQ(stored["properties"]["title"], "VMRay: <malicious> URL");
  EXPECT_EQ(stored["properties"]["labels"], Json::parse(R"([{"labelName":"VMRay"}])"));
  auto got = client_->GetIncident(kId);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->title, n.title);
  EXPECT_EQ(got->number, created->number);
  // Repeating the create (a lost answer) keeps one incident.
  ASSERT_TRUE(client_->CreateIncident(kId, n));
  EXPECT_EQ(sentinel().StateJson()["incidents"].size(), 1u);

  n.severity = "Critical";
  auto refused = client_->CreateIncident("11111111-1111-4111-8111-111111111111", n);
  ASSERT_FALSE(refused);
  EXPECT_EQ(Seen(refused.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().service_code, "BadRequest");
  auto missing = client_->GetIncident("11111111-1111-4111-8111-111111111111");
  ASSERT_FALSE(missing);
  EXPECT_EQ(Seen(missing.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(SentinelIncidentsContractTest, CommentsArePutUnderTheCallersIdAndLimited) {
  Json seeded = SeededIncident(0, "2026-01-01T00:00:00Z");
  seeded["name"] = kId;
  Seed({{"sentinel", {{"incidents", {seeded}}}}});
  const std::string cid = "4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014";
  auto put = client_->PutComment(kId, cid, "<p>VMRay: <b>malicious</b></p>");
  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_TRUE(put->created_now);
  EXPECT_EQ(put->name, cid);
  put = client_->PutComment(kId, cid, "<p>VMRay: <b>malicious</b></p>");
  ASSERT_TRUE(put);
  EXPECT_FALSE(put->created_now);
  const auto calls = CallsTo(sentinel(), "PUT", ".*/comments/" + cid);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(Json::parse(calls[0].body),
            (Json{{"properties", {{"message", "<p>VMRay: <b>malicious</b></p>"}}}}));
  EXPECT_EQ(calls[0].content_type, "application/json");
  EXPECT_EQ(sentinel().StateJson()["incidents"][0]["comments"].size(), 1u);

  std::string exactly(sentinel::kMaxCommentCharacters, 'x');
  ASSERT_TRUE(client_->PutComment(kId, "11111111-1111-4111-8111-111111111111", exactly));
  auto too_long =
      client_->PutComment(kId, "22222222-2222-4222-8222-222222222222", exactly + "\xc3\xa9");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(Seen(too_long.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(too_long.error().message, HasSubstr("30000"));
  EXPECT_EQ(CallsTo(sentinel(), "PUT", ".*/comments/2222.*").size(), 0u);
  // Non-ASCII counts as characters, not bytes; outside the BMP as two (UTF-16 units).
  EXPECT_EQ(sentinel::Utf8Characters("\xc3\xa9\xe2\x82\xac"), 2u);
  EXPECT_EQ(sentinel::Utf8Characters("\xf0\x9f\x98\x80"), 2u);
  std::string accents;
  for (size_t i = 0; i < sentinel::kMaxCommentCharacters; ++i) accents += "\xc3\xa9";
  ASSERT_TRUE(client_->PutComment(kId, "33333333-3333-4333-8333-333333333333", accents));

  auto unknown = client_->PutComment("00000000-0000-4000-8000-000000000099", cid, "x");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(Seen(unknown.error()).code, ErrorCode::kNotFound);
}

TEST_F(SentinelIncidentsContractTest, ThrottledThenSucceeds) {
  Seed({{"sentinel", {{"incidents", {SeededIncident(0, "2026-01-01T00:00:00Z")}}}}});
  emu::FaultRule rule;
  rule.method = "GET";
  rule.path_regex = "/incidents$";
  rule.status = 429;
  rule.retry_after = "4";
  sentinel().AddFault(rule);
  auto listed = client_->ListIncidentsCreatedSince(*ParseIso8601("2025-01-01T00:00:00Z"));
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_THAT(StatusesOf(CallsTo(sentinel(), "GET", ".*/incidents")), ElementsAre(429, 200));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(4000)));
}

TEST_F(SentinelIncidentsContractTest, WrongWorkspaceAndWrongApiVersionAreClearErrors) {
  sentinel::IncidentsOptions o = client_->options();
  o.workspace_name = "otherWorkspace";
  auto credential = std::make_shared<auth::EntraCredential>(tokens_, kArm);
  sentinel::IncidentsClient other(o, MakePipeline({}, kUserAgent, credential));
  auto got = other.GetIncident(kId);
  ASSERT_FALSE(got);
  EXPECT_EQ(Seen(got.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(got.error().message, HasSubstr("workspace name"));
  o.workspace_name = "myWorkspace";
  o.api_version = "2019-01-01-preview";
  sentinel::IncidentsClient old(o, MakePipeline({}, kUserAgent, credential));
  got = old.GetIncident(kId);
  ASSERT_FALSE(got);
  EXPECT_EQ(Seen(got.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(got.error().service_code, "InvalidApiVersionParameter");
  o.subscription_id = "";
  sentinel::IncidentsClient unset(o, MakePipeline({}, kUserAgent, credential));
  got = unset.GetIncident(kId);
  ASSERT_FALSE(got);
  EXPECT_EQ(Seen(got.error()).code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace vc::contract
