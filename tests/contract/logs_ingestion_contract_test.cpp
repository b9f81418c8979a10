// The Logs Ingestion client (clients/monitor/logs_ingestion.hpp) built as the daemon builds it
// (Entra token for https://monitor.azure.com, retry policy) against the Logs Ingestion and Entra
// emulators: rows arrive as sent, many rows go in batches under 1 MB each (never a 413), a row
// too large alone or a non-object is refused before any request, a column the stream does not
// declare maps to a clear InvalidArgument (and says how many rows went in before), 403 names
// Monitoring Metrics Publisher, an unknown DCR is NotFound, and 429 is waited out without
// writing a row twice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/monitor/logs_ingestion.hpp"
#include "contract/contract_support.hpp"

namespace vc::contract {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LogsIngestionContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
  }
  void TearDown() override {
    client_.reset();
    tokens_.reset();
    ContractTest::TearDown();
  }
  monitor::LogsIngestionClient& client(const std::string& dcr = "") {
    if (!client_) {
      const auto& e = emulators().entra().options();
      auth::EntraOptions entra;
      entra.authority_host = emulators().entra().BaseUrl();
      entra.tenant_id = e.tenant_id;
      entra.client_id = e.client_id;
      entra.client_secret = Secret<>(e.client_secret);
      tokens_ = std::make_shared<auth::EntraTokenCache>(
          entra, MakePipeline({}, kUserAgent, nullptr), clock_);
      auto credential =
          std::make_shared<auth::EntraCredential>(tokens_, std::string(monitor::kMonitorResource));
      monitor::LogsIngestionOptions o;
      o.endpoint = dce().BaseUrl();
      o.dcr_immutable_id = dcr.empty() ? dce().options().dcr_immutable_id : dcr;
      client_ = std::make_unique<monitor::LogsIngestionClient>(
          o, MakePipeline({}, kUserAgent, credential));
    }
    return *client_;
  }
  emu::LogsIngestionEmulator& dce() { return emulators().logs_ingestion(); }
  static Json Row(int id, const std::string& description = "") {
    return {{"TimeGenerated", "2026-03-01T10:00:00Z"},
            {"SubmissionId", id},
            {"SubmissionStatus", "finished"},
            {"SampleId", 5000 + id},
            {"SampleVerdict", "malicious"},
            {"SampleVtiScore", 88},
            {"SampleClassifications", {"Ransomware"}},
            {"SampleThreatNames", {"Mal/Generic-S"}},
            {"SampleVerdictReasonDescription", description},
            {"AttachmentName", "invoice.docm"},
            {"EmailSubject", "Invoice <urgent>"},
            {"EmailSender", "mallory@evil.example"}};
  }
  std::vector<int> StoredIds() {
    std::vector<int> ids;
    const Json state = dce().StateJson();  // held: a range-for over a temporary's member dangles
    for (const auto& r : state["rows"]) ids.push_back(r["SubmissionId"]);
    return ids;
  }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<monitor::LogsIngestionClient> client_;
};

TEST_F(LogsIngestionContractTest, RowsArriveAsSentInOneRequest) {
  auto sent = client().Upload({Row(1), Row(2), Row(3)});
  ASSERT_TRUE(sent) << sent.error().ToString();
  EXPECT_EQ(sent->rows, 3u);
  EXPECT_EQ(sent->requests, 1u);
  EXPECT_THAT(StoredIds(), ElementsAre(1, 2, 3));
  EXPECT_EQ(dce().StateJson()["rows"][0], Row(1));
  const auto calls =
      CallsTo(dce(), "POST", "/dataCollectionRules/.*/streams/Custom-VMRaySubmissions_CL");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(OnlyValue(DecodePairs(calls[0].query), "api-version"), "2023-01-01");
  EXPECT_EQ(calls[0].auth, "Bearer");
  EXPECT_EQ(calls[0].content_type, "application/json");
  EXPECT_EQ(emulators().entra().StateJson()["tokens_issued"]["https://monitor.azure.com"], 1);
}

TEST_F(LogsIngestionContractTest, ManyRowsGoInBatchesUnderOneMegabyte) {
  std::vector<Json> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(Row(i, std::string(900, 'x')));
  auto sent = client().Upload(rows);
  ASSERT_TRUE(sent) << sent.error().ToString();
  EXPECT_EQ(sent->rows, 3000u);
  EXPECT_GE(sent->requests, 3u);
  const Json state = dce().StateJson();
  ASSERT_EQ(state["rows"].size(), 3000u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(state["rows"][i]["SubmissionId"], i);
  ASSERT_EQ(state["uploads"].size(), sent->requests);
  for (const auto& u : state["uploads"]) EXPECT_LE(u["bytes"].get<int64_t>(), 1024 * 1024);
  EXPECT_EQ(state["rejected"], 0);
}

TEST_F(LogsIngestionContractTest, BatchesNeverExceedTheLimitAndKeepOrder) {
  std::vector<Json> rows;
  for (int i = 0; i < 50; ++i) rows.push_back(Row(i, std::string(i * 7, 'y')));
  auto batches = monitor::LogsIngestionClient::Batches(rows, 2000);
  ASSERT_TRUE(batches) << batches.error().ToString();
  size_t total = 0;
  int next = 0;
  for (const auto& [body, count] : *batches) {
    EXPECT_LE(body.size(), 2000u);
    const Json parsed = Json::parse(body);
    ASSERT_EQ(parsed.size(), count);
    for (const auto& r : parsed) EXPECT_EQ(r["SubmissionId"], next++);
    total += count;
  }
  EXPECT_EQ(total, 50u);
}

TEST_F(LogsIngestionContractTest, RowTooLargeAloneIsRefusedBeforeSending) {
  auto sent = client().Upload({Row(1), Row(2, std::string(1100 * 1024, 'z'))});
  ASSERT_FALSE(sent);
  EXPECT_EQ(Seen(sent.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(sent.error().message, HasSubstr("row 1"));
  EXPECT_THAT(sent.error().message, HasSubstr("nothing was sent"));
  auto not_object = client().Upload({Json::array({1, 2})});
  ASSERT_FALSE(not_object);
  EXPECT_EQ(Seen(not_object.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(CallsTo(dce(), "POST", ".*"), IsEmpty());
}

TEST_F(LogsIngestionContractTest, UnknownColumnIsAClearErrorSayingWhatWentInBefore) {
  std::vector<Json> rows;
  for (int i = 0; i < 1500; ++i) rows.push_back(Row(i, std::string(900, 'x')));
  rows.back()["NotAColumn"] = "x";  // in the last batch
  auto sent = client().Upload(rows);
  ASSERT_FALSE(sent);
  EXPECT_EQ(Seen(sent.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(sent.error().http_status, 400);
  EXPECT_EQ(sent.error().service_code, "InvalidPayload");
  EXPECT_THAT(sent.error().message, HasSubstr("NotAColumn"));
  EXPECT_THAT(sent.error().message, HasSubstr("rows were ingested already"));
  const size_t stored = dce().StateJson()["rows"].size();
  EXPECT_GT(stored, 0u);
  EXPECT_THAT(sent.error().message, HasSubstr(fmt::format("first {} of 1500", stored)));
  // Not retried: a 400 does not heal.
  EXPECT_EQ(StatusesOf(CallsTo(dce(), "POST", ".*")).back(), 400);
}

TEST_F(LogsIngestionContractTest, WithoutThePublisherRoleTheErrorSaysWhatToAssign) {
  Seed({{"logs_ingestion", {{"publishers", {"another-app"}}}}});
  auto sent = client().Upload({Row(1)});
  ASSERT_FALSE(sent);
  EXPECT_EQ(Seen(sent.error()).code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(sent.error().service, "monitor");
  EXPECT_THAT(sent.error().message, HasSubstr("Monitoring Metrics Publisher"));
  EXPECT_THAT(sent.error().message, HasSubstr(dce().options().dcr_immutable_id));
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(LogsIngestionContractTest, UnknownDcrIsNotFound) {
  auto sent = client("dcr-ffffffffffffffffffffffffffffffff").Upload({Row(1)});
  ASSERT_FALSE(sent);
  EXPECT_EQ(Seen(sent.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(sent.error().message, HasSubstr("immutable id"));
}

TEST_F(LogsIngestionContractTest, ThrottledThenWrittenOnce) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/dataCollectionRules/.*";
  rule.status = 429;
  rule.retry_after = "3";
  dce().AddFault(rule);
  auto sent = client().Upload({Row(1), Row(2)});
  ASSERT_TRUE(sent) << sent.error().ToString();
  EXPECT_THAT(StatusesOf(CallsTo(dce(), "POST", ".*")), ElementsAre(429, 204));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(3000)));
  EXPECT_THAT(StoredIds(), ElementsAre(1, 2));
}

TEST_F(LogsIngestionContractTest, ServerErrorIsNotResentBlindly) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/dataCollectionRules/.*";
  rule.status = 500;
  dce().AddFault(rule);
  auto sent = client().Upload({Row(1)});
  ASSERT_FALSE(sent);
  EXPECT_EQ(Seen(sent.error()).code, ErrorCode::kUnavailable);
  // POST is not idempotent: after a 500 the rows may have been written, so no resend here.
  EXPECT_EQ(CallsTo(dce(), "POST", ".*").size(), 1u);
}

}  // namespace
}  // namespace vc::contract
