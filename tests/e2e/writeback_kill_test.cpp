// Issue 5's proof of exactly-once write-back: 300 alerts through the real binaries with every
// write-back on (alert comments, MDE indicators under a small budget, incident tags and
// comments through Graph, status records in real Azurite, one mail per alert to a real SMTP
// server), and SIGKILL at 20 seeded points spread over the run. Each restart continues the same
// store. At the end the emulators, Azurite and the SMTP server must hold exactly one of each.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <thread>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "clients/mail/mime.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "e2e_support.hpp"
#include "http/curl_transport.hpp"
#include "smtp_test_server.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

constexpr int kKnownAlerts = 290;
constexpr int kCollectedAlerts = 10;
constexpr int kAlerts = kKnownAlerts + kCollectedAlerts;
constexpr int kKnownFiles = 100;
constexpr int kAlertsPerIncident = 5;
constexpr int kIndicatorBudget = 60;
constexpr int kKills = 20;

std::string Verdict(int file) {
  const int r = file % 10;
  return r < 4 ? "malicious" : r < 7 ? "suspicious" : "clean";
}

int Rank(const std::string& verdict) {
  return verdict == "malicious" ? 3 : verdict == "suspicious" ? 2 : verdict == "clean" ? 1 : 0;
}

std::string Header(const Json& message, const std::string& name) {
  for (const auto& h : message["headers"]) {
    if (h[0].get<std::string>() == name) return h[1].get<std::string>();
  }
  return "";
}

// Everything the run wrote, read from the services themselves.
struct Observed {
  std::map<std::string, std::vector<std::string>> alert_comments;
  Json incidents = Json::array();
  Json indicators = Json::array();
  std::vector<std::string> status_blobs;
  std::vector<Json> mails;

  size_t Commented() const {
    size_t n = 0;
    for (const auto& [_, c] : alert_comments) n += c.empty() ? 0 : 1;
    return n;
  }
};

class WritebackKillRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    auto azurite = test::SharedAzurite();
    ASSERT_TRUE(azurite) << azurite.error().message;
    azurite_ = *azurite;
    auto blob = blob::BlobClient::FromConnectionString(
        azurite_->ConnectionString(),
        std::make_shared<http::CurlTransport>(http::TransportOptions{}), clock_, DefaultRandom());
    ASSERT_TRUE(blob) << blob.error().message;
    blob_ = std::move(*blob);
    dir_ = TempDir("vc-e2e-writeback-kill");
    {
      std::ofstream options(dir_ + "/emulators.json");
      // Limits off on both sides: the test is about duplicates and losses, not pacing, and
      // 300 alert updates at MDE's documented rate would take minutes.
      options << Json{{"mde", {{"enforce_limits", false}}}}.dump();
    }
    ASSERT_TRUE(emulators_.Start(EmulatorsBinary(), {"--options", dir_ + "/emulators.json"}));
  }

  Observed Observe() {
    Observed o;
    Json mde = MdeState(emulators_);
    o.alert_comments = Comments(mde);
    o.indicators = mde.value("indicators", Json::array());
    if (auto graph = app::GetJson(emulators_.Url("graph") + "/_emulator/state")) {
      o.incidents = graph->value("incidents", Json::array());
    }
    if (auto blobs = blob_->ListBlobs(blob::kStatusContainer, "")) o.status_blobs = *blobs;
    o.mails = smtp_.Messages();
    return o;
  }

  SystemClock clock_;
  test::AzuriteProcess* azurite_ = nullptr;
  std::unique_ptr<blob::BlobClient> blob_;
  std::string dir_;
  app::EmulatorProcess emulators_;
  mail::testing::SmtpTestServer smtp_{"mailbox"};
};

TEST_F(WritebackKillRestart, ThreeHundredAlertsTwentyKillsExactlyOnceEach) {
  ASSERT_NE(smtp_.port(), 0);
  // Known files (VMRay has a finished analysis): mixed verdicts, threat names on the bad ones.
  Json samples = Json::array();
  std::vector<std::string> known;
  for (int f = 0; f < kKnownFiles; ++f) {
    known.push_back(Sha256Hex("writeback-kill known file " + std::to_string(f)));
    Json s = {{"sha256", known.back()}, {"verdict", Verdict(f)}};
    if (Verdict(f) == "malicious") s["threat_names"] = {"Trojan.Kill" + std::to_string(f % 5)};
    samples.push_back(std::move(s));
  }
  // Alerts grouped five to an incident; the known-file alerts spread over 30 devices, each
  // unknown file on a device of its own (one Live Response session per device).
  Json alerts = Json::array();
  Json machines = Json::array();
  std::map<std::string, std::string> verdict_of_alert;  // known-file alerts only
  std::map<int64_t, std::vector<std::string>> alerts_of_incident;
  for (int m = 0; m < 30; ++m) machines.push_back(MachineJson(fmt::format("{:040d}", m), {}));
  for (int i = 0; i < kAlerts; ++i) {
    const std::string id = fmt::format("wk{:03d}", i);
    const int64_t incident = 5000 + i / kAlertsPerIncident;
    Json alert;
    if (i < kKnownAlerts) {
      const int f = i % kKnownFiles;
      alert = AlertJson(id, fmt::format("{:040d}", i % 30), known[f], fmt::format("k{}.exe", f));
      verdict_of_alert[id] = Verdict(f);
    } else {
      const std::string machine = fmt::format("{:040d}", 100 + i);
      const std::string content =
          "MZ writeback-kill collected " + std::to_string(i) + (i % 2 ? testing::kEicar : "");
      machines.push_back(MachineJson(
          machine, {{"C:\\Users\\alice\\Downloads\\c" + std::to_string(i) + ".exe", content}}));
      alert = AlertJson(id, machine, Sha256Hex(content), "c" + std::to_string(i) + ".exe");
    }
    alert["incidentId"] = incident;
    alerts_of_incident[incident].push_back(id);
    alerts.push_back(std::move(alert));
  }
  ASSERT_TRUE(app::PostJson(emulators_.Url("mde") + "/_emulator/state",
                            {{"alerts", alerts}, {"machines", machines}}));
  ASSERT_TRUE(app::PostJson(emulators_.Url("vmray") + "/_emulator/state", {{"samples", samples}}));

  auto env = ConnectorEnv(emulators_, dir_);
  env.insert(env.end(),
             {
                 {"VMRAY_CONNECTOR_DEFENDER_ENFORCE_RATE_LIMITS", "false"},
                 {"CreateIndicatorsInDefender", "true"},
                 {"VMRAY_CONNECTOR_DEFENDER_INDICATORS_BUDGET", std::to_string(kIndicatorBudget)},
                 {"AddTagsToIncident", "true"},
                 {"AddCommentsToIncident", "true"},
                 {"AzureStorageConnectionString", azurite_->ConnectionString()},
                 {"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                 {"VMRAY_CONNECTOR_MAIL_SMTP_URL", smtp_.url()},
                 {"VMRAY_CONNECTOR_MAIL_REQUIRE_STARTTLS", "false"},
                 {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
                 {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"},
                 // Info is enough; 300 alerts at debug make a large log under ASan.
                 {"VMRAY_CONNECTOR_LOG_LEVEL", "info"},
             });

  // Kill points: after a seeded number of alerts carries its comment, plus a seeded delay, so
  // the kills land at different stages (start-up and recovery, mid-batch, during the trailing
  // indicator, incident, blob and mail deliveries).
  SeededRandom random(20261205);
  std::vector<int> thresholds;
  for (int k = 0; k < kKills; ++k)
    thresholds.push_back(static_cast<int>(random.Uniform(0, kAlerts - 20)));
  std::sort(thresholds.begin(), thresholds.end());

  size_t max_indicators = 0;
  auto watch_budget = [&](const Observed& o) {
    max_indicators = std::max(max_indicators, o.indicators.size());
  };
  std::vector<size_t> commented_at_kill;
  for (int k = 0; k < kKills; ++k) {
    ConnectorProcess connector;
    ASSERT_TRUE(connector.Start(env));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    // Only the MDE state here (comments and indicators): cheap enough to poll quickly.
    while (std::chrono::steady_clock::now() < give_up) {
      Observed o;
      const Json mde = MdeState(emulators_);
      o.alert_comments = Comments(mde);
      o.indicators = mde.value("indicators", Json::array());
      watch_budget(o);
      if (static_cast<int>(o.Commented()) >= thresholds[k]) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int>(random.Uniform(0, 300))));
    connector.Kill(SIGKILL);
    connector.Wait();
    const Observed o = Observe();
    watch_budget(o);
    commented_at_kill.push_back(o.Commented());
  }
  // The kills must have spread over the run, or the test proves little.
  ASSERT_LT(commented_at_kill.front(), static_cast<size_t>(kAlerts / 3));
  ASSERT_GT(commented_at_kill.back(), static_cast<size_t>(kAlerts / 3));
  std::string spread;
  for (size_t n : commented_at_kill) spread += std::to_string(n) + " ";
  RecordProperty("alerts_commented_at_each_kill", spread);

  // The last process finishes the work.
  ConnectorProcess last;
  ASSERT_TRUE(last.Start(env));
  auto finished = [&](const Observed& o) {
    std::set<std::string> mail_ids;
    for (const auto& m : o.mails) mail_ids.insert(Header(m, "Message-ID"));
    size_t incidents_commented = 0;
    for (const auto& i : o.incidents) incidents_commented += i["comments"].empty() ? 0 : 1;
    return o.Commented() == static_cast<size_t>(kAlerts) &&
           o.status_blobs.size() >= static_cast<size_t>(kAlerts) &&
           mail_ids.size() >= static_cast<size_t>(kAlerts) &&
           incidents_commented >= alerts_of_incident.size();
  };
  Observed o;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < give_up) {
    o = Observe();
    watch_budget(o);
    if (finished(o)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // Let anything still queued (a duplicate would be) arrive before the final count.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  last.Kill(SIGTERM);
  EXPECT_EQ(last.Wait(), 0);
  o = Observe();
  watch_budget(o);
  ASSERT_TRUE(finished(o)) << "commented " << o.Commented() << ", blobs " << o.status_blobs.size()
                           << ", mails " << o.mails.size() << "\n"
                           << ReadFile(dir_ + "/connector.log").substr(0, 4000);

  // Exactly one connector comment per alert.
  for (const auto& a : alerts) {
    const std::string id = a["id"];
    EXPECT_EQ(o.alert_comments[id].size(), 1u) << id;
  }
  // Exactly one comment per incident, one verdict tag: the most severe of its known files.
  ASSERT_EQ(o.incidents.size(), alerts_of_incident.size());
  for (const auto& incident : o.incidents) {
    const int64_t id = std::stoll(incident["id"].get<std::string>());
    EXPECT_EQ(incident["comments"].size(), 1u) << "incident " << id;
    std::vector<std::string> verdict_tags;
    for (const auto& t : incident["customTags"]) {
      if (t.get<std::string>().rfind("VMRay Verdict: ", 0) == 0) verdict_tags.push_back(t);
    }
    EXPECT_EQ(verdict_tags.size(), 1u) << "incident " << id << ": " << incident["customTags"];
    std::string worst;
    bool all_known = true;
    for (const auto& alert : alerts_of_incident[id]) {
      auto it = verdict_of_alert.find(alert);
      if (it == verdict_of_alert.end()) {
        all_known = false;
      } else if (Rank(it->second) > Rank(worst)) {
        worst = it->second;
      }
    }
    if (all_known && !verdict_tags.empty()) {
      std::string expected = "VMRay Verdict: " + worst;
      expected[15] = static_cast<char>(std::toupper(expected[15]));
      EXPECT_EQ(verdict_tags.front(), expected) << "incident " << id;
    }
  }
  // One status record per alert, and nothing else in the container.
  std::set<std::string> expected_blobs;
  for (const auto& a : alerts) expected_blobs.insert(a["id"].get<std::string>() + ".json");
  EXPECT_EQ(std::set<std::string>(o.status_blobs.begin(), o.status_blobs.end()), expected_blobs);
  EXPECT_EQ(o.status_blobs.size(), expected_blobs.size());
  // One mail per alert. SMTP has no idempotent send: a kill between the server's "250 OK" and
  // the store's commit can only be repaired by the stable Message-ID, which lets the receiver
  // drop the repeat. So: every alert's Message-ID arrived, and repeats are at most one per
  // kill (the one in flight).
  std::map<std::string, int> mails_by_id;
  for (const auto& m : o.mails) mails_by_id[Header(m, "Message-ID")]++;
  for (const auto& a : alerts) {
    const std::string mid =
        "<" + mail::MessageIdFor("mail:" + a["id"].get<std::string>(), "example.com") + ">";
    EXPECT_GE(mails_by_id[mid], 1) << a["id"];
  }
  EXPECT_EQ(mails_by_id.size(), static_cast<size_t>(kAlerts));
  const size_t repeats = o.mails.size() - mails_by_id.size();
  EXPECT_LE(repeats, static_cast<size_t>(kKills));
  RecordProperty("mail_repeats_after_kills", static_cast<int>(repeats));
  // Indicators: never above the budget at any observation, none twice, some pushed.
  EXPECT_LE(max_indicators, static_cast<size_t>(kIndicatorBudget));
  EXPECT_GT(o.indicators.size(), 0u);
  std::set<std::pair<std::string, std::string>> values;
  for (const auto& i : o.indicators) {
    const bool fresh =
        values
            .insert({i["indicatorType"].get<std::string>(), i["indicatorValue"].get<std::string>()})
            .second;
    EXPECT_TRUE(fresh) << "duplicate indicator " << i["indicatorValue"];
  }
  RecordProperty("indicators_at_end", static_cast<int>(o.indicators.size()));
  // Each unknown file was submitted once.
  std::map<std::string, int> submissions;
  const Json vmray = VmrayState(emulators_);  // a range-for over a temporary's member dangles
  for (const auto& s : vmray["submissions"]) submissions[s["sha256"].get<std::string>()]++;
  for (const auto& [sha, n] : submissions) EXPECT_EQ(n, 1) << sha;
  auto assertions = app::GetJson(emulators_.Url("mde") + "/_emulator/assertions");
  ASSERT_TRUE(assertions);
  EXPECT_TRUE(assertions->empty()) << assertions->dump();
}

}  // namespace
}  // namespace vc::e2e
