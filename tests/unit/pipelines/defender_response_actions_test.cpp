// Automated response actions on the alert's device (response_actions.hpp), end to end against
// the emulators on a ManualClock: a malicious file's device is isolated exactly once however
// many alerts carry the file, a clean or suspicious one is not, nothing is asked with the
// defaults, the four actions run in the original order, a lost answer or a restart does not act
// twice, a dry run sends nothing, and each fault (missing permission, unknown device, offline
// device, busy device, action already pending) ends in its defined state with a message.
#include <gmock/gmock.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/response_actions.hpp"

namespace vc::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kActionRoutes = std::string("/api/machines/") + kMachineId +
                                  "/(isolate|runAntiVirusScan|StopAndQuarantineFile|"
                                  "collectInvestigationPackage)";
const std::string kIsolate = std::string("/api/machines/") + kMachineId + "/isolate";

const EnvPairs kIsolateOn = {{"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"}};

class DefenderResponseActions : public PipelineTest {
 protected:
  // A file VMRay already knows with this verdict (no collection needed).
  std::string KnownFile(const std::string& label, const std::string& verdict) {
    const std::string sha = Sha256Hex("MZ " + label);
    SeedVmraySample(sha, verdict, Hours(1));
    return sha;
  }
  std::vector<store::OutboxItem> Rows(app::Daemon& d) {
    std::vector<store::OutboxItem> out;
    auto items = d.store().ListOutbox(0);
    EXPECT_TRUE(items);
    for (const auto& i : *items) {
      if (i.kind == defender::kResponseActionKind) out.push_back(i);
    }
    return out;
  }
  std::vector<Json> Actions(const std::string& type) {
    std::vector<Json> out;
    const Json state = mde().StateJson();
    for (const auto& a : state["machine_actions"]) {
      if (a["type"] == type) out.push_back(a);
    }
    return out;
  }
  size_t ActionCalls() { return CallsTo(mde(), "POST", kActionRoutes).size(); }
};

TEST_F(DefenderResponseActions, MaliciousFileIsolatesItsDeviceOnceForTwoAlerts) {
  const std::string sha = KnownFile("bad", "malicious");
  SeedMde({Alert("a1", sha), Alert("a2", sha)}, Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));

  const auto calls = CallsTo(mde(), "POST", kIsolate);
  ASSERT_EQ(calls.size(), 1u);
  const Json body = Json::parse(calls[0].body);
  EXPECT_EQ(body["IsolationType"], "Full");
  const std::string comment = body["Comment"];
  EXPECT_EQ(comment.rfind("Isolate machine based on VMRay Analyzer Report", 0), 0u) << comment;
  EXPECT_THAT(comment, HasSubstr("VMRay verdict: malicious"));
  EXPECT_THAT(comment, HasSubstr(sha));
  const auto isolations = Actions("Isolate");
  ASSERT_EQ(isolations.size(), 1u);
  EXPECT_EQ(isolations[0]["status"], "Succeeded");
  // One row for both alerts; its reason records the machine action and its outcome.
  const auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "done");
  EXPECT_EQ(rows[0].idempotency_key,
            std::string("response-action:isolate:") + kMachineId + ":" + sha);
  EXPECT_THAT(rows[0].reason, HasSubstr(isolations[0]["id"].get<std::string>()));
  EXPECT_THAT(rows[0].reason, HasSubstr("Succeeded"));
  // Both alerts still get their comment; only the isolation is shared.
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(Comments("a2").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderResponseActions, CleanAndSuspiciousFilesDoNotIsolate) {
  SeedMde({Alert("a1", KnownFile("fine", "clean")), Alert("a2", KnownFile("meh", "suspicious"))},
          Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(ActionCalls(), 0u);
  EXPECT_TRUE(Rows(*d).empty());
  EXPECT_EQ(Comments("a1").size(), 1u);
}

TEST_F(DefenderResponseActions, NothingIsAskedWithTheDefaults) {
  SeedMde({Alert("a1", KnownFile("bad", "malicious"))}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(ActionCalls(), 0u);
  EXPECT_TRUE(Rows(*d).empty());
  EXPECT_TRUE(Actions("Isolate").empty());
}

TEST_F(DefenderResponseActions, AllFourRunOnceEachInTheOriginalOrder) {
  const std::string sha = KnownFile("worst", "malicious");
  SeedMde({Alert("a1", sha)}, Device({}));
  auto d =
      h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATION_TYPE", "Selective"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ANTIVIRUS_SCAN", "true"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_SCAN_TYPE", "Quick"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_STOP_AND_QUARANTINE", "true"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_INVESTIGATION_PACKAGE", "true"}});
  ASSERT_TRUE(Run(*d));
  std::vector<std::string> order;
  for (const auto& c : CallsTo(mde(), "POST", kActionRoutes)) {
    order.push_back(c.path.substr(c.path.rfind('/') + 1));
    const Json body = Json::parse(c.body);
    if (order.back() == "StopAndQuarantineFile") {
      EXPECT_EQ(body["Sha1"], Sha1Hex(sha));
    } else if (order.back() == "runAntiVirusScan") {
      EXPECT_EQ(body["ScanType"], "Quick");
    } else if (order.back() == "isolate") {
      EXPECT_EQ(body["IsolationType"], "Selective");
    }
  }
  EXPECT_THAT(order, ElementsAre("collectInvestigationPackage", "runAntiVirusScan",
                                 "StopAndQuarantineFile", "isolate"));
  // Each waited for the one before it to finish on the device.
  const Json state = mde().StateJson();
  for (const auto& a : state["machine_actions"]) EXPECT_EQ(a["status"], "Succeeded") << a.dump();
  for (const auto& row : Rows(*d)) EXPECT_EQ(row.state, "done") << row.reason;
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderResponseActions, SuspiciousFileGetsOnlyTheActionsConfiguredForIt) {
  SeedMde({Alert("a1", KnownFile("meh", "suspicious"))}, Device({}));
  // Defaults: scan and package for suspicious and malicious, isolation for malicious only.
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"},
                           {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ANTIVIRUS_SCAN", "true"}});
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(CallsTo(mde(), "POST", ".*/runAntiVirusScan").size(), 1u);
  EXPECT_EQ(ActionCalls(), 1u);
}

TEST_F(DefenderResponseActions, LostAnswerIsFoundOnTheDeviceAndNotAskedAgain) {
  // MDE creates the isolation, then the answer is cut: the connector cannot tell it happened.
  emu::FaultRule cut;
  cut.method = "POST";
  cut.path_regex = ".*/isolate$";
  cut.cut_after_handling = true;
  mde().AddFault(cut);
  SeedMde({Alert("a1", KnownFile("lost", "malicious"))}, Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 1u);
  ASSERT_EQ(Actions("Isolate").size(), 1u);
  const auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "done");
  EXPECT_THAT(rows[0].reason, HasSubstr(Actions("Isolate")[0]["id"].get<std::string>()));
}

TEST_F(DefenderResponseActions, RestartMidWayDoesNotActTwice) {
  emu::EmulatorSetOptions options;
  options.mde.action_polls_to_complete = 3;  // actions stay open for a few polls
  UseEmulatorOptions(options);
  const EnvPairs env = {
      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"},
      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_INVESTIGATION_PACKAGE", "true"}};
  const std::string sha = KnownFile("restart", "malicious");
  SeedMde({Alert("a1", sha), Alert("a2", sha)}, Device({}));
  {
    auto first = h().OpenDaemon(env);
    (void)first->PollAlerts();
    ASSERT_TRUE(StepUntil(*first, [&] {
      return CallsTo(mde(), "POST", ".*/collectInvestigationPackage").size() == 1;
    }));
    CrashMidStep(*first);
  }
  auto second = h().OpenDaemon(env);
  ASSERT_TRUE(Run(*second, Hours(3)));
  EXPECT_EQ(CallsTo(mde(), "POST", ".*/collectInvestigationPackage").size(), 1u);
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 1u);
  EXPECT_EQ(Actions("CollectInvestigationPackage").size(), 1u);
  EXPECT_EQ(Actions("Isolate").size(), 1u);
  for (const auto& row : Rows(*second)) EXPECT_EQ(row.state, "done") << row.reason;
}

TEST_F(DefenderResponseActions, DryRunSendsNothingAndLogsTheAction) {
  auto log = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "response-actions-dry-run", std::make_shared<spdlog::sinks::ostream_sink_mt>(*log)));
  SeedMde({Alert("a1", KnownFile("dry", "malicious"))}, Device({}));
  {
    auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DAEMON_DRY_RUN", "true"},
                             {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"}});
    EXPECT_TRUE(Run(*d));
  }
  spdlog::set_default_logger(previous);
  EXPECT_EQ(ActionCalls(), 0u);
  EXPECT_EQ(CallsTo(mde(), "GET", "/api/machineactions.*").size(), 0u);
  EXPECT_TRUE(Actions("Isolate").empty());
  EXPECT_THAT(log->str(), HasSubstr("would write response_action"));
  EXPECT_THAT(log->str(), HasSubstr("Isolate machine based on VMRay Analyzer Report"));
}

TEST_F(DefenderResponseActions, MissingPermissionWaitsNamingItThenIsolatesOnce) {
  h().Seed({{"mde", {{"denied_permissions", {"Machine.Isolate"}}}}});
  SeedMde({Alert("a1", KnownFile("denied", "malicious"))}, Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  EXPECT_FALSE(Run(*d, Hours(1)));
  auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "pending");
  EXPECT_THAT(rows[0].reason, HasSubstr("Machine.Isolate"));
  EXPECT_THAT(rows[0].reason, HasSubstr("admin consent"));
  EXPECT_TRUE(Actions("Isolate").empty());
  // The alert itself is not held back.
  EXPECT_EQ(Comments("a1").size(), 1u);

  h().Seed({{"mde", {{"denied_permissions", Json::array()}}}});
  ASSERT_TRUE(Run(*d, Hours(2), false));
  ASSERT_EQ(Actions("Isolate").size(), 1u);
  EXPECT_EQ(Rows(*d)[0].state, "done");
}

TEST_F(DefenderResponseActions, UnknownDeviceEndsTheRowWithWhatToDo) {
  // The alert names a device MDE does not know (offboarded since).
  h().Seed({{"mde", {{"alerts", Json::array({Alert("a1", KnownFile("gone", "malicious"))})}}}});
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));
  const auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "failed");
  EXPECT_THAT(rows[0].reason, HasSubstr("not known to MDE"));
  EXPECT_THAT(rows[0].reason, HasSubstr("nothing was done"));
  EXPECT_TRUE(Actions("Isolate").empty());
}

TEST_F(DefenderResponseActions, OfflineDeviceKeepsTheActionQueuedThenGivesUpWithAMessage) {
  SeedMde({Alert("a1", KnownFile("offline", "malicious"))}, Device({}, /*offline=*/true));
  auto env = kIsolateOn;
  env.push_back({"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_GIVE_UP_AFTER_HOURS", "1"});
  auto d = h().OpenDaemon(env);
  EXPECT_FALSE(Run(*d, Minutes(30)));
  auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "pending");
  EXPECT_THAT(rows[0].reason, HasSubstr("is Pending"));
  EXPECT_THAT(rows[0].reason, HasSubstr("offline"));
  ASSERT_TRUE(Run(*d, Hours(2), false));
  rows = Rows(*d);
  EXPECT_EQ(rows[0].state, "failed");
  EXPECT_THAT(rows[0].reason, HasSubstr("gave up"));
  EXPECT_THAT(rows[0].reason, HasSubstr("Defender portal"));
  // Asked once: MDE holds the request until the device connects.
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 1u);
}

TEST_F(DefenderResponseActions, BusyDeviceIsWaitedFor) {
  SeedMde({Alert("a1", KnownFile("busy", "malicious"))}, Device({}));
  h().Seed({{"mde", {{"machines", {{{"id", kMachineId}, {"busy", true}}}}}}});
  auto d = h().OpenDaemon(kIsolateOn);
  EXPECT_FALSE(Run(*d, Minutes(20)));
  auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_THAT(rows[0].reason, HasSubstr("is busy with a LiveResponse action"));
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 0u);

  h().Seed({{"mde", {{"machines", {{{"id", kMachineId}, {"busy", false}}}}}}});
  ASSERT_TRUE(Run(*d, Hours(1), false));
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 1u);
  EXPECT_EQ(Rows(*d)[0].state, "done");
}

TEST_F(DefenderResponseActions, ActionAlreadyPendingIsWaitedOut) {
  emu::FaultRule pending = Fault("POST", ".*/isolate$", 400);
  pending.body = Json{{"error",
                       {{"code", "ActiveRequestAlreadyExists"},
                        {"message", "Action Isolate is already Pending on the machine"},
                        {"target", "4c3e8b2e-6a41-4a8c-9a5e-2f6d8f0b1a77"}}}}
                     .dump();
  mde().AddFault(pending);
  SeedMde({Alert("a1", KnownFile("pending", "malicious"))}, Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 2u);
  EXPECT_EQ(Actions("Isolate").size(), 1u);
  EXPECT_EQ(Rows(*d)[0].state, "done");
}

TEST_F(DefenderResponseActions, AlreadyIsolatedDeviceIsNotAskedAgainForAnotherFile) {
  SeedMde({Alert("a1", KnownFile("one", "malicious")), Alert("a2", KnownFile("two", "malicious"))},
          Device({}));
  auto d = h().OpenDaemon(kIsolateOn);
  ASSERT_TRUE(Run(*d));
  // Two files, two rows, one isolation: the second finds the device isolated.
  EXPECT_EQ(CallsTo(mde(), "POST", kIsolate).size(), 1u);
  const auto rows = Rows(*d);
  ASSERT_EQ(rows.size(), 2u);
  int already = 0;
  for (const auto& r : rows) {
    EXPECT_EQ(r.state, "done");
    already += r.reason.find("already isolated") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(already, 1);
}

}  // namespace
}  // namespace vc::testing
