// The Logs Ingestion emulator (emulators/logs_ingestion_emulator.cpp) against a plain HTTP
// client: rows matching the VMRaySubmissions_CL columns are accepted (204) and kept, gzip bodies
// too; unknown or wrongly typed columns are 400 InvalidPayload naming the row; over 1 MB is 413
// ContentLengthLimitExceeded; an unknown DCR is 404 and stream 400; a token for another audience
// is 401; an app without Monitoring Metrics Publisher gets 403 OperationFailed; injected 429
// carries Retry-After; the api-version is required.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"
#include "http/gzip.hpp"

namespace vc::emu {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LogsIngestionEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::make_unique<EmulatorSet>(EmulatorSetOptions{}, clock_);
    set_->Start();
    dce_ = std::make_unique<httplib::Client>(set_->logs_ingestion().BaseUrl());
    token_ = Token("https://monitor.azure.com/.default");
  }
  void TearDown() override {
    if (check_assertions_) {
      EXPECT_THAT(set_->AssertionFailures(), IsEmpty());
    }
  }
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
  std::string Path(const std::string& dcr = "", const std::string& stream = "",
                   const std::string& version = "2023-01-01") const {
    const auto& o = set_->logs_ingestion().options();
    return "/dataCollectionRules/" + (dcr.empty() ? o.dcr_immutable_id : dcr) + "/streams/" +
           (stream.empty() ? o.stream : stream) + "?api-version=" + version;
  }
  httplib::Result Post(const std::string& body, const std::string& path = "",
                       const std::string& token = "", httplib::Headers extra = {}) {
    extra.emplace("Authorization", "Bearer " + (token.empty() ? token_ : token));
    return dce_->Post(path.empty() ? Path() : path, extra, body, "application/json");
  }
  static Json Row(int id) {
    return {{"TimeGenerated", "2026-03-01T10:00:00Z"},
            {"SubmissionId", id},
            {"SubmissionStatus", "finished"},
            {"SampleId", 1000 + id},
            {"SampleFileName", "invoice.docm"},
            {"SampleVerdict", "malicious"},
            {"SampleVtiScore", 92.5},
            {"SampleClassifications", {"Downloader"}},
            {"SampleThreatNames", Json::array()},
            {"SampleSha256", std::string(64, 'a')},
            {"EmailSubject", "<b>Invoice</b>"},
            {"EmailRecipients", "a@contoso.com; b@contoso.com"}};
  }
  int64_t Rejected() { return set_->logs_ingestion().StateJson()["rejected"]; }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> dce_;
  std::string token_;
  bool check_assertions_ = true;
};

TEST_F(LogsIngestionEmulatorTest, MatchingRowsAreAcceptedAndKept) {
  auto r = Post(Json::array({Row(1), Row(2)}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_TRUE(r->body.empty());
  const Json state = set_->logs_ingestion().StateJson();
  ASSERT_EQ(state["rows"].size(), 2u);
  EXPECT_EQ(state["rows"][1]["SubmissionId"], 2);
  EXPECT_EQ(state["rows"][0]["EmailSubject"], "<b>Invoice</b>");
  ASSERT_EQ(state["uploads"].size(), 1u);
  EXPECT_EQ(state["uploads"][0]["rows"], 2);
  EXPECT_EQ(state["uploads"][0]["gzip"], false);
}

TEST_F(LogsIngestionEmulatorTest, GzipBodyIsAccepted) {
  auto r = Post(http::Gzip(Json::array({Row(1)}).dump()), "", "", {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  const Json state = set_->logs_ingestion().StateJson();
  ASSERT_EQ(state["rows"].size(), 1u);
  EXPECT_EQ(state["uploads"][0]["gzip"], true);
}

TEST_F(LogsIngestionEmulatorTest, UnknownOrWronglyTypedColumnIs400NamingTheRow) {
  Json unknown = Row(2);
  unknown["Sha256"] = "x";
  auto r = Post(Json::array({Row(1), unknown}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get_header_value("x-ms-error-code"), "InvalidPayload");
  const Json error = Json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "InvalidPayload");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("Row 1"));
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("'Sha256'"));
  Json typed = Row(3);
  typed["SubmissionId"] = "3";
  r = Post(Json::array({typed}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("SubmissionId"));
  typed = Row(4);
  typed["TimeGenerated"] = "yesterday";
  r = Post(Json::array({typed}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Nothing of a refused request is kept.
  EXPECT_EQ(set_->logs_ingestion().StateJson()["rows"].size(), 0u);
  EXPECT_EQ(Rejected(), 3);
}

TEST_F(LogsIngestionEmulatorTest, OverOneMegabyteIs413) {
  Json rows = Json::array();
  size_t bytes = 2;
  while (bytes <= 1024 * 1024) {
    rows.push_back(Row(static_cast<int>(rows.size())));
    bytes += rows.back().dump().size() + 1;
  }
  auto r = Post(rows.dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  const Json error = Json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "ContentLengthLimitExceeded");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("1048576 bytes"));
  // Compressed small but over 1 MB inflated: refused as well.
  r = Post(http::Gzip(rows.dump()), "", "", {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(set_->logs_ingestion().StateJson()["rows"].size(), 0u);
}

TEST_F(LogsIngestionEmulatorTest, UnknownDcrIs404AndUnknownStream400) {
  auto r = Post(Json::array({Row(1)}).dump(), Path("dcr-ffffffffffffffffffffffffffffffff"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = Post(Json::array({Row(1)}).dump(), Path("", "Custom-Other_CL"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "InvalidStream");
}

TEST_F(LogsIngestionEmulatorTest, TokenForAnotherAudienceIs401) {
  auto r = Post(Json::array({Row(1)}).dump(), "", Token("https://graph.microsoft.com/.default"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = dce_->Post(Path(), Json::array({Row(1)}).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(LogsIngestionEmulatorTest, AppWithoutMonitoringMetricsPublisherIs403) {
  ASSERT_FALSE(set_->Seed({{"logs_ingestion", {{"publishers", {"some-other-app"}}}}}));
  auto r = Post(Json::array({Row(1)}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  const Json error = Json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "OperationFailed");
  EXPECT_THAT(error["message"].get<std::string>(),
              HasSubstr("does not have access to ingest data for the data collection rule"));
  // Granting the role to this app lets the same request through.
  ASSERT_FALSE(
      set_->Seed({{"logs_ingestion", {{"publishers", {set_->entra().options().client_id}}}}}));
  r = Post(Json::array({Row(1)}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
}

TEST_F(LogsIngestionEmulatorTest, InjectedThrottlingCarriesRetryAfter) {
  FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/dataCollectionRules/.*";
  rule.status = 429;
  rule.retry_after = "3";
  set_->logs_ingestion().AddFault(rule);
  auto r = Post(Json::array({Row(1)}).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "3");
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "TooManyRequests");
  EXPECT_EQ(set_->logs_ingestion().StateJson()["rows"].size(), 0u);
}

TEST_F(LogsIngestionEmulatorTest, WrongApiVersionOrASingleObjectIsAnAssertion) {
  check_assertions_ = false;
  auto r = Post(Json::array({Row(1)}).dump(), Path("", "", "2021-11-01-preview"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = Post(Row(1).dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(set_->AssertionFailures().size(), 2u);
}

TEST_F(LogsIngestionEmulatorTest, OptionsAndSeedAreChecked) {
  EXPECT_THROW(LogsIngestionEmulator::Options::FromJson({{"columns", {{"A", "number"}}}}),
               std::invalid_argument);
  EXPECT_THROW(LogsIngestionEmulator::Options::FromJson({{"nope", 1}}), std::invalid_argument);
  const auto o = LogsIngestionEmulator::Options::FromJson(
      {{"dcr_immutable_id", "dcr-1"}, {"columns", {{"A", "string"}}}, {"max_body_bytes", 10}});
  EXPECT_EQ(o.dcr_immutable_id, "dcr-1");
  EXPECT_EQ(o.columns.size(), 1u);
  EXPECT_TRUE(set_->Seed({{"logs_ingestion", {{"rows", {{{"Nope", 1}}}}}}}));
  EXPECT_TRUE(set_->Seed({{"logs_ingestion", {{"bogus", 1}}}}));
}

}  // namespace
}  // namespace vc::emu
