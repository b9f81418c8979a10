// The Sentinel management REST emulator (incidents, comments, entities) against a real HTTP
// client: answers have the shapes of the real examples in tests/fixtures/real/sentinel, PUT is
// 201 then 200 and refuses stale etags with 409, lists filter by createdTimeUtc, order, page
// through absolute nextLinks, comments over 30,000 characters are refused, entities come back
// with their metaData, and api-version, token and workspace are checked like ARM does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <set>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"
#include "sentinel_incidents.hpp"

namespace vc::emu {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr const char* kWs =
    "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/"
    "Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights";
constexpr const char* kV = "?api-version=2025-09-01";
constexpr const char* kId = "73e01a99-5cd7-4139-a149-9f2736ff2ab5";

Json Fixture(const std::string& name) {
  std::ifstream in(std::string(VC_FIXTURES_DIR) + "/real/sentinel/" + name);
  return Json::parse(in);
}

std::set<std::string> Keys(const Json& j) {
  std::set<std::string> out;
  for (const auto& [k, _] : j.items()) out.insert(k);
  return out;
}

class SentinelIncidentsEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::make_unique<EmulatorSet>(EmulatorSetOptions{}, clock_);
    set_->Start();
    http_ = std::make_unique<httplib::Client>(set_->sentinel().BaseUrl());
    token_ = Token("https://management.azure.com/.default");
  }
  void TearDown() override { EXPECT_THAT(set_->AssertionFailures(), IsEmpty()); }
  std::string Token(const std::string& scope) {
    httplib::Client login(set_->entra().BaseUrl());
    const auto& o = set_->entra().options();
    auto r = login.Post("/" + o.tenant_id + "/oauth2/v2.0/token",
                        httplib::Params{{"grant_type", "client_credentials"},
                                        {"client_id", o.client_id},
                                        {"client_secret", o.client_secret},
                                        {"scope", scope}});
    EXPECT_TRUE(r && r->status == 200);
    return r ? Json::parse(r->body).value("access_token", "") : "";
  }
  httplib::Headers Auth() const { return {{"Authorization", "Bearer " + token_}}; }
  httplib::Result Put(const std::string& path, const Json& body, httplib::Headers extra = {}) {
    httplib::Headers h = Auth();
    h.insert(extra.begin(), extra.end());
    return http_->Put(path, h, body.dump(), "application/json");
  }
  httplib::Result Get(const std::string& path) { return http_->Get(path, Auth()); }
  static std::string Incident(const std::string& id = kId) {
    return std::string(kWs) + "/incidents/" + id;
  }
  static Json Body(const std::string& title = "VMRay: malicious URL") {
    return {{"properties", {{"title", title}, {"severity", "High"}, {"status", "New"}}}};
  }
  // Seeds incidents created one minute apart from 2026-01-01T00:00:00Z.
  void SeedIncidents(int n) {
    Json incidents = Json::array();
    for (int i = 0; i < n; ++i) {
      Json p = Body("seeded " + std::to_string(i))["properties"];
      p["createdTimeUtc"] = fmt::format("2026-01-01T00:{:02}:00Z", i);
      incidents.push_back(
          {{"name", fmt::format("00000000-0000-4000-8000-{:012}", i)}, {"properties", p}});
    }
    auto problem = set_->Seed({{"sentinel", {{"incidents", incidents}}}});
    ASSERT_FALSE(problem) << *problem;
  }
  static std::string Error(const httplib::Result& r) {
    return r ? Json::parse(r->body)["error"].value("code", "") : "";
  }

  SystemClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> http_;
  std::string token_;
};

TEST_F(SentinelIncidentsEmulatorTest, PutCreatesThenUpdatesWithTheRealShape) {
  const Json real = Fixture("incident_create_2025-09-01_example.json");
  auto r = Put(Incident() + kV, real["parameters"]["incident"]);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const Json created = Json::parse(r->body);
  const Json& expected = real["responses"]["201"]["body"];
  EXPECT_EQ(Keys(created), Keys(expected));
  EXPECT_EQ(Keys(created["properties"]), Keys(expected["properties"]));
  EXPECT_EQ(Keys(created["properties"]["additionalData"]),
            Keys(expected["properties"]["additionalData"]));
  EXPECT_EQ(created["id"], expected["id"]);
  EXPECT_EQ(created["type"], expected["type"]);
  EXPECT_EQ(created["properties"]["incidentUrl"], expected["properties"]["incidentUrl"]);
  EXPECT_EQ(created["properties"]["incidentNumber"], 1);
  EXPECT_EQ(created["properties"]["providerName"], "Azure Sentinel");
  EXPECT_THAT(created["etag"].get<std::string>(), StartsWith("\""));

  // Update with the current etag: 200, same number and creation time, new etag.
  Json update = Body("renamed");
  update["etag"] = created["etag"];
  r = Put(Incident() + kV, update);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json updated = Json::parse(r->body);
  EXPECT_EQ(updated["properties"]["title"], "renamed");
  EXPECT_EQ(updated["properties"]["incidentNumber"], 1);
  EXPECT_EQ(updated["properties"]["createdTimeUtc"], created["properties"]["createdTimeUtc"]);
  EXPECT_NE(updated["etag"], created["etag"]);

  // The first etag is stale now, in the body or in If-Match: 409, nothing changed.
  update["properties"]["title"] = "lost update";
  r = Put(Incident() + kV, update);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(Error(r), "Conflict");
  r = Put(Incident() + kV, Body("lost update"), {{"If-Match", created["etag"]}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  r = Get(Incident() + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["properties"]["title"], "renamed");
  EXPECT_EQ(set_->sentinel().StateJson()["incidents"].size(), 1u);
}

TEST_F(SentinelIncidentsEmulatorTest, RequiredFieldsAreCheckedWithArmErrors) {
  for (const char* missing : {"title", "severity", "status"}) {
    Json body = Body();
    body["properties"].erase(missing);
    auto r = Put(Incident() + kV, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << missing;
    EXPECT_EQ(Error(r), "BadRequest");
    EXPECT_THAT(Json::parse(r->body)["error"]["message"].get<std::string>(), HasSubstr(missing));
  }
  Json bad = Body();
  bad["properties"]["severity"] = "Critical";
  auto r = Put(Incident() + kV, bad);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = Put(Incident("not-a-guid") + kV, Body());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = Get(Incident() + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Error(r), "NotFound");
  EXPECT_EQ(set_->sentinel().StateJson()["incidents"], Json::array());
}

TEST_F(SentinelIncidentsEmulatorTest, ApiVersionTokenAndWorkspaceAreChecked) {
  auto r = Get(Incident());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Error(r), "MissingApiVersionParameter");
  r = Get(Incident() + "?api-version=2025-07-01-preview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Error(r), "InvalidApiVersionParameter");
  EXPECT_THAT(r->body, HasSubstr("2024-09-01"));
  for (const auto& v : sentinel_mgmt::StableApiVersions()) {
    r = Get(Incident() + "?api-version=" + v);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << v;  // accepted; the incident does not exist
  }
  r = http_->Get(Incident() + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Error(r), "AuthenticationFailed");
  const std::string graph = Token("https://graph.microsoft.com/.default");
  r = http_->Get(Incident() + kV, {{"Authorization", "Bearer " + graph}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Error(r), "InvalidAuthenticationTokenAudience");
  r = http_->Get(Incident() + kV, {{"Authorization", "Bearer forged"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  std::string other = Incident();
  other.replace(other.find("myWorkspace"), 11, "otherWorkspace");
  r = Get(other + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Error(r), "ResourceNotFound");
}

TEST_F(SentinelIncidentsEmulatorTest, ListFiltersOrdersAndPagesThroughAbsoluteNextLinks) {
  SeedIncidents(7);
  const std::string list = std::string(kWs) + "/incidents";
  httplib::Params q = {{"api-version", "2025-09-01"},
                       {"$filter", "properties/createdTimeUtc gt 2026-01-01T00:01:00Z"},
                       {"$orderby", "properties/createdTimeUtc asc"},
                       {"$top", "2"}};
  auto r = http_->Get(list, q, Auth());
  std::vector<std::string> titles;
  int pages = 0;
  for (;;) {
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const Json page = Json::parse(r->body);
    ++pages;
    for (const auto& i : page["value"]) titles.push_back(i["properties"]["title"]);
    if (!page.contains("nextLink")) break;
    const std::string next = page["nextLink"];
    ASSERT_THAT(next, StartsWith(set_->sentinel().BaseUrl() + list + "?"));
    EXPECT_THAT(next, HasSubstr("skipToken"));
    r = http_->Get(next.substr(set_->sentinel().BaseUrl().size()), Auth());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(titles,
            (std::vector<std::string>{"seeded 2", "seeded 3", "seeded 4", "seeded 5", "seeded 6"}));

  q = {{"api-version", "2025-09-01"}, {"$orderby", "properties/createdTimeUtc desc"}};
  r = http_->Get(list, q, Auth());
  ASSERT_TRUE(r);
  const Json desc = Json::parse(r->body);
  ASSERT_EQ(desc["value"].size(), 7u);
  EXPECT_EQ(desc["value"][0]["properties"]["title"], "seeded 6");
  EXPECT_FALSE(desc.contains("nextLink"));

  for (const char* f : {"properties/title eq 'x'", "properties/createdTimeUtc gt yesterday"}) {
    r = http_->Get(list, {{"api-version", "2025-09-01"}, {"$filter", f}}, Auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << f;
    EXPECT_THAT(r->body, HasSubstr("properties/createdTimeUtc gt"));
  }
  r = http_->Get(list, {{"api-version", "2025-09-01"}, {"$orderby", "properties/title"}}, Auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(SentinelIncidentsEmulatorTest, CommentsHaveTheRealShapeAndAreLimited) {
  ASSERT_EQ(Put(Incident() + kV, Body())->status, 201);
  const Json real = Fixture("incident_comment_create_2025-09-01_example.json");
  const std::string cid = "4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014";
  auto r = Put(Incident() + "/comments/" + cid + kV, real["parameters"]["incidentComment"]);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const Json comment = Json::parse(r->body);
  const Json& expected = real["responses"]["201"]["body"];
  EXPECT_EQ(Keys(comment), Keys(expected));
  EXPECT_EQ(Keys(comment["properties"]), Keys(expected["properties"]));
  EXPECT_EQ(Keys(comment["properties"]["author"]), Keys(expected["properties"]["author"]));
  EXPECT_EQ(comment["id"], expected["id"]);
  EXPECT_EQ(comment["properties"]["message"], "Some message");
  EXPECT_EQ(comment["properties"]["author"]["objectId"], set_->entra().options().client_id);
  // The same id again updates it.
  r = Put(Incident() + "/comments/" + cid + kV, {{"properties", {{"message", "edited"}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // 30,000 characters pass (non-ASCII counts as one), one more is refused; empty is refused.
  std::string limit;
  for (size_t i = 0; i < sentinel_mgmt::kMaxCommentCharacters; ++i) limit += "\xc3\xa9";
  r = Put(Incident() + "/comments/11111111-1111-4111-8111-111111111111" + kV,
          {{"properties", {{"message", limit}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  r = Put(Incident() + "/comments/22222222-2222-4222-8222-222222222222" + kV,
          {{"properties", {{"message", limit + "x"}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("30000"));
  r = Put(Incident() + "/comments/33333333-3333-4333-8333-333333333333" + kV,
          {{"properties", Json::object()}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = Put(Incident("00000000-0000-4000-8000-000000000099") + "/comments/" + cid + kV,
          {{"properties", {{"message", "x"}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  // Listed oldest first, paged.
  r = Get(Incident() + "/comments" + kV + "&$top=1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  Json page = Json::parse(r->body);
  ASSERT_EQ(page["value"].size(), 1u);
  EXPECT_EQ(page["value"][0]["properties"]["message"], "edited");
  const std::string next = page["nextLink"];
  r = Get(next.substr(set_->sentinel().BaseUrl().size()));
  ASSERT_TRUE(r);
  page = Json::parse(r->body);
  ASSERT_EQ(page["value"].size(), 1u);
  EXPECT_FALSE(page.contains("nextLink"));
  const Json state = set_->sentinel().StateJson()["incidents"][0];
  EXPECT_EQ(state["comments"].size(), 2u);
  EXPECT_EQ(state["properties"]["additionalData"]["commentsCount"], 2);
}

TEST_F(SentinelIncidentsEmulatorTest, EntitiesAreListedWithMetaData) {
  const Json url_entity = Fixture("entity_url_get_2019-01-01-preview_example.json");
  const Json account = Fixture("incident_entities_list_2025-09-01_example.json");
  const Json& account_entity = account["responses"]["200"]["body"]["entities"][0];
  Json seeded = Body();
  seeded["name"] = kId;
  seeded["entities"] = {
      {{"kind", "Url"}, {"properties", url_entity["responses"]["200"]["body"]["properties"]}},
      {{"kind", "Account"}, {"properties", account_entity["properties"]}},
      {{"kind", "Url"}, {"properties", {{"url", "http://evil.example/a?b=c"}}}}};
  auto problem = set_->Seed({{"sentinel", {{"incidents", {seeded}}}}});
  ASSERT_FALSE(problem) << *problem;

  auto r = http_->Post(Incident() + "/entities" + kV, Auth(), "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json body = Json::parse(r->body);
  EXPECT_EQ(Keys(body), Keys(account["responses"]["200"]["body"]));
  ASSERT_EQ(body["entities"].size(), 3u);
  EXPECT_EQ(Keys(body["entities"][0]), Keys(account_entity));
  EXPECT_EQ(body["entities"][0]["type"], account_entity["type"]);
  EXPECT_EQ(body["entities"][0]["properties"]["url"], "https://bing.com");
  EXPECT_EQ(body["entities"][2]["properties"]["url"], "http://evil.example/a?b=c");
  EXPECT_EQ(body["metaData"], Json::parse(R"([{"entityKind":"Account","count":1},
                                               {"entityKind":"Url","count":2}])"));
  r = http_->Post(Incident("00000000-0000-4000-8000-000000000099") + "/entities" + kV, Auth(), "",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(SentinelIncidentsEmulatorTest, InjectedThrottlingIsAnArmErrorWithRetryAfter) {
  SeedIncidents(1);
  FaultRule rule;
  rule.method = "GET";
  rule.path_regex = "/incidents$";
  rule.status = 429;
  rule.retry_after = "5";
  set_->sentinel().AddFault(rule);
  auto r = Get(std::string(kWs) + "/incidents" + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "5");
  EXPECT_EQ(Error(r), "TooManyRequests");
  r = Get(std::string(kWs) + "/incidents" + kV);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(set_->sentinel().CountCalls("GET", ".*/incidents"), 2u);
}

TEST_F(SentinelIncidentsEmulatorTest, BadSeedsChangeNothing) {
  Json good = Body();
  good["name"] = kId;
  Json bad_kind = Body();
  bad_kind["name"] = "11111111-1111-4111-8111-111111111111";
  bad_kind["entities"] = {{{"kind", "Spaceship"}, {"properties", Json::object()}}};
  auto problem = set_->Seed({{"sentinel", {{"incidents", {good, bad_kind}}}}});
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("Spaceship"));
  Json url_without_url = bad_kind;
  url_without_url["entities"] = {{{"kind", "Url"}, {"properties", Json::object()}}};
  EXPECT_TRUE(set_->Seed({{"sentinel", {{"incidents", {url_without_url}}}}}));
  EXPECT_TRUE(set_->Seed({{"sentinel", {{"incidents", {{{"name", "x"}}}}}}}));
  EXPECT_EQ(set_->sentinel().StateJson()["incidents"], Json::array());
  ASSERT_FALSE(set_->Seed({{"sentinel", {{"incidents", {good}}}}}));
  EXPECT_EQ(set_->sentinel().StateJson()["incidents"].size(), 1u);
  set_->sentinel().ResetState();
  EXPECT_EQ(set_->sentinel().StateJson()["incidents"], Json::array());
}

}  // namespace
}  // namespace vc::emu
