// Dry run (daemon.dry_run): every job runs, nothing reaches the analysts. Checked through the
// emulators' call logs, Azurite and a real SMTP server, plus the log that lists what would
// have been written.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "pipeline_test_support.hpp"
#include "smtp_test_server.hpp"

namespace vc::testing {
namespace {

constexpr const char* kKnown = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";

TEST_F(PipelineTest, DryRunWritesNothingAndLogsEveryWriteBack) {
  auto azurite = test::SharedAzurite();
  ASSERT_TRUE(azurite) << azurite.error().message;
  mail::testing::SmtpTestServer smtp("mailbox");
  ASSERT_NE(smtp.port(), 0);
  auto log = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "dry-run-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*log)));

  const std::string alert = "da" + DefaultRandom().HexToken(8) + "_1";
  const std::string content = std::string("MZ dry run ") + kEicar;
  SeedVmraySample(kKnown, "malicious", Hours(1));
  Json a = Alert(alert, Sha256Hex(content), "dropper.exe");
  a["evidence"].push_back(Alert(alert, kKnown)["evidence"][0]);
  SeedMde({a}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DAEMON_DRY_RUN", "true"},
                           {"AzureStorageConnectionString", (*azurite)->ConnectionString()},
                           {"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                           {"VMRAY_CONNECTOR_MAIL_SMTP_URL", smtp.url()},
                           {"VMRAY_CONNECTOR_MAIL_REQUIRE_STARTTLS", "false"},
                           {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
                           {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"}});
  const bool settled = Run(*d);
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(settled);

  // The work ran: the unknown file was collected and analysed.
  EXPECT_EQ(SubmitCalls(), 1u);
  for (const auto& job : AllJobs(*d)) {
    EXPECT_EQ(job.state, "done") << job.key << ": " << job.reason;
    EXPECT_EQ(job.reason.rfind("dry run (nothing written): verdict", 0), 0u) << job.reason;
  }
  // Nothing was written: no comment, no status record, no mail.
  EXPECT_EQ(CommentCalls(), 0u);
  EXPECT_TRUE(Comments(alert).empty());
  EXPECT_TRUE(smtp.Messages().empty());
  Random& random = DefaultRandom();
  auto blob = blob::BlobClient::FromConnectionString(
      (*azurite)->ConnectionString(),
      std::make_shared<http::CurlTransport>(http::TransportOptions{}), clock_, random);
  ASSERT_TRUE(blob);
  auto record = (*blob)->GetBlobProperties(blob::kStatusContainer, alert + ".json");
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().code, ErrorCode::kNotFound);

  // The log lists each of them.
  const std::string text = log->str();
  EXPECT_NE(text.find("dry run: would write alert_comment for " + alert +
                      " (key alert-comment:" + alert + ":" + Sha256Hex(content) + ")"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("alert-comment:" + alert + ":" + std::string(kKnown)), std::string::npos);
  EXPECT_NE(text.find("dry run: would write status_record for " + alert), std::string::npos);
  EXPECT_NE(text.find("dry run: would write mail_notification for " + alert), std::string::npos);
  EXPECT_NE(text.find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos)
      << "the comment text itself is logged";
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
