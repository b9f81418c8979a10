// `daemon.dry_run` through the real binaries, set the way an operator would (one environment
// variable): every alert is collected, analysed and settled, every write-back (alert comment,
// MDE indicators, incident tags and comment, status record in real Azurite, mail to a real SMTP
// server) is logged as "dry run: would write ...", and none of them reaches a service.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "core/hash.hpp"
#include "e2e_support.hpp"
#include "http/curl_transport.hpp"
#include "smtp_test_server.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

TEST(DryRunE2E, EveryWriteBackIsLoggedAndNoneIsWritten) {
  auto azurite = test::SharedAzurite();
  ASSERT_TRUE(azurite) << azurite.error().message;
  SystemClock clock;
  auto blob = blob::BlobClient::FromConnectionString(
      (*azurite)->ConnectionString(),
      std::make_shared<http::CurlTransport>(http::TransportOptions{}), clock, DefaultRandom());
  ASSERT_TRUE(blob) << blob.error().message;
  mail::testing::SmtpTestServer smtp("mailbox");
  ASSERT_NE(smtp.port(), 0);
  const std::string dir = TempDir("vc-e2e-dry-run");
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary(), {}));

  // Known files with each verdict, and one unknown file that has to be collected and submitted.
  const std::string malicious = Sha256Hex("dry-run e2e malicious");
  const std::string suspicious = Sha256Hex("dry-run e2e suspicious");
  const std::string clean = Sha256Hex("dry-run e2e clean");
  const std::string content = std::string("MZ dry-run e2e collected ") + testing::kEicar;
  const std::string machine = std::string(40, '7');
  Json alerts = Json::array();
  std::vector<std::string> ids;
  int n = 0;
  for (const auto& sha : {malicious, suspicious, clean, Sha256Hex(content)}) {
    ids.push_back("dry" + std::to_string(n));
    Json a = AlertJson(ids.back(), machine, sha, "f" + std::to_string(n) + ".exe");
    a["incidentId"] = 7000;  // one incident: one tag set, one comment
    alerts.push_back(std::move(a));
    ++n;
  }
  alerts[3]["evidence"][0]["fileName"] = "collected.exe";
  ASSERT_TRUE(app::PostJson(
      emulators.Url("mde") + "/_emulator/state",
      {{"alerts", alerts},
       {"machines", Json::array({MachineJson(
                        machine, {{"C:\\Users\\alice\\Downloads\\collected.exe", content}})})}}));
  ASSERT_TRUE(app::PostJson(
      emulators.Url("vmray") + "/_emulator/state",
      {{"samples",
        Json::array(
            {{{"sha256", malicious}, {"verdict", "malicious"}, {"threat_names", {"Trojan.DryRun"}}},
             {{"sha256", suspicious}, {"verdict", "suspicious"}},
             {{"sha256", clean}, {"verdict", "clean"}}})}}));

  auto env = ConnectorEnv(emulators, dir);
  env.insert(env.end(), {
                            {"VMRAY_CONNECTOR_DAEMON_DRY_RUN", "true"},
                            {"CreateIndicatorsInDefender", "true"},
                            {"AddTagsToIncident", "true"},
                            {"AddCommentsToIncident", "true"},
                            {"AzureStorageConnectionString", (*azurite)->ConnectionString()},
                            {"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                            {"VMRAY_CONNECTOR_MAIL_SMTP_URL", smtp.url()},
                            {"VMRAY_CONNECTOR_MAIL_REQUIRE_STARTTLS", "false"},
                            {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
                            {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"},
                        });
  ConnectorProcess connector;
  ASSERT_TRUE(connector.Start(env));
  // The mail is each alert's last write-back (it waits for the alert to settle).
  auto logged_all = [&] {
    const std::string log = ReadFile(dir + "/connector.log");
    for (const auto& id : ids) {
      if (log.find("dry run: would write mail_notification for " + id) == std::string::npos)
        return false;
    }
    return true;
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!logged_all() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A moment more for anything that would (wrongly) still be written.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  connector.Kill(SIGTERM);
  EXPECT_EQ(connector.Wait(), 0);
  ASSERT_TRUE(logged_all()) << ReadFile(dir + "/connector.log");

  const std::string log = ReadFile(dir + "/connector.log");
  for (const auto& id : ids) {
    EXPECT_NE(log.find("dry run: would write alert_comment for " + id), std::string::npos) << id;
    EXPECT_NE(log.find("dry run: would write status_record for " + id), std::string::npos) << id;
  }
  EXPECT_NE(log.find("dry run: would write mde_indicators"), std::string::npos);
  EXPECT_NE(log.find("dry run: would write incident_tags"), std::string::npos);
  EXPECT_NE(log.find("dry run: would write incident_comment"), std::string::npos);
  EXPECT_EQ(log.find("emu-client-secret-DO-NOT-LOG"), std::string::npos);
  EXPECT_EQ(log.find("emu-vmray-key-DO-NOT-LOG"), std::string::npos);

  // The analysis itself is real: the unknown file was collected and submitted once.
  const Json vmray = VmrayState(emulators);
  EXPECT_EQ(vmray.value("submit_count", -1), 1) << vmray.dump();
  // Nothing reached MDE, Graph, the blob container or the mailbox.
  const Json mde = MdeState(emulators);
  for (const auto& [id, comments] : Comments(mde)) EXPECT_TRUE(comments.empty()) << id;
  EXPECT_TRUE(mde.value("indicators", Json::array()).empty()) << mde["indicators"].dump();
  auto graph = app::GetJson(emulators.Url("graph") + "/_emulator/state");
  ASSERT_TRUE(graph);
  for (const auto& incident : graph->value("incidents", Json::array())) {
    EXPECT_TRUE(incident.value("comments", Json::array()).empty()) << incident.dump();
    EXPECT_TRUE(incident.value("customTags", Json::array()).empty()) << incident.dump();
  }
  auto blobs = (*blob)->ListBlobs(blob::kStatusContainer, "");
  if (blobs) {
    for (const auto& name : *blobs) {
      for (const auto& id : ids) EXPECT_NE(name, id + ".json") << "status record written";
    }
  }
  EXPECT_TRUE(smtp.Messages().empty());
}

}  // namespace
}  // namespace vc::e2e
