// Issue 4's scale proof: 50 antivirus alerts on 20 devices collected through Live Response
// against an MDE emulator that enforces the documented limits (10 runliveresponse per minute,
// 25 concurrent sessions, 100/min and 1,500/h per endpoint), with real Azurite storage. Time is
// a ManualClock: an hour of limits and waiting for devices costs milliseconds, and every
// scheduler round is followed by a check of the emulator's state.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "core/base64.hpp"
#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

constexpr int kDevices = 20;
constexpr int kAlerts = 50;
constexpr const char* kAcquisition = "VMRay Connector File Acquisition Job for ";

bool Active(const Json& action) {
  return action["status"] == "Pending" || action["status"] == "InProgress";
}

class DefenderQuarantineScale : public PipelineTest {
 protected:
  struct AlertSpec {
    std::string id;
    int device = 0;
    std::string content;
    std::string threat;
  };

  void SetUp() override {
    auto azurite = test::SharedAzurite();
    ASSERT_TRUE(azurite) << azurite.error().message;
    azurite_ = *azurite;
    transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    auto client = blob::BlobClient::FromConnectionString(azurite_->ConnectionString(), transport_,
                                                         clock_, DefaultRandom());
    ASSERT_TRUE(client) << client.error().message;
    blob_ = std::move(*client);
    // Alert ids of their own: the Azurite instance is shared by the tests of this process.
    run_ = DefaultRandom().HexToken(6);

    emu::EmulatorSetOptions options;
    options.mde.enforce_limits = true;
    // A session needs two online polls: Pending -> InProgress -> done, as on a real device.
    options.mde.action_polls_to_complete = 2;
    UseEmulatorOptions(options);
  }

  static std::string DeviceId(int i) { return Sha1Hex(fmt::format("lrscale device {}", i)); }
  static std::string DeviceName(int i) { return fmt::format("host-{:02}.contoso.com", i); }
  std::string Key(const AlertSpec& a) const { return "mde:" + a.id + ":" + Sha256Hex(a.content); }

  // Devices 0-9 get three alerts, 10-19 two (50 in all), each about a file of its own. Alerts on
  // one device share a threat name every other time: the script must still pick by hash.
  std::vector<AlertSpec> MakeAlerts() const {
    std::vector<AlertSpec> out;
    for (int n = 0; n < kAlerts; ++n) {
      AlertSpec a;
      a.device = n < 30 ? n / 3 : 10 + (n - 30) / 2;
      a.id = fmt::format("da{}{:04}_{}", run_, n, 1000 + n);
      a.content = fmt::format("MZ scale file {} on device {} ", n, a.device) + kEicar;
      a.threat = fmt::format("Trojan:Win32/Scale.{}!ml", a.device * 10 + (n % 2));
      out.push_back(std::move(a));
    }
    return out;
  }

  Json AlertSeed(const AlertSpec& a, int n) const {
    Json j = AlertJson(a.id, DeviceId(a.device), Sha256Hex(a.content),
                       fmt::format("invoice-{}.exe", n), "WindowsDefenderAv", clock_.Now());
    j["threatName"] = a.threat;
    j["evidence"][0]["sha1"] = Sha1Hex(a.content);
    j["computerDnsName"] = DeviceName(a.device);
    static const char* kSeverities[] = {"High", "Medium", "Low", "Informational"};
    j["severity"] = kSeverities[n % 4];
    return j;
  }

  Json DeviceSeed(int device, const std::vector<AlertSpec>& alerts, bool offline, bool busy) const {
    Json m = MachineJson(DeviceId(device), {}, offline);
    m["computerDnsName"] = DeviceName(device);
    m["quarantine"] = Json::array();
    for (const auto& a : alerts) {
      if (a.device != device) continue;
      m["quarantine"].push_back({{"threat", a.threat}, {"file", Base64Encode(a.content)}});
    }
    if (busy) m["busy"] = true;
    return m;
  }

  // Devices whose state changes during the run.
  static bool StartsOffline(int device) { return device < 4; }
  static bool StartsBusy(int device) { return device >= 4 && device < 7; }

  void SeedAll(const std::vector<AlertSpec>& alerts) {
    Json alert_seeds = Json::array();
    for (size_t n = 0; n < alerts.size(); ++n)
      alert_seeds.push_back(AlertSeed(alerts[n], static_cast<int>(n)));
    Json machines = Json::array();
    for (int d = 0; d < kDevices; ++d)
      machines.push_back(DeviceSeed(d, alerts, StartsOffline(d), StartsBusy(d)));
    h().Seed({{"mde", {{"alerts", alert_seeds}, {"machines", machines}}}});
  }
  void SeedDevices(bool (*which)(int), const Json& change) {
    Json machines = Json::array();
    for (int d = 0; d < kDevices; ++d) {
      if (!which(d)) continue;
      Json m = change;
      m["id"] = DeviceId(d);
      machines.push_back(m);
    }
    h().Seed({{"mde", {{"machines", machines}}}});
  }

  // Devices with more than one active Live Response action right now (ours or anyone's).
  std::vector<std::string> DevicesWithTwoActiveActions() {
    std::map<std::string, int> active;
    const Json state = mde().StateJson();
    for (const auto& a : state["machine_actions"]) {
      if (a["type"] == "LiveResponse" && Active(a)) ++active[a["machineId"].get<std::string>()];
    }
    std::vector<std::string> out;
    for (const auto& [machine, n] : active) {
      if (n > 1) out.push_back(fmt::format("{} ({} active)", machine, n));
    }
    return out;
  }

  size_t ScriptRunsCollected() {
    size_t n = 0;
    const Json state = mde().StateJson();
    for (const auto& run : state["script_runs"]) {
      n += run["outcome"] == "collected" || run["outcome"] == "collected_encrypted" ? 1 : 0;
    }
    return n;
  }
  int64_t SimSeconds(TimePoint since) const {
    return std::chrono::duration_cast<Seconds>(clock_.Now() - since).count();
  }

  bool OutboxPending(app::Daemon& d) {
    auto items = d.store().ListOutbox(0);
    if (!items) return true;
    for (const auto& i : *items) {
      if (i.state == "pending") return true;
    }
    return false;
  }

  test::AzuriteProcess* azurite_ = nullptr;
  std::shared_ptr<http::Transport> transport_;
  std::unique_ptr<blob::BlobClient> blob_;
  std::string run_;
};

TEST_F(DefenderQuarantineScale, FiftyAlertsOnTwentyDevicesAtTheTenantLimits) {
  const std::vector<AlertSpec> alerts = MakeAlerts();
  SeedAll(alerts);
  auto d = h().OpenDaemon({{"AzureStorageConnectionString", azurite_->ConnectionString()},
                           // The shipped pace of Live Response polls, so the run meets the
                           // per-endpoint quotas the way a production tenant does.
                           {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "30"},
                           {"VMRAY_CONNECTOR_DEFENDER_ENFORCE_RATE_LIMITS", "true"}});
  ASSERT_TRUE(d->PollAlerts());

  const TimePoint start = clock_.Now();
  const TimePoint online_at = start + Minutes(45);  // past one upload link's lifetime
  const TimePoint idle_at = start + Minutes(20);    // the portal user's sessions end
  bool online = false;
  bool idle = false;
  std::vector<std::string> double_actions;
  int rounds = 0;
  bool settled = false;
  for (; rounds < 20000; ++rounds) {
    d->scheduler().RunUntilIdle();
    for (const auto& m : DevicesWithTwoActiveActions()) {
      double_actions.push_back(fmt::format("+{} s: {}", SimSeconds(start), m));
    }
    if (!online && clock_.Now() >= online_at) {
      SeedDevices(&StartsOffline, {{"offline", false}});
      online = true;
      continue;
    }
    if (!idle && clock_.Now() >= idle_at) {
      SeedDevices(&StartsBusy, {{"busy", false}});
      idle = true;
      continue;
    }
    auto done = d->Settled();
    if (online && idle && done && *done && !OutboxPending(*d)) {
      settled = true;
      break;
    }
    TimePoint next = clock_.Now() + Hours(24);
    if (auto due = NextDue(*d)) next = std::min(next, *due);
    if (!online) next = std::min(next, online_at);
    if (!idle) next = std::min(next, idle_at);
    if (next - start > Hours(8)) break;
    clock_.Set(std::max(next, clock_.Now() + Millis(1)));
  }
  ASSERT_TRUE(settled) << "not settled after " << rounds << " rounds, " << SimSeconds(start) / 60
                       << " simulated minutes";

  // Every job done, with exactly one comment on its alert.
  for (const auto& a : alerts) {
    const store::Job job = JobOf(*d, Key(a));
    EXPECT_EQ(job.state, "done") << a.id << ": " << job.reason;
    EXPECT_NE(OnlyComment(a.id).find("VMRAY Analyzer Verdict"), std::string::npos) << a.id;
  }

  // The limits were never exceeded: the emulator counted no violation and answered no 429.
  const Json state = mde().StateJson();
  EXPECT_EQ(state["limit_violations"], 0) << state["limit_violation_log"].dump();
  size_t throttled = 0;
  size_t refused_busy = 0;
  std::vector<int64_t> starts;
  for (const auto& c : mde().Calls()) {
    if (c.status == 429) ++throttled;
    if (c.method == "POST" && c.path.ends_with("/runliveresponse")) {
      if (c.status == 400) ++refused_busy;
      if (c.status == 201) starts.push_back(c.at_ms);
    }
  }
  EXPECT_EQ(throttled, 0u);
  // The connector looks at the device's actions first, so MDE never has to refuse a session.
  EXPECT_EQ(refused_busy, 0u) << "runliveresponse answered ActiveRequestAlreadyExists";
  // Our own sliding-window count of the started sessions, independent of the emulator's.
  std::sort(starts.begin(), starts.end());
  for (size_t i = 10; i < starts.size(); ++i) {
    EXPECT_GE(starts[i] - starts[i - 10], 60'000) << "11 sessions started within one minute";
  }

  // Never two active actions on one device: after every round, and over the whole run from the
  // actions' creation and final-update times (busy devices' foreign sessions included).
  EXPECT_TRUE(double_actions.empty()) << ::testing::PrintToString(double_actions);
  std::map<std::string, std::vector<std::pair<TimePoint, TimePoint>>> spans;
  for (const auto& a : state["machine_actions"]) {
    if (a["type"] != "LiveResponse") continue;
    auto created = ParseIso8601(a["creationDateTimeUtc"].get<std::string>());
    auto updated = ParseIso8601(a["lastUpdateDateTimeUtc"].get<std::string>());
    ASSERT_TRUE(created && updated) << a.dump();
    spans[a["machineId"].get<std::string>()].emplace_back(*created,
                                                          Active(a) ? TimePoint::max() : *updated);
  }
  for (auto& [machine, list] : spans) {
    std::sort(list.begin(), list.end());
    for (size_t i = 1; i < list.size(); ++i) {
      EXPECT_LE(list[i - 1].second, list[i].first)
          << "device " << machine << " had two Live Response actions at once";
    }
  }

  // Every file collected exactly once (a script run that handed it over), submitted once.
  std::map<std::string, std::string> file_of_action;
  size_t cancelled = 0;
  for (const auto& a : state["machine_actions"]) {
    const std::string comment = a["requestorComment"].get<std::string>();
    if (comment.rfind(kAcquisition, 0) != 0) continue;
    file_of_action[a["id"].get<std::string>()] = comment.substr(std::strlen(kAcquisition));
    if (a["status"] == "Cancelled") ++cancelled;
  }
  std::map<std::string, int> collected;
  for (const auto& run : state["script_runs"]) {
    const std::string outcome = run["outcome"].get<std::string>();
    if (outcome == "collected" || outcome == "collected_encrypted") {
      ASSERT_TRUE(run.contains("sha256")) << run.dump();
      ++collected[run["sha256"].get<std::string>()];
    }
  }
  for (const auto& a : alerts) {
    const std::string sha256 = Sha256Hex(a.content);
    EXPECT_EQ(collected[sha256], 1) << a.id << " on device " << a.device;
    EXPECT_EQ(StoredSubmissions(sha256), 1u) << a.id;
  }
  EXPECT_EQ(collected.size(), alerts.size());
  EXPECT_GE(cancelled, 1u) << "the offline devices' queued sessions outlived their upload links";

  // Every upload blob deleted, those of cancelled sessions included.
  for (const auto& a : alerts) {
    auto names = blob_->ListBlobs(blob::kQuarantineContainer, a.id + "/");
    ASSERT_TRUE(names) << names.error().ToString();
    EXPECT_TRUE(names->empty()) << a.id << ": " << ::testing::PrintToString(*names);
  }
  ExpectNoEmulatorAssertions();
  std::printf("[ scale    ] %d rounds, %lld simulated min, %zu sessions started, %zu cancelled\n",
              rounds, static_cast<long long>(SimSeconds(start) / 60), starts.size(), cancelled);
}

// Regression guard for what the scale run first showed (tree of 2026-11-23 before 16:32): a
// queued session cancelled because its upload link expired gave its attempt back
// (--lr_attempts, to 0 on the first one), so the next OnCollecting found that cancelled action
// with our comment and adopted it as "started before a crash" ("continuing Live Response action
// ..."), counted it again, polled it, saw Cancelled and treated it as a failed session. With
// MachineAvailabilityRetry = 1 that failed the job although the device was only offline for
// one link lifetime. Expired links are now counted apart (expired_links).
TEST_F(DefenderQuarantineScale, CancelledQueuedSessionIsNotAdoptedAsAnEarlierAttempt) {
  std::vector<AlertSpec> alerts = MakeAlerts();
  alerts.resize(1);
  h().Seed({{"mde",
             {{"alerts", Json::array({AlertSeed(alerts[0], 0)})},
              {"machines", Json::array({DeviceSeed(0, alerts, /*offline=*/true, false)})}}}});
  auto d = h().OpenDaemon({{"AzureStorageConnectionString", azurite_->ConnectionString()},
                           {"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_UPLOAD_WINDOW_MINUTES", "30"},
                           {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "300"},
                           {"MachineAvailabilityTimeout", "10"},
                           {"MachineAvailabilityRetry", "1"}});
  EXPECT_FALSE(Run(*d, Hours(2))) << "an offline device is waited for, not given up on";
  const store::Job job = JobOf(*d, Key(alerts[0]));
  EXPECT_TRUE(job.state == "collecting" || job.state == "collection_pending")
      << job.state << ": " << job.reason;
  const auto actions = CollectionsOf(Sha256Hex(alerts[0].content));
  EXPECT_GE(actions.size(), 2u) << "a fresh session per expired link";

  h().Seed({{"mde", {{"machines", Json::array({{{"id", DeviceId(0)}, {"offline", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(alerts[0])).state, "done");
  EXPECT_EQ(StoredSubmissions(Sha256Hex(alerts[0].content)), 1u);
  EXPECT_EQ(ScriptRunsCollected(), 1u) << "only the live session ran";
  auto names = blob_->ListBlobs(blob::kQuarantineContainer, alerts[0].id + "/");
  ASSERT_TRUE(names) << names.error().ToString();
  EXPECT_TRUE(names->empty()) << "blobs of the cancelled sessions are deleted too";
}

}  // namespace
}  // namespace vc::testing
