// The MDE API emulator against a real HTTP client: auth, permissions, OData, alert updates,
// machine actions, live response end to end (including the gzip download), limits, library,
// seeds and fault injection. Time is a ManualClock; no test sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <httplib.h>
#include <zlib.h>
#include "core/base64.hpp"
#include "core/time.hpp"

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/hash.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"
#include "mde_models.hpp"
#include "mde_rate_limits.hpp"

namespace vc::emu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr const char* kMdeScope = "https://api.securitycenter.microsoft.com/.default";

std::string Q(const std::string& value) {
  return httplib::detail::encode_query_param(value);
}

std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  EXPECT_EQ(rc, Z_STREAM_END) << "not a complete gzip stream";
  return out;
}

std::string Base64(const std::string& bytes) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n =
        (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kChars[(n >> s) & 63]);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], kChars[(n >> 6) & 63], '='};
  }
  return out;
}

Json ReadFixture(const std::string& name) {
  std::ifstream in(std::string(VC_FIXTURES_DIR) + "/real/mde/" + name);
  EXPECT_TRUE(in) << name;
  return Json::parse(in);
}

Json GetFileBody(const std::string& path, const std::string& comment = "collect evidence") {
  return {{"Commands", {{{"type", "GetFile"}, {"params", {{{"key", "Path"}, {"value", path}}}}}}},
          {"Comment", comment}};
}

class MdeEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(Json::object()); }

  void TearDown() override {
    if (!expect_assertions_) {
      EXPECT_THAT(set_->AssertionFailures(), IsEmpty());
    }
  }

  void Start(const Json& mde_options) {
    if (set_) set_->Stop();
    EmulatorSetOptions options;
    options.mde = MdeEmulator::Options::FromJson(mde_options);
    set_ = std::make_unique<EmulatorSet>(options, clock_);
    set_->Start();
    EntraEmulator& entra = set_->entra();
    set_->mde().SetTokenOwnerLookup(
        [&entra](const std::string& token) { return entra.ClientIdOf(token); });
    token_ = FetchToken(kMdeScope);
    mde_ = std::make_unique<httplib::Client>(set_->mde().BaseUrl());
    // Queries are sent exactly as written (encoded by Q()), so '+' reaches the server as '+'.
    mde_->set_url_encode(false);
  }

  std::string FetchToken(const std::string& scope) {
    httplib::Client entra(set_->entra().BaseUrl());
    const auto& o = set_->entra().options();
    auto r = entra.Post("/" + o.tenant_id + "/oauth2/v2.0/token",
                        httplib::Params{{"grant_type", "client_credentials"},
                                        {"client_id", o.client_id},
                                        {"client_secret", o.client_secret},
                                        {"scope", scope}});
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    return Json::parse(r->body)["access_token"].get<std::string>();
  }

  httplib::Headers Auth() const { return {{"Authorization", "Bearer " + token_}}; }
  httplib::Result Get(const std::string& path) { return mde_->Get(path.c_str(), Auth()); }
  httplib::Result Post(const std::string& path, const Json& body) {
    return mde_->Post(path.c_str(), Auth(), body.dump(), "application/json");
  }
  httplib::Result Patch(const std::string& path, const Json& body) {
    return mde_->Patch(path.c_str(), Auth(), body.dump(), "application/json");
  }
  static Json Body(const httplib::Result& r) { return Json::parse(r->body); }

  void Seed(const Json& seed) {
    auto problem = set_->mde().Seed(seed);
    ASSERT_FALSE(problem.has_value()) << *problem;
  }

  // A machine that is online and has one file.
  void SeedMachine(const std::string& id, const std::string& path = "C:\\temp\\evil.exe",
                   const std::string& bytes = "MZ evil bytes") {
    Seed({{"machines", {{{"id", id}, {"files", {{path, Base64(bytes)}}}}}}});
  }

  // Starts a live response and returns the action.
  Json StartLiveResponse(const std::string& machine, const Json& body) {
    auto r = Post("/api/machines/" + machine + "/runliveresponse", body);
    EXPECT_EQ(r->status, 201) << r->body;
    return Body(r);
  }

  Json PollAction(const std::string& id) {
    auto r = Get("/api/machineactions/" + id);
    EXPECT_EQ(r->status, 200) << r->body;
    return Body(r);
  }

  // The path and query of a download link (which points at the MDE emulator itself).
  std::string LinkTarget(const std::string& url) const {
    const std::string base = set_->mde().BaseUrl();
    EXPECT_EQ(url.rfind(base, 0), 0u) << url;
    return url.substr(base.size());
  }

  std::string DownloadLinkFor(const std::string& action_id, int index) {
    auto r = Get(fmt::format("/api/machineactions/{}/GetLiveResponseResultDownloadLink(index={})",
                             action_id, index));
    EXPECT_EQ(r->status, 200) << r->body;
    const Json j = Body(r);
    EXPECT_EQ(j["@odata.context"], set_->mde().BaseUrl() + "/api/$metadata#Edm.String");
    return j["value"].get<std::string>();
  }

  static void ExpectMdeError(const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    const Json j = Json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_THAT(j["error"]["target"].get<std::string>(), SizeIs(36));  // a GUID
  }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> mde_;
  std::string token_;
  bool expect_assertions_ = false;
};

// ---- fixtures and seeds ----------------------------------------------------------------------

TEST(MdeModelsTest, EmbeddedTemplatesHaveTheFixturesFields) {
  Json alert = ReadFixture("alert_single_with_evidence_docs.json");
  std::set<std::string> fixture_keys, template_keys;
  for (const auto& [k, _] : alert.items()) fixture_keys.insert(k);
  for (const auto& [k, _] : mde::AlertTemplate().items()) template_keys.insert(k);
  template_keys.insert("comments");
  template_keys.insert("evidence");
  EXPECT_EQ(template_keys, fixture_keys);

  std::set<std::string> evidence_keys, evidence_template_keys;
  for (const auto& [k, _] : alert["evidence"][0].items()) evidence_keys.insert(k);
  for (const auto& [k, _] : mde::EvidenceTemplate().items()) evidence_template_keys.insert(k);
  EXPECT_EQ(evidence_template_keys, evidence_keys);

  Json machine = ReadFixture("machine_single_xsoar_testdata.json");
  machine.erase("@odata.context");
  std::set<std::string> machine_keys, machine_template_keys;
  for (const auto& [k, _] : machine.items()) machine_keys.insert(k);
  for (const auto& [k, _] : mde::MachineTemplate().items()) machine_template_keys.insert(k);
  EXPECT_EQ(machine_template_keys, machine_keys);
}

TEST(MdeModelsTest, FormatsTimesWithSevenFractionalDigits) {
  const TimePoint t = TimePoint{std::chrono::seconds{1611693237}} +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          std::chrono::nanoseconds(722023900));
  EXPECT_EQ(mde::FormatTime(t), "2021-01-26T20:33:57.7220239Z");
}

TEST_F(MdeEmulatorTest, SeedCompletesAlertsFromTheFixtureShapeAndRejectsUnknownFields) {
  Seed({{"alerts", {{{"id", "a1"}, {"evidence", {{{"sha256", "ab"}, {"fileName", "x.exe"}}}}}}}});
  auto r = Get("/api/alerts/a1");
  ASSERT_EQ(r->status, 200);
  const Json a = Body(r);
  EXPECT_EQ(a["status"], "New");
  EXPECT_EQ(a["detectionSource"], "WindowsDefenderAtp");
  EXPECT_EQ(a["alertCreationTime"], mde::FormatTime(clock_.Now()));
  EXPECT_EQ(a["comments"], Json::array());
  ASSERT_THAT(a["evidence"], SizeIs(1));
  EXPECT_EQ(a["evidence"][0]["entityType"], "File");
  EXPECT_EQ(a["evidence"][0]["sha256"], "ab");
  EXPECT_TRUE(a["evidence"][0].contains("registryKey"));

  auto problem = set_->mde().Seed({{"alerts", {{{"id", "a2"}, {"Status", "New"}}}}});
  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("unknown field 'Status'"));
  problem = set_->mde().Seed({{"alerts", {{{"id", "a2"}, {"severity", "Critical"}}}}});
  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("severity"));
  problem = set_->mde().Seed({{"alerts", {{{"title", "no id"}}}}});
  ASSERT_TRUE(problem.has_value());
  // A bad seed changes nothing.
  EXPECT_EQ(Get("/api/alerts/a2")->status, 404);
}

TEST_F(MdeEmulatorTest, ControlRouteSeedsAndResets) {
  httplib::Client control(set_->mde().BaseUrl());
  auto r = control.Post("/_emulator/state", Json{{"alerts", {{{"id", "via-http"}}}}}.dump(),
                        "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Get("/api/alerts/via-http")->status, 200);
  r = control.Post("/_emulator/state", Json{{"nonsense", 1}}.dump(), "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("nonsense"));
  ASSERT_EQ(control.Post("/_emulator/reset", "", "application/json")->status, 200);
  EXPECT_EQ(set_->mde().StateJson()["alerts"], Json::array());
}

// ---- auth and permissions ----------------------------------------------------------------------

TEST_F(MdeEmulatorTest, RejectsMissingUnknownExpiredAndWrongAudienceTokens) {
  auto r = mde_->Get("/api/alerts");
  ExpectMdeError(r, 401, "Unauthorized");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("Authorization"));

  ExpectMdeError(mde_->Get("/api/alerts", {{"Authorization", "Bearer made-up"}}), 401,
                 "Unauthorized");
  ExpectMdeError(mde_->Get("/api/alerts", {{"Authorization", "Basic dXNlcjpwYXNz"}}), 401,
                 "Unauthorized");

  const std::string graph_token = FetchToken("https://graph.microsoft.com/.default");
  r = mde_->Get("/api/alerts", {{"Authorization", "Bearer " + graph_token}});
  ExpectMdeError(r, 401, "Unauthorized");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("another resource"));

  ASSERT_EQ(Get("/api/alerts")->status, 200);
  clock_.Advance(std::chrono::seconds(3599));
  r = Get("/api/alerts");
  ExpectMdeError(r, 401, "Unauthorized");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("expired"));

  // Every error carries a fresh request id.
  auto a = mde_->Get("/api/alerts");
  auto b = mde_->Get("/api/alerts");
  EXPECT_NE(Body(a)["error"]["target"], Body(b)["error"]["target"]);
}

TEST_F(MdeEmulatorTest, DeniedPermissionAnswers403OnlyOnTheRoutesThatNeedIt) {
  SeedMachine("m1");
  Seed({{"denied_permissions", {"Machine.LiveResponse"}}});
  auto r = Post("/api/machines/m1/runliveresponse", GetFileBody("C:\\temp\\evil.exe"));
  ExpectMdeError(r, 403, "Forbidden");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("Machine.LiveResponse"));
  EXPECT_EQ(Get("/api/alerts")->status, 200);
  EXPECT_EQ(Get("/api/machines/m1")->status, 200);

  Seed({{"denied_permissions", {"Alert.ReadWrite.All"}}});
  Seed({{"alerts", {{{"id", "a1"}}}}});
  ExpectMdeError(Patch("/api/alerts/a1", {{"comment", "x"}}), 403, "Forbidden");
  EXPECT_EQ(Get("/api/alerts/a1")->status, 200);
  EXPECT_TRUE(set_->mde().Seed({{"denied_permissions", {"Alert.Write"}}}).has_value());
}

TEST_F(MdeEmulatorTest, PathsAreCaseInsensitiveWithOptionalVersion) {
  Seed({{"alerts", {{{"id", "a1"}}}}});
  EXPECT_EQ(Get("/API/Alerts")->status, 200);
  EXPECT_EQ(Get("/api/v1.0/alerts/a1")->status, 200);
  EXPECT_EQ(Get("/Api/V1.0/ALERTS/a1")->status, 200);
}

TEST_F(MdeEmulatorTest, UnknownRoutesAndQueryParametersAreAssertions) {
  expect_assertions_ = true;
  EXPECT_EQ(Get("/api/alerts?top=5")->status, 400);
  EXPECT_EQ(Get("/api/alerts?$select=id")->status, 400);
  EXPECT_EQ(Get("/api/incidents")->status, 400);
  EXPECT_EQ(mde_->Delete("/api/alerts/a1", Auth())->status, 400);
  const auto failures = set_->mde().AssertionFailures();
  ASSERT_THAT(failures, SizeIs(4));
  EXPECT_THAT(failures[0], HasSubstr("unknown query parameter 'top'"));
  EXPECT_THAT(failures[1], HasSubstr("$select"));
  EXPECT_THAT(failures[2], HasSubstr("no route"));
  EXPECT_THAT(failures[3], HasSubstr("not allowed"));
}

// ---- alerts ---------------------------------------------------------------------------------

TEST_F(MdeEmulatorTest, ListAlertsFiltersOnTimeAndStatusIn) {
  Seed(
      {{"alerts",
        {{{"id", "old"}, {"alertCreationTime", "2024-01-01T00:00:00Z"}, {"status", "New"}},
         {{"id", "new1"}, {"alertCreationTime", "2024-03-01T10:00:00.1234567Z"}, {"status", "New"}},
         {{"id", "resolved"},
          {"alertCreationTime", "2024-03-02T00:00:00Z"},
          {"status", "Resolved"}},
         {{"id", "prog"},
          {"alertCreationTime", "2024-03-03T00:00:00Z"},
          {"status", "InProgress"},
          {"severity", "High"}}}}});
  auto ids = [&](const std::string& query) {
    auto r = Get("/api/alerts?" + query);
    EXPECT_EQ(r->status, 200) << r->body;
    std::vector<std::string> out;
    const Json body = Body(r);
    for (const auto& a : body["value"]) out.push_back(a["id"]);
    return out;
  };
  EXPECT_THAT(ids("$filter=" + Q("alertCreationTime ge 2024-03-01T00:00:00Z and status in "
                                 "('New','InProgress')")),
              ElementsAre("new1", "prog"));
  // The documented form: '+' for spaces.
  EXPECT_THAT(ids("$filter=alertCreationTime+lt+2024-03-01T10:00:00.1234567Z"), ElementsAre("old"));
  EXPECT_THAT(ids("$filter=" + Q("severity eq 'High'")), ElementsAre("prog"));
  EXPECT_THAT(ids("$filter=" + Q("status ne 'Resolved' and assignedTo eq null")),
              ElementsAre("old", "new1", "prog"));
  EXPECT_THAT(ids("$orderby=" + Q("alertCreationTime desc") + "&$top=2"),
              ElementsAre("prog", "resolved"));

  auto r = Get("/api/alerts");
  EXPECT_EQ(Body(r)["@odata.context"], set_->mde().BaseUrl() + "/api/$metadata#Alerts");
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("application/json"));
}

TEST_F(MdeEmulatorTest, ODataErrorsNameTheProblem) {
  auto expect_odata = [&](const std::string& query, const std::string& mentions) {
    auto r = Get("/api/alerts?" + query);
    ExpectMdeError(r, 400, "ODataError");
    EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr(mentions)) << query;
  };
  expect_odata("$filter=" + Q("machineId eq 'x'"), "'machineId'");
  expect_odata("$filter=" + Q("status eq New"), "quoted");
  expect_odata("$filter=" + Q("status eq 'new'"), "not a valid enumeration value");
  expect_odata("$filter=" + Q("status eq 'New' or status eq 'Resolved'"), "'or'");
  expect_odata("$filter=" + Q("alertCreationTime ge '2024-01-01T00:00:00Z'"), "DateTimeOffset");
  expect_odata("$filter=" + Q("lastUpdateTime ge 2024-13-01"), "DateTimeOffset");
  expect_odata("$filter=" + Q("status in ('New'"), "expected");
  expect_odata("$filter=" + Q("id eq 'unterminated"), "unterminated");
  expect_odata("$top=10001", "10000");
  expect_odata("$top=0", "$top");
  expect_odata("$skip=-1", "$skip");
  expect_odata("$expand=comments", "evidence");
  expect_odata("$orderby=severity", "$orderby");
}

TEST_F(MdeEmulatorTest, ExpandEvidenceOnlyOnRequest) {
  Seed({{"alerts", {{{"id", "a1"}, {"evidence", {{{"entityType", "File"}, {"sha256", "ff"}}}}}}}});
  Json without = Body(Get("/api/alerts"));
  ASSERT_THAT(without["value"], SizeIs(1));
  EXPECT_FALSE(without["value"][0].contains("evidence"));
  EXPECT_EQ(without["value"][0]["id"], "a1");
  Json with = Body(Get("/api/alerts?$expand=evidence"));
  ASSERT_THAT(with["value"][0]["evidence"], SizeIs(1));
  EXPECT_EQ(with["value"][0]["evidence"][0]["sha256"], "ff");
}

TEST_F(MdeEmulatorTest, PagesTenThousandAlertsWithTopAndSkip) {
  Json alerts = Json::array();
  const TimePoint start = clock_.Now() - std::chrono::hours(24);
  for (int i = 0; i < 10000; ++i) {
    alerts.push_back(
        {{"id", fmt::format("da{:05d}", i)},
         {"alertCreationTime", mde::FormatTime(start + std::chrono::seconds(i))},
         {"status", i % 3 == 0 ? "Resolved" : "New"},
         {"evidence", {{{"entityType", "File"}, {"sha256", fmt::format("{:064x}", i)}}}}});
  }
  Seed({{"alerts", alerts}});
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::string> seen;
  for (int skip = 0;; skip += 500) {
    auto r = Get(fmt::format("/api/alerts?$expand=evidence&$top=500&$skip={}&$filter={}", skip,
                             Q("status in ('New','InProgress')")));
    ASSERT_EQ(r->status, 200);
    const Json page = Body(r);
    EXPECT_FALSE(page.contains("@odata.nextLink"));
    for (const auto& a : page["value"]) {
      seen.push_back(a["id"]);
      ASSERT_THAT(a["evidence"], SizeIs(1));
    }
    if (page["value"].size() < 500) break;
  }
  const auto elapsed = std::chrono::steady_clock::now() - began;
  ASSERT_EQ(seen.size(), 6666u);  // every id not divisible by 3
  EXPECT_EQ(seen.front(), "da00001");
  EXPECT_EQ(seen.back(), "da09998");
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_LT(elapsed, std::chrono::seconds(20)) << "paging 10,000 alerts is too slow";

  // Without $top the service pages by 10,000 and links the next page.
  Seed({{"alerts", {{{"id", "zz-extra"}}}}});
  auto r = Get("/api/alerts");
  const Json first = Body(r);
  EXPECT_THAT(first["value"], SizeIs(10000));
  ASSERT_TRUE(first.contains("@odata.nextLink"));
  auto next = Get(LinkTarget(first["@odata.nextLink"]));
  EXPECT_THAT(Body(next)["value"], SizeIs(1));
}

TEST_F(MdeEmulatorTest, PatchCommentAppendsAndIsVisibleInGet) {
  Seed({{"alerts", {{{"id", "a1"}, {"alertCreationTime", "2024-01-01T00:00:00Z"}}}}});
  clock_.Advance(std::chrono::minutes(5));
  auto r = Patch("/api/alerts/a1", {{"comment", "VMRay verdict: malicious"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["comments"].size(), 1u);
  const Json a = Body(Get("/api/alerts/a1"));
  ASSERT_THAT(a["comments"], SizeIs(1));
  EXPECT_EQ(a["comments"][0]["comment"], "VMRay verdict: malicious");
  EXPECT_EQ(a["comments"][0]["createdBy"], set_->entra().options().client_id);
  EXPECT_EQ(a["comments"][0]["createdTime"], mde::FormatTime(clock_.Now()));
  EXPECT_EQ(a["lastUpdateTime"], mde::FormatTime(clock_.Now()));

  // The time bump is visible to lastUpdateTime filters (how pollers find changed alerts).
  auto changed =
      Body(Get("/api/alerts?$filter=" + Q("lastUpdateTime ge " + mde::FormatTime(clock_.Now()))));
  EXPECT_THAT(changed["value"], SizeIs(1));

  r = Patch("/api/alerts/a1", {{"status", "Resolved"},
                               {"classification", "TruePositive"},
                               {"determination", "Malware"},
                               {"assignedTo", "soc@contoso.com"},
                               {"comment", "second"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const Json b = Body(r);
  EXPECT_EQ(b["status"], "Resolved");
  EXPECT_EQ(b["resolvedTime"], mde::FormatTime(clock_.Now()));
  EXPECT_EQ(b["classification"], "TruePositive");
  EXPECT_THAT(b["comments"], SizeIs(2));
  EXPECT_THAT(set_->mde().StateJson()["alerts"][0]["comments"], SizeIs(2));
}

TEST_F(MdeEmulatorTest, PatchRejectsWrongCaseUnknownKeysWrongTypesAndEmptyBodies) {
  Seed({{"alerts", {{{"id", "a1"}}}}});
  auto r = Patch("/api/alerts/a1", {{"Comment", "x"}});
  ExpectMdeError(r, 400, "InvalidRequestBody");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("'Comment'"));
  ExpectMdeError(Patch("/api/alerts/a1", Json::object()), 400, "InvalidRequestBody");
  ExpectMdeError(Patch("/api/alerts/a1", {{"status", "Closed"}}), 400, "InvalidRequestBody");
  ExpectMdeError(Patch("/api/alerts/a1", {{"comment", 5}}), 400, "InvalidRequestBody");
  ExpectMdeError(Patch("/api/alerts/a1", Json::array()), 400, "InvalidRequestBody");
  ExpectMdeError(Patch("/api/alerts/nope", {{"comment", "x"}}), 404, "ResourceNotFound");
  EXPECT_EQ(Body(Get("/api/alerts/a1"))["comments"], Json::array());

  expect_assertions_ = true;
  r = mde_->Patch("/api/alerts/a1", Auth(), R"({"comment":"x"})", "text/plain");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("emulator assertion failed"));
}

TEST_F(MdeEmulatorTest, GetUnknownAlertIs404InTheMdeEnvelope) {
  auto r = Get("/api/alerts/da000_missing");
  ExpectMdeError(r, 404, "ResourceNotFound");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("da000_missing"));
}

// ---- machines and machine actions -------------------------------------------------------------

TEST_F(MdeEmulatorTest, MachinesHaveTheCapturedShape) {
  ExpectMdeError(Get("/api/machines"), 404, "ResourceNotFound");  // documented for no machines
  Seed({{"machines",
         {{{"id", "m1"}, {"computerDnsName", "pc1.contoso.com"}},
          {{"id", "m2"}, {"healthStatus", "Inactive"}, {"osPlatform", "Linux"}}}}});
  const Json m = Body(Get("/api/machines/m1"));
  EXPECT_EQ(m["computerDnsName"], "pc1.contoso.com");
  EXPECT_EQ(m["healthStatus"], "Active");
  EXPECT_EQ(m["osPlatform"], "Windows10");
  EXPECT_TRUE(m["ipAddresses"].is_array());
  EXPECT_FALSE(m.contains("offline"));  // emulator-only fields stay private
  const Json list = Body(Get("/api/machines?$filter=" + Q("healthStatus eq 'Inactive'")));
  ASSERT_THAT(list["value"], SizeIs(1));
  EXPECT_EQ(list["value"][0]["id"], "m2");
  ExpectMdeError(Get("/api/machines/zzz"), 404, "ResourceNotFound");
}

TEST_F(MdeEmulatorTest, MachineActionsFilterOnMachineAndStatus) {
  SeedMachine("m1");
  SeedMachine("m2");
  const std::string a1 = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  const std::string a2 = StartLiveResponse("m2", GetFileBody("C:\\temp\\evil.exe"))["id"];
  PollAction(a2);  // m2's action completes
  auto ids = [&](const std::string& filter) {
    auto r = Get("/api/machineactions?$filter=" + Q(filter));
    EXPECT_EQ(r->status, 200) << r->body;
    std::vector<std::string> out;
    const Json body = Body(r);
    for (const auto& a : body["value"]) out.push_back(a["id"]);
    return out;
  };
  EXPECT_THAT(ids("machineId eq 'm1'"), ElementsAre(a1));
  EXPECT_THAT(ids("status eq 'Succeeded'"), ElementsAre(a2));
  EXPECT_THAT(ids("machineId eq 'm1' and status in ('Pending','InProgress')"), ElementsAre(a1));
  EXPECT_THAT(
      ids("type eq 'LiveResponse' and requestor eq '" + set_->entra().options().client_id + "'"),
      ElementsAre(a1, a2));
  ExpectMdeError(Get("/api/machineactions?$filter=" + Q("commands eq 'x'")), 400, "ODataError");
  EXPECT_THAT(Body(Get("/api/machineactions?$top=1"))["value"], SizeIs(1));
}

// ---- live response ----------------------------------------------------------------------------

TEST_F(MdeEmulatorTest, GetFileEndToEndDownloadsTheGzippedFile) {
  Start({{"action_polls_to_complete", 2}});
  const std::string bytes("MZ\x90\x00\x03 binary \xff\xfe payload", 23);
  SeedMachine("m1", "C:\\Temp\\Evil.EXE", bytes);
  const Json created = StartLiveResponse("m1", GetFileBody("c:\\temp\\evil.exe"));
  EXPECT_EQ(created["type"], "LiveResponse");
  EXPECT_EQ(created["status"], "Pending");
  EXPECT_EQ(created["requestor"], set_->entra().options().client_id);
  EXPECT_EQ(created["requestorComment"], "collect evidence");
  EXPECT_EQ(created["machineId"], "m1");
  ASSERT_THAT(created["commands"], SizeIs(1));
  EXPECT_EQ(created["commands"][0]["index"], 0);
  EXPECT_EQ(created["commands"][0]["commandStatus"], "Created");
  EXPECT_EQ(created["commands"][0]["errors"], Json::array());
  EXPECT_EQ(created["commands"][0]["command"]["type"], "GetFile");
  const std::string id = created["id"];

  // Not downloadable before it succeeds.
  ExpectMdeError(Get("/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)"),
                 400, "BadRequest");
  EXPECT_EQ(PollAction(id)["status"], "InProgress");
  const Json done = PollAction(id);
  EXPECT_EQ(done["status"], "Succeeded");
  EXPECT_EQ(done["commands"][0]["commandStatus"], "Completed");
  EXPECT_FALSE(done["commands"][0]["endTime"].is_null());

  const std::string url = DownloadLinkFor(id, 0);
  EXPECT_THAT(url, HasSubstr("/_lr/download/"));
  EXPECT_THAT(url, HasSubstr("sp=r&sv=2019-07-07&sr=b&sig="));
  httplib::Client storage(set_->mde().BaseUrl());
  auto r = storage.Get(LinkTarget(url).c_str());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(Gunzip(r->body), bytes);
  ExpectMdeError(Get("/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=1)"),
                 400, "InvalidInput");
}

TEST_F(MdeEmulatorTest, DownloadLinkIsStorageNotTheApi) {
  SeedMachine("m1");
  const std::string id = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  PollAction(id);
  const std::string target = LinkTarget(DownloadLinkFor(id, 0));
  httplib::Client storage(set_->mde().BaseUrl());

  std::string tampered = target;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  auto r = storage.Get(tampered.c_str());
  EXPECT_EQ(r->status, 403);
  EXPECT_THAT(r->body, HasSubstr("<Code>AuthenticationFailed</Code>"));
  EXPECT_EQ(r->get_header_value("x-ms-error-code"), "AuthenticationFailed");

  clock_.Advance(std::chrono::seconds(1800));
  r = storage.Get(target.c_str());
  EXPECT_EQ(r->status, 403);
  EXPECT_THAT(r->body, HasSubstr("AuthenticationFailed"));
  EXPECT_THAT(r->body, HasSubstr("expiry"));

  // A fresh link works again (MDE lets the client re-request it).
  token_ = FetchToken(kMdeScope);
  EXPECT_EQ(storage.Get(LinkTarget(DownloadLinkFor(id, 0)).c_str())->status, 200);

  expect_assertions_ = true;
  r = storage.Get(target.c_str(), Auth());
  EXPECT_EQ(r->status, 400);
  ASSERT_THAT(set_->mde().AssertionFailures(), SizeIs(1));
  EXPECT_THAT(set_->mde().AssertionFailures()[0],
              HasSubstr("bearer token sent to a storage download link"));
}

TEST_F(MdeEmulatorTest, MissingFileFailsTheCommandAndTheAction) {
  SeedMachine("m1");
  const std::string id = StartLiveResponse("m1", GetFileBody("C:\\temp\\gone.exe"))["id"];
  const Json a = PollAction(id);
  EXPECT_EQ(a["status"], "Failed");
  EXPECT_EQ(a["commands"][0]["commandStatus"], "Failed");
  EXPECT_EQ(a["commands"][0]["errors"], Json::array({"File not found"}));
  ExpectMdeError(Get("/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)"),
                 400, "BadRequest");
}

TEST_F(MdeEmulatorTest, FailNextActionFailsExactlyOneAction) {
  SeedMachine("m1");
  Seed({{"machines", {{{"id", "m1"}, {"fail_next_action", "Device disconnected"}}}}});
  std::string id = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  Json a = PollAction(id);
  EXPECT_EQ(a["status"], "Failed");
  EXPECT_EQ(a["commands"][0]["errors"], Json::array({"Device disconnected"}));
  id = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  EXPECT_EQ(PollAction(id)["status"], "Succeeded");
}

TEST_F(MdeEmulatorTest, OneLiveResponsePerDeviceIncludingSomeoneElses) {
  SeedMachine("m1");
  const std::string id = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  auto r = Post("/api/machines/m1/runliveresponse", GetFileBody("C:\\temp\\evil.exe"));
  ExpectMdeError(r, 400, "ActiveRequestAlreadyExists");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr(id));
  PollAction(id);  // finished: the device is free again
  const std::string second = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  PollAction(second);

  Seed({{"machines", {{{"id", "m1"}, {"busy", true}}}}});
  ExpectMdeError(Post("/api/machines/m1/runliveresponse", GetFileBody("C:\\temp\\evil.exe")), 400,
                 "ActiveRequestAlreadyExists");
  const Json busy =
      Body(Get("/api/machineactions?$filter=" + Q("machineId eq 'm1' and status eq 'Pending'")));
  ASSERT_THAT(busy["value"], SizeIs(1));
  EXPECT_NE(busy["value"][0]["requestor"], set_->entra().options().client_id);
  // Polling someone else's session does not move it.
  EXPECT_EQ(PollAction(busy["value"][0]["id"])["status"], "Pending");
  Seed({{"machines", {{{"id", "m1"}, {"busy", false}}}}});
  StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"));
  ExpectMdeError(Post("/api/machines/nope/runliveresponse", GetFileBody("C:\\x")), 404,
                 "ResourceNotFound");
}

TEST_F(MdeEmulatorTest, OfflineDeviceStaysPendingUntilOnlineThenTimesOutAfterThreeDays) {
  Seed({{"machines",
         {{{"id", "m1"}, {"offline", true}, {"files", {{"C:\\a.txt", Base64("hello")}}}}}}});
  const std::string id = StartLiveResponse("m1", GetFileBody("C:\\a.txt"))["id"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PollAction(id)["status"], "Pending");
  clock_.Advance(std::chrono::hours(2));
  token_ = FetchToken(kMdeScope);
  EXPECT_EQ(PollAction(id)["status"], "Pending");
  Seed({{"machines", {{{"id", "m1"}, {"offline", false}}}}});
  EXPECT_EQ(PollAction(id)["status"], "Succeeded");
  EXPECT_EQ(Gunzip(httplib::Client(set_->mde().BaseUrl())
                       .Get(LinkTarget(DownloadLinkFor(id, 0)).c_str())
                       ->body),
            "hello");

  Seed({{"machines", {{{"id", "m1"}, {"offline", true}}}}});
  const std::string queued = StartLiveResponse("m1", GetFileBody("C:\\a.txt"))["id"];
  clock_.Advance(std::chrono::hours(72));
  token_ = FetchToken(kMdeScope);
  EXPECT_EQ(PollAction(queued)["status"], "TimeOut");
}

TEST_F(MdeEmulatorTest, CancelNeedsACommentAndOnlyWorksBeforeTheEnd) {
  SeedMachine("m1");
  const std::string id = StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"))["id"];
  ExpectMdeError(Post("/api/machineactions/" + id + "/cancel", Json::object()), 400,
                 "InvalidRequestBody");
  ExpectMdeError(Post("/api/machineactions/" + id + "/cancel", {{"comment", "lower case"}}), 400,
                 "InvalidRequestBody");
  auto r = Post("/api/machineactions/" + id + "/cancel", {{"Comment", "timeout"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const Json a = Body(r);
  EXPECT_EQ(a["status"], "Cancelled");
  EXPECT_EQ(a["cancellationComment"], "timeout");
  EXPECT_EQ(a["cancellationRequestor"], set_->entra().options().client_id);
  EXPECT_EQ(a["cancellationDateTimeUtc"], mde::FormatTime(clock_.Now()));
  EXPECT_EQ(PollAction(id)["status"], "Cancelled");  // polling does not revive it
  ExpectMdeError(Post("/api/machineactions/" + id + "/cancel", {{"Comment", "again"}}), 400,
                 "BadRequest");
  ExpectMdeError(Post("/api/machineactions/nope/cancel", {{"Comment", "x"}}), 404,
                 "ResourceNotFound");
  StartLiveResponse("m1", GetFileBody("C:\\temp\\evil.exe"));  // the device is free
}

TEST_F(MdeEmulatorTest, RunLiveResponseBodyIsValidatedStrictly) {
  SeedMachine("m1");
  auto expect_invalid = [&](const Json& body, const std::string& mentions) {
    auto r = Post("/api/machines/m1/runliveresponse", body);
    ExpectMdeError(r, 400, "InvalidRequestBody");
    EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr(mentions)) << body;
  };
  const Json get = {{"type", "GetFile"}, {"params", {{{"key", "Path"}, {"value", "C:\\x"}}}}};
  const Json run = {
      {"type", "RunScript"},
      {"params",
       {{{"key", "ScriptName"}, {"value", "s.ps1"}}, {{"key", "Args"}, {"value", "-a 1"}}}}};
  const Json put = {{"type", "PutFile"}, {"params", {{{"key", "FileName"}, {"value", "t.ps1"}}}}};
  expect_invalid({{"Commands", Json::array()}, {"Comment", "c"}}, "Commands");
  expect_invalid({{"Commands", {get}}}, "Comment");
  expect_invalid({{"commands", {get}}, {"Comment", "c"}}, "'commands'");
  expect_invalid({{"Commands", {get, run}}, {"Comment", "c"}}, "ordered");
  expect_invalid({{"Commands", {run, put}}, {"Comment", "c"}}, "ordered");
  expect_invalid(
      {{"Commands", {{{"type", "GetFile"}, {"params", {{{"key", "path"}, {"value", "C:\\x"}}}}}}},
       {"Comment", "c"}},
      "'path'");
  expect_invalid(
      {{"Commands", {{{"type", "RunScript"}, {"params", {{{"key", "Args"}, {"value", "x"}}}}}}},
       {"Comment", "c"}},
      "ScriptName");
  expect_invalid(
      {{"Commands", {{{"type", "Isolate"}, {"params", Json::array()}}}}, {"Comment", "c"}},
      "PutFile, RunScript or GetFile");
  // The documented order with repetitions is fine.
  StartLiveResponse("m1", {{"Commands", {put, run, run, get, get}}, {"Comment", "c"}});
  EXPECT_THAT(set_->mde().StateJson()["machine_actions"], SizeIs(1));
}

TEST_F(MdeEmulatorTest, RunScriptNeedsTheLibraryAndCallsTheHook) {
  SeedMachine("m1", "C:\\q\\sample.bin", "quarantined");
  const Json body = {{"Commands",
                      {{{"type", "RunScript"},
                        {"params",
                         {{{"key", "ScriptName"}, {"value", "collect.ps1"}},
                          {{"key", "Args"}, {"value", "-Sha256 ab"}}}}}}},
                     {"Comment", "collect"}};
  std::string id = StartLiveResponse("m1", body)["id"];
  Json a = PollAction(id);
  EXPECT_EQ(a["status"], "Failed");
  EXPECT_EQ(a["commands"][0]["errors"], Json::array({"Script not found in library"}));

  httplib::MultipartFormDataItems form = {
      {"file", "Write-Output 'hi'", "collect.ps1", "text/plain"},
      {"Description", "collector", "", ""},
      {"HasParameters", "true", "", ""},
      {"OverrideIfExists", "true", "", ""}};
  ASSERT_EQ(mde_->Post("/api/libraryfiles", Auth(), form)->status, 200);

  // Default hook: an empty transcript.
  id = StartLiveResponse("m1", body)["id"];
  ASSERT_EQ(PollAction(id)["status"], "Succeeded");
  auto r = httplib::Client(set_->mde().BaseUrl()).Get(LinkTarget(DownloadLinkFor(id, 0)).c_str());
  EXPECT_EQ(Json::parse(r->body), (Json{{"script_name", "collect.ps1"},
                                        {"exit_code", 0},
                                        {"script_output", ""},
                                        {"script_errors", ""}}));

  MdeEmulator::ScriptRun seen;
  set_->mde().SetScriptHook([&](const MdeEmulator::ScriptRun& run) {
    seen = run;
    return MdeEmulator::ScriptOutcome{3, "QuarantinedFilesFound 1", "warning", std::nullopt};
  });
  id = StartLiveResponse("m1", body)["id"];
  ASSERT_EQ(PollAction(id)["status"], "Succeeded");
  EXPECT_EQ(seen.script_name, "collect.ps1");
  EXPECT_EQ(seen.args, "-Sha256 ab");
  EXPECT_EQ(seen.machine_id, "m1");
  EXPECT_EQ(seen.script_content, "Write-Output 'hi'");
  EXPECT_EQ(seen.files.at("C:\\q\\sample.bin"), "quarantined");
  r = httplib::Client(set_->mde().BaseUrl()).Get(LinkTarget(DownloadLinkFor(id, 0)).c_str());
  EXPECT_EQ(Json::parse(r->body)["script_output"], "QuarantinedFilesFound 1");
  EXPECT_EQ(Json::parse(r->body)["exit_code"], 3);

  set_->mde().SetScriptHook([](const MdeEmulator::ScriptRun&) {
    return MdeEmulator::ScriptOutcome{1, "", "", std::string("Script execution timed out")};
  });
  id = StartLiveResponse("m1", body)["id"];
  a = PollAction(id);
  EXPECT_EQ(a["status"], "Failed");
  EXPECT_EQ(a["commands"][0]["errors"], Json::array({"Script execution timed out"}));
}

TEST_F(MdeEmulatorTest, CollectionScriptModelChecksTheRequestLikeTheScript) {
  // A quarantine seed is checked like the rest of a machine seed.
  auto bad = set_->mde().Seed(
      {{"machines", {{{"id", "m1"}, {"quarantine", {{{"threat", "T"}, {"file", "%%"}}}}}}}});
  ASSERT_TRUE(bad);
  EXPECT_THAT(*bad, HasSubstr("quarantine[0].file must be the file's bytes in standard base64"));
  ASSERT_FALSE(set_->mde().Seed(
      {{"machines",
        {{{"id", "m1"},
          {"computerDnsName", "m1.contoso.com"},
          {"quarantine", {{{"threat", "Trojan:Win32/X"}, {"file", "TVogcXVhcmFudGluZWQ="}}}}}}}}));
  httplib::MultipartFormDataItems form = {
      {"file", "param($Request)", "vmray-connector-collect.ps1", "text/plain"},
      {"Description", "collector", "", ""},
      {"HasParameters", "true", "", ""}};
  ASSERT_EQ(mde_->Post("/api/libraryfiles", Auth(), form)->status, 200);

  auto run = [&](const std::string& args) {
    const Json body = {{"Commands",
                        {{{"type", "RunScript"},
                          {"params",
                           {{{"key", "ScriptName"}, {"value", "vmray-connector-collect.ps1"}},
                            {{"key", "Args"}, {"value", args}}}}}}},
                       {"Comment", "collect"}};
    const std::string id = StartLiveResponse("m1", body)["id"];
    EXPECT_EQ(PollAction(id)["status"], "Succeeded");
    auto r = httplib::Client(set_->mde().BaseUrl()).Get(LinkTarget(DownloadLinkFor(id, 0)).c_str());
    const std::string output = Json::parse(r->body)["script_output"];
    return Json::parse(output.substr(0, output.find('\r')));
  };
  auto request = [&](Json fields) {
    Json r = {
        {"v", 1},
        {"mode", "restore"},
        {"threat", "Trojan:Win32/X"},
        {"sha256", {std::string(64, 'a')}},
        {"upload_url", "https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sr=b&sp=cw&se=" +
                           FormatIso8601(clock_.Now() + std::chrono::minutes(30)) + "&sig=abc"},
        {"max_bytes", 1000},
        {"request_id", "req-1"}};
    for (const auto& [k, v] : fields.items()) r[k] = v;
    return Base64Encode(r.dump());
  };
  Json out = run("not base64 at all!");
  EXPECT_EQ(out["outcome"], "bad_request");
  EXPECT_EQ(out["request_id"], "");
  out = run(request({{"upload_url", "http://acct.blob.core.windows.net/c/b?sp=cw&sr=b&sig=x"}}));
  EXPECT_EQ(out["outcome"], "bad_request");
  EXPECT_EQ(out["detail"], "the upload URL is not an https URL");
  EXPECT_EQ(out["request_id"], "req-1");
  out = run(request({{"upload_url", "https://acct.blob.core.windows.net/c?sr=c&sp=rwdl&sig=x"}}));
  EXPECT_EQ(out["outcome"], "bad_request");
  EXPECT_THAT(out["detail"].get<std::string>(), HasSubstr("permissions cw"));
  // The threat is there, but not with the alert's SHA-256.
  out = run(request({}));
  EXPECT_EQ(out["outcome"], "hash_mismatch");
  out = run(request({{"threat", "Other:Threat"}}));
  EXPECT_EQ(out["outcome"], "not_in_quarantine");
  out = run(request({{"mode", "encrypted"}, {"sha1", std::string(40, 'B')}}));
  EXPECT_EQ(out["outcome"], "not_in_quarantine");
  const Json runs = set_->mde().StateJson()["script_runs"];
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs[2]["sas"]["sp"], "rwdl");
}

TEST_F(MdeEmulatorTest, PutFilePlacesALibraryFileThatGetFileCanFetch) {
  SeedMachine("m1");
  httplib::MultipartFormDataItems form = {
      {"file", "tool-bytes", "tool.exe", "application/octet-stream"},
      {"Description", "a tool", "", ""}};
  ASSERT_EQ(mde_->Post("/api/libraryfiles", Auth(), form)->status, 200);
  const std::string path =
      "C:\\ProgramData\\Microsoft\\Windows Defender Advanced Threat "
      "Protection\\Downloads\\tool.exe";
  const std::string id = StartLiveResponse(
      "m1", {{"Commands",
              {{{"type", "PutFile"}, {"params", {{{"key", "FileName"}, {"value", "tool.exe"}}}}},
               {{"type", "GetFile"}, {"params", {{{"key", "Path"}, {"value", path}}}}}}},
             {"Comment", "c"}})["id"];
  const Json a = PollAction(id);
  ASSERT_EQ(a["status"], "Succeeded") << a.dump();
  ExpectMdeError(Get("/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)"),
                 400, "BadRequest");  // PutFile has nothing to download
  auto r = httplib::Client(set_->mde().BaseUrl()).Get(LinkTarget(DownloadLinkFor(id, 1)).c_str());
  EXPECT_EQ(Gunzip(r->body), "tool-bytes");
}

// ---- limits -----------------------------------------------------------------------------------

TEST_F(MdeEmulatorTest, EleventhLiveResponseInAMinuteIsThrottledUntilTheClockMoves) {
  Start({{"enforce_limits", true}});
  Json machines = Json::array();
  for (int i = 0; i < 12; ++i) machines.push_back({{"id", fmt::format("m{}", i)}});
  Seed({{"machines", machines}});
  for (int i = 0; i < 10; ++i) StartLiveResponse(fmt::format("m{}", i), GetFileBody("C:\\x"));
  clock_.Advance(std::chrono::seconds(20));
  auto r = Post("/api/machines/m10/runliveresponse", GetFileBody("C:\\x"));
  ExpectMdeError(r, 429, "TooManyRequests");
  EXPECT_EQ(r->get_header_value("Retry-After"), "40");
  const Json state = set_->mde().StateJson();
  EXPECT_EQ(state["limit_violations"], 1);
  EXPECT_EQ(state["limit_violation_log"][0]["endpoint"], "runliveresponse");
  EXPECT_EQ(state["machine_actions"].size(), 10u);

  clock_.Advance(std::chrono::seconds(40));
  StartLiveResponse("m10", GetFileBody("C:\\x"));
}

TEST_F(MdeEmulatorTest, TwentySixthConcurrentSessionIsThrottled) {
  Start({{"enforce_limits", true}});
  Json machines = Json::array();
  for (int i = 0; i < 26; ++i)
    machines.push_back({{"id", fmt::format("m{}", i)}, {"offline", true}});
  Seed({{"machines", machines}});
  for (int i = 0; i < 25; ++i) {
    if (i > 0 && i % 10 == 0) clock_.Advance(std::chrono::minutes(1));
    StartLiveResponse(fmt::format("m{}", i), GetFileBody("C:\\x"));
  }
  clock_.Advance(std::chrono::minutes(1));
  token_ = FetchToken(kMdeScope);
  auto r = Post("/api/machines/m25/runliveresponse", GetFileBody("C:\\x"));
  ExpectMdeError(r, 429, "TooManyRequests");
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("25"));
}

TEST_F(MdeEmulatorTest, HundredCallsPerMinutePerEndpoint) {
  Start({{"enforce_limits", true}});
  Seed({{"alerts", {{{"id", "a1"}}}}});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Get("/api/alerts")->status, 200) << i;
  auto r = Get("/api/alerts");
  ExpectMdeError(r, 429, "TooManyRequests");
  EXPECT_EQ(r->get_header_value("Retry-After"), "60");
  EXPECT_EQ(Get("/api/alerts/a1")->status, 200);  // another endpoint has its own quota
  clock_.Advance(std::chrono::seconds(60));
  EXPECT_EQ(Get("/api/alerts")->status, 200);
  EXPECT_EQ(set_->mde().StateJson()["limit_violations"], 1);
}

TEST(MdeCallQuotasTest, HourlyQuotaHoldsWhenEveryMinuteIsWithinItsOwn) {
  mde::CallQuotas quotas;
  TimePoint now{std::chrono::seconds{1'700'000'000}};
  const TimePoint start = now;
  for (int minute = 0; minute < 15; ++minute) {
    for (int i = 0; i < 100; ++i) {
      ASSERT_FALSE(quotas.TryCall("get_alert", mde::StandardQuotas(), now)) << minute << " " << i;
    }
    now += std::chrono::minutes(1);
  }
  auto exceeded = quotas.TryCall("get_alert", mde::StandardQuotas(), now);
  ASSERT_TRUE(exceeded);
  EXPECT_EQ(exceeded->quota, "1500 calls per hour");
  // The first minute's calls leave the hour window at start + 1 h.
  EXPECT_EQ(exceeded->retry_after, std::chrono::seconds(3600 - 15 * 60));
  EXPECT_FALSE(quotas.TryCall("list_alerts", mde::StandardQuotas(), now));  // separate bucket
  EXPECT_FALSE(quotas.TryCall("get_alert", mde::StandardQuotas(), start + std::chrono::hours(1)));
}

TEST_F(MdeEmulatorTest, LimitsAreOffByDefault) {
  Seed({{"alerts", {{{"id", "a1"}}}}});
  for (int i = 0; i < 150; ++i) ASSERT_EQ(Get("/api/alerts/a1")->status, 200);
  EXPECT_EQ(set_->mde().StateJson()["limit_violations"], 0);
}

// ---- library ----------------------------------------------------------------------------------

TEST_F(MdeEmulatorTest, LibraryUploadListDelete) {
  httplib::MultipartFormDataItems form = {
      {"file", "param($a)", "SubmitEvidencesToVMRay.ps1", "text/plain"},
      {"Description", "VMRay collector", "", ""},
      {"ParametersDescription", "-a", "", ""},
      {"HasParameters", "true", "", ""},
      {"OverrideIfExists", "false", "", ""}};
  auto r = mde_->Post("/api/libraryfiles", Auth(), form);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["sha256"], vc::Sha256Hex("param($a)"));

  r = mde_->Post("/api/libraryfiles", Auth(), form);
  ExpectMdeError(r, 400, "BadRequest");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("OverrideIfExists"));
  form[0].content = "param($b)";
  form[4].content = "true";
  ASSERT_EQ(mde_->Post("/api/libraryfiles", Auth(), form)->status, 200);

  const Json list = Body(Get("/api/libraryfiles"));
  ASSERT_THAT(list["value"], SizeIs(1));
  const Json& f = list["value"][0];
  EXPECT_EQ(f["fileName"], "SubmitEvidencesToVMRay.ps1");
  EXPECT_EQ(f["sha256"], vc::Sha256Hex("param($b)"));
  EXPECT_EQ(f["description"], "VMRay collector");
  EXPECT_EQ(f["hasParameters"], true);
  EXPECT_EQ(f["parametersDescription"], "-a");
  EXPECT_EQ(f["createdBy"], set_->entra().options().client_id);
  for (auto key : {"creationTime", "lastUpdatedTime"}) EXPECT_TRUE(f[key].is_string());

  ExpectMdeError(mde_->Post("/api/libraryfiles", Auth(),
                            httplib::MultipartFormDataItems{{"Description", "no file", "", ""}}),
                 400, "InvalidRequestBody");
  ExpectMdeError(mde_->Post("/api/libraryfiles", Auth(),
                            httplib::MultipartFormDataItems{{"file", "x", "y.ps1", ""},
                                                            {"Description", "d", "", ""},
                                                            {"HasParameters", "yes", "", ""}}),
                 400, "InvalidRequestBody");

  EXPECT_EQ(mde_->Delete("/api/libraryfiles/SubmitEvidencesToVMRay.ps1", Auth())->status, 204);
  ExpectMdeError(mde_->Delete("/api/libraryfiles/SubmitEvidencesToVMRay.ps1", Auth()), 404,
                 "ResourceNotFound");
  EXPECT_EQ(Body(Get("/api/libraryfiles"))["value"], Json::array());

  Seed({{"denied_permissions", {"Library.Manage"}}});
  ExpectMdeError(Get("/api/libraryfiles"), 403, "Forbidden");
}

// ---- faults and state -------------------------------------------------------------------------

TEST_F(MdeEmulatorTest, InjectedFaultsUseTheMdeEnvelope) {
  Seed({{"alerts", {{{"id", "a1"}}}}});
  httplib::Client control(set_->mde().BaseUrl());
  auto r = control.Post("/_emulator/faults",
                        Json{{"path_regex", "^/api/alerts$"}, {"status", 503}, {"times", 1}}.dump(),
                        "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectMdeError(Get("/api/alerts"), 503, "ServiceUnavailable");
  EXPECT_EQ(Get("/api/alerts")->status, 200);

  r = control.Post("/_emulator/faults",
                   Json{{"path_regex", "/api/alerts"}, {"status", 429}, {"retry_after", 7}}.dump(),
                   "application/json");
  ASSERT_EQ(r->status, 200);
  auto throttled = Get("/api/alerts/a1");
  ExpectMdeError(throttled, 429, "TooManyRequests");
  EXPECT_EQ(throttled->get_header_value("Retry-After"), "7");
  // The server logs a call just after answering it: wait (bounded) for the last entry.
  for (int i = 0; i < 2000 && set_->mde().CountCalls("GET", "/api/alerts.*") < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(set_->mde().CountCalls("GET", "/api/alerts.*"), 3u);
}

TEST_F(MdeEmulatorTest, StateShowsMachinesActionsAndLibraryWithoutFileBytes) {
  SeedMachine("m1", "C:\\t\\f.bin", "secret-bytes");
  StartLiveResponse("m1", GetFileBody("C:\\t\\f.bin"));
  const Json state = set_->mde().StateJson();
  ASSERT_THAT(state["machines"], SizeIs(1));
  const Json& emu = state["machines"][0]["_emulator"];
  EXPECT_EQ(emu["offline"], false);
  EXPECT_EQ(emu["files"]["C:\\t\\f.bin"]["size"], 12);
  EXPECT_EQ(state.dump().find("secret-bytes"), std::string::npos);
  EXPECT_THAT(state["machine_actions"], SizeIs(1));
  EXPECT_EQ(state["library"], Json::array());

  set_->mde().ResetState();
  const Json empty = set_->mde().StateJson();
  EXPECT_EQ(empty["machines"], Json::array());
  EXPECT_EQ(empty["machine_actions"], Json::array());
}

TEST(MdeOptionsTest, FromJsonIsStrict) {
  auto o = MdeEmulator::Options::FromJson(
      {{"enforce_limits", true}, {"action_polls_to_complete", 3}, {"audiences", {"https://x/"}}});
  EXPECT_TRUE(o.enforce_limits);
  EXPECT_EQ(o.action_polls_to_complete, 3);
  EXPECT_THAT(o.audiences, ElementsAre("https://x"));
  EXPECT_THROW(MdeEmulator::Options::FromJson({{"enforce_limit", true}}), std::invalid_argument);
  EXPECT_THROW(MdeEmulator::Options::FromJson({{"action_polls_to_complete", 0}}),
               std::invalid_argument);
}

// ---- response actions (isolate, scan, stop and quarantine, investigation package) -----------

TEST_F(MdeEmulatorTest, IsolateAnswers201WithTheDocumentedEntityAndProgressesOnPolls) {
  SeedMachine("m1");
  auto r =
      Post("/api/machines/m1/isolate", {{"Comment", "isolate it"}, {"IsolationType", "Selective"}});
  ASSERT_EQ(r->status, 201) << r->body;
  const Json a = Body(r);
  // Every field of the documented succeeded isolation is there.
  const Json fixture = ReadFixture("machineaction_isolate_succeeded_docs.json");
  for (const auto& [key, _] : fixture.items()) {
    if (key != "@odata.context") EXPECT_TRUE(a.contains(key)) << key;
  }
  EXPECT_EQ(a["type"], "Isolate");
  EXPECT_EQ(a["scope"], "Selective");
  EXPECT_EQ(a["status"], "Pending");
  EXPECT_EQ(a["requestorComment"], "isolate it");
  EXPECT_TRUE(a["relatedFileInfo"].is_null());
  EXPECT_EQ(PollAction(a["id"])["status"], "Succeeded");
}

TEST_F(MdeEmulatorTest, StopAndQuarantineNamesTheFileAndScanTakesItsScope) {
  SeedMachine("m1");
  const std::string sha1(40, 'a');
  auto q = Post("/api/machines/m1/StopAndQuarantineFile", {{"Comment", "c"}, {"Sha1", sha1}});
  ASSERT_EQ(q->status, 201) << q->body;
  EXPECT_EQ(Body(q)["type"], "StopAndQuarantineFile");
  EXPECT_EQ(Body(q)["relatedFileInfo"],
            (Json{{"fileIdentifier", sha1}, {"fileIdentifierType", "Sha1"}}));
  auto scan = Post("/api/machines/m1/runAntiVirusScan", {{"Comment", "c"}, {"ScanType", "Quick"}});
  ASSERT_EQ(scan->status, 201) << scan->body;
  EXPECT_EQ(Body(scan)["type"], "RunAntiVirusScan");
  EXPECT_EQ(Body(scan)["scope"], "Quick");
  auto pkg = Post("/api/machines/m1/collectInvestigationPackage", {{"Comment", "c"}});
  ASSERT_EQ(pkg->status, 201) << pkg->body;
  EXPECT_EQ(Body(pkg)["type"], "CollectInvestigationPackage");
  EXPECT_TRUE(Body(pkg)["scope"].is_null());
}

TEST_F(MdeEmulatorTest, ResponseActionBodiesAreValidated) {
  SeedMachine("m1");
  ExpectMdeError(Post("/api/machines/m1/isolate", {{"Comment", "c"}, {"IsolationType", "Partial"}}),
                 400, "InvalidRequestBody");
  ExpectMdeError(
      Post("/api/machines/m1/runAntiVirusScan", {{"Comment", "c"}, {"ScanType", "Deep"}}), 400,
      "InvalidRequestBody");
  ExpectMdeError(Post("/api/machines/m1/StopAndQuarantineFile", {{"Comment", "c"}}), 400,
                 "MissingRequiredParameter");
  ExpectMdeError(
      Post("/api/machines/m1/StopAndQuarantineFile", {{"Comment", "c"}, {"Sha1", "not-a-hash"}}),
      400, "InvalidHashValue");
  // Names are case-sensitive.
  ExpectMdeError(Post("/api/machines/m1/collectInvestigationPackage", {{"comment", "c"}}), 400,
                 "InvalidRequestBody");
  ExpectMdeError(Post("/api/machines/m1/isolate", {{"IsolationType", "Full"}}), 400,
                 "MissingRequiredParameter");
  EXPECT_TRUE(set_->mde().StateJson()["machine_actions"].empty());
}

TEST_F(MdeEmulatorTest, ResponseActionOnUnknownMachineIs404AndSecondPendingOneIs400) {
  SeedMachine("m1");
  ExpectMdeError(Post("/api/machines/nope/isolate", {{"Comment", "c"}}), 404, "ResourceNotFound");
  Seed({{"machines", {{{"id", "m1"}, {"offline", true}}}}});
  auto first = Post("/api/machines/m1/runAntiVirusScan", {{"Comment", "c"}, {"ScanType", "Full"}});
  ASSERT_EQ(first->status, 201) << first->body;
  // Offline: the action stays queued (Pending) however often it is read.
  EXPECT_EQ(PollAction(Body(first)["id"])["status"], "Pending");
  ExpectMdeError(
      Post("/api/machines/m1/runAntiVirusScan", {{"Comment", "c"}, {"ScanType", "Quick"}}), 400,
      "ActiveRequestAlreadyExists");
  // Another kind of action is not refused by the scan.
  EXPECT_EQ(Post("/api/machines/m1/isolate", {{"Comment", "c"}})->status, 201);
}

TEST_F(MdeEmulatorTest, ResponseActionsNeedTheirOwnPermission) {
  SeedMachine("m1");
  Seed({{"denied_permissions", {"Machine.Isolate"}}});
  auto r = Post("/api/machines/m1/isolate", {{"Comment", "c"}, {"IsolationType", "Full"}});
  ExpectMdeError(r, 403, "Forbidden");
  EXPECT_THAT(r->body, HasSubstr("Machine.Isolate"));
  EXPECT_EQ(Post("/api/machines/m1/runAntiVirusScan", {{"Comment", "c"}})->status, 201);
}

}  // namespace
}  // namespace vc::emu
