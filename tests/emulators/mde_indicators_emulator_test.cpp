// The MDE emulator's custom indicators against a real HTTP client: the documented import
// request and answer, per-item failures, update instead of duplicate, the tenant cap, listing
// with $filter and @odata.nextLink paging, BatchDelete and DELETE, the import and BatchDelete
// quotas, seeds and the exported state. Time is a ManualClock; no test sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fmt/format.h>

#include <cctype>
#include <fstream>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "emulator_set.hpp"

namespace vc::emu {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr const char* kMdeScope = "https://api.securitycenter.microsoft.com/.default";

Json ReadFixture(const std::string& name) {
  std::ifstream in(std::string(VC_FIXTURES_DIR) + "/real/mde/" + name);
  EXPECT_TRUE(in) << name;
  return Json::parse(in);
}

std::string Hex64(int n) {
  return fmt::format("{:064x}", n);
}

Json Body(const std::string& value, const std::string& type = "FileSha256",
          const std::string& action = "Block") {
  return {{"indicatorValue", value}, {"indicatorType", type},
          {"action", action},        {"title", "t"},
          {"description", "d"},      {"application", "vc-test"},
          {"severity", "High"},      {"expirationTime", "2099-01-01T00:00:00Z"}};
}

class MdeIndicatorsEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(Json::object()); }
  void TearDown() override { EXPECT_THAT(set_->AssertionFailures(), IsEmpty()); }
  void Start(const Json& mde_options) {
    if (set_) set_->Stop();
    EmulatorSetOptions options;
    options.mde = MdeEmulator::Options::FromJson(mde_options);
    set_ = std::make_unique<EmulatorSet>(options, clock_);
    set_->Start();
    EntraEmulator& entra = set_->entra();
    set_->mde().SetTokenOwnerLookup(
        [&entra](const std::string& token) { return entra.ClientIdOf(token); });
    httplib::Client login(set_->entra().BaseUrl());
    const auto& o = set_->entra().options();
    auto r = login.Post("/" + o.tenant_id + "/oauth2/v2.0/token",
                        httplib::Params{{"grant_type", "client_credentials"},
                                        {"client_id", o.client_id},
                                        {"client_secret", o.client_secret},
                                        {"scope", kMdeScope}});
    ASSERT_TRUE(r);
    token_ = Json::parse(r->body)["access_token"].get<std::string>();
    mde_ = std::make_unique<httplib::Client>(set_->mde().BaseUrl());
    mde_->set_url_encode(false);
  }
  httplib::Headers Auth() const { return {{"Authorization", "Bearer " + token_}}; }
  httplib::Result Get(const std::string& path) { return mde_->Get(path.c_str(), Auth()); }
  httplib::Result Post(const std::string& path, const Json& body) {
    return mde_->Post(path.c_str(), Auth(), body.dump(), "application/json");
  }
  Json Import(const Json& items, int status = 200) {
    auto r = Post("/api/indicators/import", {{"Indicators", items}});
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    return Json::parse(r->body, nullptr, false);
  }
  Json State() { return set_->mde().StateJson()["indicators"]; }
  static void ExpectError(const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(Json::parse(r->body)["error"]["code"], code) << r->body;
  }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> mde_;
  std::string token_;
};

TEST_F(MdeIndicatorsEmulatorTest, DocumentedImportRequestGetsTheDocumentedAnswerShape) {
  // The fixture's indicators expire at the end of 2021.
  clock_.Set(*ParseIso8601("2021-01-01T00:00:00Z"));
  Start(Json::object());
  const Json request = ReadFixture("indicators_import_request_docs.json");
  const Json expected = ReadFixture("indicators_import_response_docs.json");
  // The fixture's "Alert" action is legacy; MDE still accepts it.
  auto r = Post("/api/indicators/import", request);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json answer = Json::parse(r->body);
  ASSERT_THAT(answer["value"], SizeIs(2));
  for (size_t i = 0; i < 2; ++i) {
    for (const auto& [key, _] : expected["value"][i].items()) {
      EXPECT_TRUE(answer["value"][i].contains(key)) << key;
    }
    EXPECT_EQ(answer["value"][i]["indicator"], expected["value"][i]["indicator"]);
    EXPECT_EQ(answer["value"][i]["isFailed"], false);
    EXPECT_TRUE(answer["value"][i]["failureReason"].is_null());
  }
  const Json state = State();
  ASSERT_THAT(state, SizeIs(2));
  EXPECT_EQ(state[1]["indicatorType"], "FileSha256");
  EXPECT_EQ(state[1]["severity"], "Medium");
  EXPECT_EQ(state[1]["application"], "demo-test2");
  EXPECT_EQ(state[1]["id"], answer["value"][1]["id"]);
  // Every field of the documented entity is there.
  const Json entity = ReadFixture("indicator_entity_docs.json");
  for (const auto& [key, _] : entity.items()) {
    EXPECT_TRUE(state[0].contains(key)) << key;
  }
}

TEST_F(MdeIndicatorsEmulatorTest, InvalidItemsFailOnTheirOwnAndTheRestGoIn) {
  const Json answer = Import(Json::array(
      {Body(Hex64(1)), Body("not-a-hash"), Body("10.0.0.1/8", "IpAddress"),
       Body("bad_domain!", "DomainName"), Body("evil.example", "DomainName", "BlockAndRemediate"),
       Body("203.0.113.9", "IpAddress", "Audit"), Body("ftp://x.example/", "Url")}));
  const Json& v = answer["value"];
  ASSERT_THAT(v, SizeIs(7));
  EXPECT_EQ(v[0]["isFailed"], false);
  EXPECT_THAT(v[1]["failureReason"].get<std::string>(), HasSubstr("InvalidHashValue"));
  EXPECT_THAT(v[2]["failureReason"].get<std::string>(), HasSubstr("CIDR"));
  EXPECT_THAT(v[3]["failureReason"].get<std::string>(), HasSubstr("InvalidDomainName"));
  EXPECT_THAT(v[4]["failureReason"].get<std::string>(), HasSubstr("BlockAndRemediate"));
  EXPECT_THAT(v[5]["failureReason"].get<std::string>(), HasSubstr("generateAlert"));
  EXPECT_THAT(v[6]["failureReason"].get<std::string>(), HasSubstr("InvalidUrl"));
  for (size_t i = 1; i < 7; ++i) {
    EXPECT_EQ(v[i]["isFailed"], true);
    EXPECT_TRUE(v[i]["id"].is_null());
  }
  EXPECT_THAT(State(), SizeIs(1));
}

TEST_F(MdeIndicatorsEmulatorTest, SameValueAndTypeUpdatesInsteadOfDuplicating) {
  const Json first = Import(Json::array({Body(Hex64(0xabc))}));
  std::string upper = Hex64(0xabc);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  // Upper-case hex is the same hash.
  Json changed = Body(upper);
  changed["action"] = "Warn";
  changed["severity"] = "Low";
  changed["application"] = "someone-else";
  const Json second = Import(Json::array({changed}));
  EXPECT_EQ(second["value"][0]["id"], first["value"][0]["id"]);
  const Json state = State();
  ASSERT_THAT(state, SizeIs(1));
  EXPECT_EQ(state[0]["action"], "Warn");
  EXPECT_EQ(state[0]["severity"], "Low");
  EXPECT_EQ(state[0]["application"], "vc-test");  // applies on create only
  // Another type with the same text is another indicator.
  Import(Json::array({Body("evil.example", "DomainName"), Body("evil.example", "DomainName")}));
  EXPECT_THAT(State(), SizeIs(2));
}

TEST_F(MdeIndicatorsEmulatorTest, BatchOver500AndBadBodiesAreRefusedWhole) {
  Json many = Json::array();
  for (int i = 0; i < 501; ++i) many.push_back(Body(Hex64(i)));
  ExpectError(Post("/api/indicators/import", {{"Indicators", many}}), 400,
              "MaximumBatchSizeExceeded");
  ExpectError(Post("/api/indicators/import", {{"indicators", Json::array({Body(Hex64(1))})}}), 400,
              "InvalidRequestBody");
  Json wrong_case = Body(Hex64(1));
  wrong_case.erase("indicatorValue");
  wrong_case["IndicatorValue"] = Hex64(1);
  ExpectError(Post("/api/indicators/import", {{"Indicators", Json::array({wrong_case})}}), 400,
              "InvalidRequestBody");
  EXPECT_THAT(State(), IsEmpty());
}

TEST_F(MdeIndicatorsEmulatorTest, TenantCapFailsNewValuesButStillUpdatesExistingOnes) {
  Start({{"indicator_cap", 3}});
  Import(Json::array({Body(Hex64(1)), Body(Hex64(2))}));
  const Json answer =
      Import(Json::array({Body(Hex64(3)), Body(Hex64(4)), Body(Hex64(1), "FileSha256", "Warn")}));
  EXPECT_EQ(answer["value"][0]["isFailed"], false);
  EXPECT_EQ(answer["value"][1]["isFailed"], true);
  EXPECT_THAT(answer["value"][1]["failureReason"].get<std::string>(), HasSubstr("maximum of 3"));
  EXPECT_EQ(answer["value"][2]["isFailed"], false);
  EXPECT_THAT(State(), SizeIs(3));
  // Expired indicators do not count against the cap.
  Json short_lived = Body(Hex64(2));
  short_lived["expirationTime"] = FormatIso8601(clock_.Now() + std::chrono::minutes(10));
  Import(Json::array({short_lived}));
  clock_.Advance(std::chrono::minutes(20));
  EXPECT_EQ(Import(Json::array({Body(Hex64(4))}))["value"][0]["isFailed"], false);
}

TEST_F(MdeIndicatorsEmulatorTest, ListFiltersAndPagesWithNextLink) {
  Start({{"indicator_page_size", 2}});
  Import(Json::array({Body(Hex64(1)), Body(Hex64(2)), Body(Hex64(3)),
                      Body("evil.example", "DomainName"), Body(Hex64(5))}));
  std::vector<std::string> values;
  std::string path = "/api/indicators";
  int pages = 0;
  for (;;) {
    auto r = Get(path);
    ASSERT_EQ(r->status, 200) << r->body;
    const Json page = Json::parse(r->body);
    EXPECT_LE(page["value"].size(), 2u);
    for (const auto& i : page["value"]) values.push_back(i["indicatorValue"]);
    ++pages;
    if (!page.contains("@odata.nextLink")) break;
    const std::string next = page["@odata.nextLink"];
    ASSERT_EQ(next.rfind(set_->mde().BaseUrl(), 0), 0u) << next;
    path = next.substr(set_->mde().BaseUrl().size());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(values, SizeIs(5));
  EXPECT_EQ(values[3], "evil.example");

  auto filtered = Get("/api/indicators?%24filter=" +
                      httplib::detail::encode_query_param("indicatorType eq 'DomainName'"));
  ASSERT_EQ(filtered->status, 200) << filtered->body;
  ASSERT_THAT(Json::parse(filtered->body)["value"], SizeIs(1));
  auto top = Get("/api/indicators?%24top=3");
  EXPECT_THAT(Json::parse(top->body)["value"], SizeIs(3));
  EXPECT_FALSE(Json::parse(top->body).contains("@odata.nextLink"));
  ExpectError(
      Get("/api/indicators?%24filter=" + httplib::detail::encode_query_param("application eq 'x'")),
      400, "ODataError");
}

TEST_F(MdeIndicatorsEmulatorTest, BatchDeleteAndDelete) {
  const Json answer = Import(Json::array({Body(Hex64(1)), Body(Hex64(2)), Body(Hex64(3))}));
  const std::string a = answer["value"][0]["id"], b = answer["value"][1]["id"],
                    c = answer["value"][2]["id"];
  // An unknown id fails the whole request and deletes nothing.
  ExpectError(Post("/api/indicators/BatchDelete", {{"IndicatorIds", {a, "999999"}}}), 404,
              "NotFound");
  ExpectError(Post("/api/indicators/BatchDelete", {{"IndicatorIds", Json::array()}}), 400,
              "InvalidInput");
  ExpectError(Post("/api/indicators/BatchDelete", {{"IndicatorIds", {"abc"}}}), 400,
              "InvalidInput");
  EXPECT_THAT(State(), SizeIs(3));
  auto r = Post("/api/indicators/BatchDelete", {{"IndicatorIds", {a, b}}});
  EXPECT_EQ(r->status, 204) << r->body;
  ASSERT_THAT(State(), SizeIs(1));
  EXPECT_EQ(State()[0]["id"], c);
  auto d = mde_->Delete(("/api/indicators/" + c).c_str(), Auth());
  EXPECT_EQ(d->status, 204);
  EXPECT_THAT(State(), IsEmpty());
  ExpectError(mde_->Delete(("/api/indicators/" + c).c_str(), Auth()), 404, "NotFound");
  // A deleted value can come back as a new indicator.
  EXPECT_EQ(Import(Json::array({Body(Hex64(1))}))["value"][0]["isFailed"], false);
}

TEST_F(MdeIndicatorsEmulatorTest, ImportAndBatchDeleteQuotasAnswer429WithRetryAfter) {
  Start({{"enforce_limits", true}});
  for (int i = 0; i < 30; ++i) Import(Json::array({Body(Hex64(i))}));
  auto r = Post("/api/indicators/import", {{"Indicators", Json::array({Body(Hex64(99))})}});
  ExpectError(r, 429, "TooManyRequests");
  EXPECT_TRUE(r->has_header("Retry-After"));
  clock_.Advance(std::chrono::seconds(61));
  Import(Json::array({Body(Hex64(99))}));
  const Json state = State();
  for (int i = 0; i < 30; ++i) {
    auto del = Post("/api/indicators/BatchDelete", {{"IndicatorIds", {state[i]["id"]}}});
    EXPECT_EQ(del->status, 204) << i << del->body;
  }
  ExpectError(Post("/api/indicators/BatchDelete", {{"IndicatorIds", {state[30]["id"]}}}), 429,
              "TooManyRequests");
  EXPECT_EQ(set_->mde().StateJson()["limit_violations"], 2);
}

TEST_F(MdeIndicatorsEmulatorTest, SeedsAreCheckedWholeAndFillReachesTheCap) {
  Start({{"indicator_cap", 50}});
  auto problem = set_->mde().Seed({{"indicators", Json::array({Body(Hex64(1)), Body("nope")})}});
  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("indicators[1]"));
  EXPECT_THAT(State(), IsEmpty());
  ASSERT_FALSE(set_->mde().Seed({{"indicators", {{"fill", 50}}}}).has_value());
  EXPECT_THAT(State(), SizeIs(50));
  EXPECT_EQ(State()[0]["application"], "another-tool");
  EXPECT_EQ(Import(Json::array({Body(Hex64(1))}))["value"][0]["isFailed"], true);
  set_->mde().ResetState();
  EXPECT_THAT(State(), IsEmpty());
}

TEST_F(MdeIndicatorsEmulatorTest, DeniedTiPermissionIsForbidden) {
  ASSERT_FALSE(set_->mde().Seed({{"denied_permissions", {"Ti.ReadWrite.All"}}}).has_value());
  ExpectError(Get("/api/indicators"), 403, "Forbidden");
  ExpectError(Post("/api/indicators/import", {{"Indicators", Json::array({Body(Hex64(1))})}}), 403,
              "Forbidden");
}

}  // namespace
}  // namespace vc::emu
