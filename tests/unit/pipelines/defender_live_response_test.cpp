// Collecting the file with Live Response when the device does not cooperate: the file is gone
// or changed, the device is busy or offline, MDE refuses a second session or throttles.
#include <set>

#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/session_gate.hpp"

namespace vc::testing {
namespace {

class DefenderLiveResponse : public PipelineTest {
 protected:
  std::string Key(const std::string& sha256) { return "mde:a1:" + sha256; }
};

TEST_F(DefenderLiveResponse, FileNoLongerOnTheDeviceFailsWithThePathInTheComment) {
  const std::string sha = Sha256Hex(std::string("MZ deleted by the user ") + kEicar);
  SeedMde({Alert("a1", sha, "gone.exe")}, Device({{"other.exe", "MZ something else"}}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const std::string path = std::string(kDownloads) + "gone.exe";
  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("the file " + path + " is no longer on alice-laptop.contoso.com"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("File not found"), std::string::npos) << job.reason;
  const std::string comment = OnlyComment("a1");
  EXPECT_NE(comment.find("VMRay Connector could not analyse gone.exe"), std::string::npos)
      << comment;
  EXPECT_NE(comment.find(path), std::string::npos) << comment;
  EXPECT_EQ(LiveResponseCalls(), 1u) << "a missing file is not collected again";
  EXPECT_EQ(SubmitCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, CollectedFileWithAnotherHashIsNotSubmitted) {
  const std::string evidence = std::string("MZ as detected ") + kEicar;
  const std::string sha = Sha256Hex(evidence);
  const std::string on_disk = "MZ rewritten since the alert";
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", on_disk}}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("SHA-256 " + Sha256Hex(on_disk) + " does not match the evidence"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(OnlyComment("a1").find("nothing was submitted"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(StoredSubmissions(Sha256Hex(on_disk)), 0u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, DeviceBusyWithSomeoneElsesSessionIsWaitedForAtTheConfiguredPace) {
  const std::string content = std::string("MZ busy device ") + kEicar;
  const std::string sha = Sha256Hex(content);
  Json device = Device({{"dropper.exe", content}});
  device["busy"] = true;
  SeedMde({Alert("a1", sha)}, device);
  // MachineAvailabilityTimeout / MachineAvailabilityRetry = 10 min / 5 = 2 min between checks.
  auto d =
      h().OpenDaemon({{"MachineAvailabilityTimeout", "10"}, {"MachineAvailabilityRetry", "5"}});
  (void)d->PollAlerts();
  ASSERT_TRUE(
      StepUntil(*d, [&] { return JobOf(*d, Key(sha)).reason.find("busy") != std::string::npos; }));
  const store::Job waiting = JobOf(*d, Key(sha));
  EXPECT_EQ(waiting.state, "collecting");
  EXPECT_EQ(waiting.reason,
            "device alice-laptop.contoso.com is busy with someone else's Live Response action "
            "(check 1); waiting for it to finish");
  EXPECT_EQ(waiting.next_attempt_at - clock_.Now(), Minutes(2));

  EXPECT_FALSE(Run(*d, Minutes(7), /*poll=*/false)) << "still waiting for the other session";
  EXPECT_NE(JobOf(*d, Key(sha)).reason.find("(check 4)"), std::string::npos);
  const auto checks = CallsTo(mde(), "GET", "/api/machineactions");
  ASSERT_EQ(checks.size(), 4u);
  for (size_t i = 1; i < checks.size(); ++i) {
    EXPECT_GE(checks[i].at_ms - checks[i - 1].at_ms, 120'000) << i;
  }
  EXPECT_EQ(LiveResponseCalls(), 0u) << "no session is forced onto a busy device";
  EXPECT_TRUE(Comments("a1").empty());

  // The analyst's session ends.
  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"busy", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(sha)).state, "done");
  EXPECT_EQ(OnlyComment("a1").find("Evidence SHA256:"), 0u);
  EXPECT_EQ(CollectionsOf(sha).size(), 1u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, OfflineDeviceKeepsTheJobPendingUntilItReconnects) {
  const std::string content = std::string("MZ laptop in a drawer ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}, /*offline=*/true));
  auto d =
      h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "300"}});
  EXPECT_FALSE(Run(*d, Hours(3)));

  const store::Job pending = JobOf(*d, Key(sha));
  EXPECT_EQ(pending.state, "collection_pending");
  EXPECT_EQ(pending.reason,
            "waiting for device alice-laptop.contoso.com to pick up the Live Response request (an "
            "offline device runs it when it reconnects; giving up after 24 h)");
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_EQ(LiveResponseCalls(), 1u) << "the queued request is kept, not repeated";
  const auto polls = CallsTo(mde(), "GET", "/api/machineactions/[^/]+");
  EXPECT_GE(polls.size(), 30u);
  EXPECT_LE(polls.size(), 40u) << "polled every 5 minutes";

  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"offline", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(sha)).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, OfflineBeyondTheGiveUpTimeCancelsAndComments) {
  const std::string content = std::string("MZ never back ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}, /*offline=*/true));
  auto d =
      h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_GIVE_UP_AFTER_HOURS", "1"},
                      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "300"}});
  ASSERT_TRUE(Run(*d, Hours(3)));

  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_EQ(job.reason,
            "device alice-laptop.contoso.com did not run the Live Response request within 1 h; "
            "it may be offline");
  EXPECT_NE(OnlyComment("a1").find("did not run the Live Response request within 1 h"),
            std::string::npos);
  const auto cancels = CallsTo(mde(), "POST", "/api/machineactions/[^/]+/cancel");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].status, 200);
  const auto lr = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(lr.size(), 1u);
  EXPECT_GE(cancels[0].at_ms - lr[0].at_ms, 3'600'000);
  EXPECT_LE(cancels[0].at_ms - lr[0].at_ms, 3'600'000 + 300'000);
  const auto actions = CollectionsOf(sha);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0]["status"], "Cancelled");
  EXPECT_NE(actions[0]["cancellationComment"].get<std::string>().find("VMRay Connector"),
            std::string::npos);
  EXPECT_EQ(SubmitCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, ActiveRequestAlreadyExistsIsWaitedOutThenCollected) {
  const std::string content = std::string("MZ raced ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule active = Fault("POST", ".*/runliveresponse$", 400);
  active.body = Json{{"error",
                      {{"code", "ActiveRequestAlreadyExists"},
                       {"message",
                        "Cannot create a live response session: machine already has "
                        "an active live response action."},
                       {"target", "8f5b4b0c-2a5d-4c1e-9c3e-2f1d7e6a5b4c"}}}}
                    .dump();
  mde().AddFault(active);
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "30"}});
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return LiveResponseCalls() == 1; }));
  const store::Job waiting = JobOf(*d, Key(sha));
  EXPECT_EQ(waiting.state, "collecting");
  EXPECT_EQ(waiting.reason,
            "device alice-laptop.contoso.com already runs a Live Response session; waiting");
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  const auto lr = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(lr.size(), 2u);
  EXPECT_EQ(lr[0].status, 400);
  EXPECT_EQ(lr[1].status, 201);
  EXPECT_GE(lr[1].at_ms - lr[0].at_ms, 30'000) << "not retried at once (original defect 5)";
  EXPECT_EQ(JobOf(*d, Key(sha)).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(CollectionsOf(sha).size(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, ThrottledLiveResponseIsNotRetriedBeforeRetryAfter) {
  const std::string content = std::string("MZ throttled session ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule throttle = Fault("POST", ".*/runliveresponse$", 429);
  throttle.retry_after = "120";
  mde().AddFault(throttle);
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return LiveResponseCalls() == 1; }));
  const store::Job waiting = JobOf(*d, Key(sha));
  EXPECT_EQ(waiting.state, "collecting");
  EXPECT_NE(waiting.reason.find("starting Live Response (retrying 1/40"), std::string::npos)
      << waiting.reason;
  EXPECT_NE(waiting.reason.find("retry-after=120s"), std::string::npos) << waiting.reason;
  EXPECT_NE(waiting.reason.find("request-id="), std::string::npos) << waiting.reason;
  EXPECT_GE(waiting.next_attempt_at - clock_.Now(), Seconds(120));
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  const auto lr = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(lr.size(), 2u);
  EXPECT_EQ(lr[0].status, 429);
  EXPECT_EQ(lr[1].status, 201);
  EXPECT_GE(lr[1].at_ms - lr[0].at_ms, 120'000);
  EXPECT_EQ(JobOf(*d, Key(sha)).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(CollectionsOf(sha).size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, DeviceUnknownToMdeFailsAtOnce) {
  const std::string sha = Sha256Hex(std::string("MZ offboarded ") + kEicar);
  h().Seed({{"mde", {{"alerts", Json::array({Alert("a1", sha)})}}}});  // no such machine
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_EQ(job.reason, "device alice-laptop.contoso.com is not known to MDE (offboarded?)");
  EXPECT_NE(OnlyComment("a1").find("not known to MDE"), std::string::npos);
  const auto lr = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(lr.size(), 1u) << "a 404 is not retried";
  EXPECT_EQ(lr[0].status, 404);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, CorruptDownloadIsFetchedAgainNotCollectedAgain) {
  const std::string content = std::string("MZ truncated transfer ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule corrupt = Fault("GET", "^/_lr/download/.*", 200);
  corrupt.body = std::string("\x1f\x8b\x08\x00garbage", 12);
  corrupt.content_type = "application/octet-stream";
  mde().AddFault(corrupt);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, Key(sha)).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(mde().CountCalls("GET", "/_lr/download/.*"), 2u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, FileOverTheSizeLimitIsNotSubmitted) {
  const std::string content = std::string("MZ far too big for the limit ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_VMRAY_MAX_FILE_SIZE_BYTES", "16"}});
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_EQ(job.reason, "file is larger than the 16 byte limit (vmray.max_file_size_bytes)");
  EXPECT_NE(OnlyComment("a1").find("16 byte limit"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderLiveResponse, WrongTypedMachineActionIsRetriedThenFailsNamingTheJsonPath) {
  const std::string content = std::string("MZ odd action ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule odd = Fault("GET", "^/api/machineactions/[^/]+$", 200, /*times=*/-1);
  odd.body = Json{{"id", "3b8c1c4e-0000-4000-8000-000000000001"},
                  {"type", "LiveResponse"},
                  {"status", "Succeeded"},
                  {"commands", Json::array({{{"index", "0"},
                                             {"commandStatus", "Completed"},
                                             {"errors", Json::array()},
                                             {"command", {{"type", "GetFile"}}}}})}}
                 .dump();
  mde().AddFault(odd);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(sha));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("polling the Live Response action failed 4 times, giving up"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("machineaction.commands[0].index: expected an integer, got string"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(OnlyComment("a1").find("machineaction.commands[0].index"), std::string::npos);
  EXPECT_EQ(mde().CountCalls("GET", "/api/machineactions/[^/]+"), 4u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

// Three alerts on one busy device: when it is free, one session collects all three files.
TEST_F(DefenderLiveResponse, FilesWaitingForOneDeviceShareItsNextSession) {
  std::vector<std::string> shas;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<Json> alerts;
  for (int i = 0; i < 3; ++i) {
    const std::string content = "MZ shared session " + std::to_string(i);
    shas.push_back(Sha256Hex(content));
    files.emplace_back("f" + std::to_string(i) + ".exe", content);
    alerts.push_back(AlertJson("m" + std::to_string(i), kMachineId, shas.back(),
                               "f" + std::to_string(i) + ".exe", "WindowsDefenderAtp",
                               clock_.Now()));
  }
  Json device = Device(files);
  device["busy"] = true;
  SeedMde(alerts, device);
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] {
    for (int i = 0; i < 3; ++i) {
      if (JobOf(*d, "mde:m" + std::to_string(i) + ":" + shas[i]).reason.find("busy") ==
          std::string::npos)
        return false;
    }
    return true;
  }));
  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"busy", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  ASSERT_EQ(LiveResponseCalls(), 1u) << "one session for the three files";
  const auto calls = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(calls.size(), 1u);
  const Json body = Json::parse(calls.front().body);
  ASSERT_EQ(body["Commands"].size(), 3u) << body.dump();
  std::set<std::string> paths;
  for (const auto& c : body["Commands"]) {
    EXPECT_EQ(c["type"], "GetFile");
    paths.insert(c["params"][0]["value"].get<std::string>());
  }
  EXPECT_EQ(paths.size(), 3u) << "each file once";
  EXPECT_NE(body["Comment"].get<std::string>().find("and 2 more file(s) of this device"),
            std::string::npos);
  for (int i = 0; i < 3; ++i) {
    const std::string alert = "m" + std::to_string(i);
    EXPECT_EQ(JobOf(*d, "mde:" + alert + ":" + shas[i]).state, "done") << alert;
    const std::string comment = OnlyComment(alert);
    EXPECT_EQ(comment.find("Evidence SHA256:"), 0u) << alert;
    EXPECT_NE(comment.find(shas[i]), std::string::npos) << alert;
    EXPECT_EQ(StoredSubmissions(shas[i]), 1u) << alert;
  }
  // One slot was taken for the shared session and it is free again.
  auto open = d->store().ListJobs({"", "collection_pending", false, "", 10});
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty());
  ExpectNoEmulatorAssertions();
}

// A failed command fails the shared session: the missing file fails with its path, the other
// files are asked for again in one more session, without spending an attempt.
TEST_F(DefenderLiveResponse, OtherFilesOfAFailedSharedSessionAreAskedForAgain) {
  std::vector<std::string> shas;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<Json> alerts;
  for (int i = 0; i < 3; ++i) {
    const std::string content = "MZ stopped session " + std::to_string(i);
    shas.push_back(Sha256Hex(content));
    if (i != 1) files.emplace_back("g" + std::to_string(i) + ".exe", content);  // g1 is gone
    alerts.push_back(AlertJson("n" + std::to_string(i), kMachineId, shas.back(),
                               "g" + std::to_string(i) + ".exe", "WindowsDefenderAtp",
                               clock_.Now()));
  }
  Json device = Device(files);
  device["busy"] = true;
  SeedMde(alerts, device);
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] {
    return JobOf(*d, "mde:n2:" + shas[2]).reason.find("busy") != std::string::npos &&
           JobOf(*d, "mde:n0:" + shas[0]).reason.find("busy") != std::string::npos &&
           JobOf(*d, "mde:n1:" + shas[1]).reason.find("busy") != std::string::npos;
  }));
  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"busy", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  // The first session fails at g1.exe; results of a failed session cannot be downloaded, so
  // the other two files are asked for again, together.
  const auto calls = CallsTo(mde(), "POST", ".*/runliveresponse");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(Json::parse(calls[0].body)["Commands"].size(), 3u);
  const Json second = Json::parse(calls[1].body);
  ASSERT_EQ(second["Commands"].size(), 2u);
  for (const auto& c : second["Commands"]) {
    EXPECT_EQ(c["params"][0]["value"].get<std::string>().find("g1.exe"), std::string::npos);
  }
  const store::Job gone = JobOf(*d, "mde:n1:" + shas[1]);
  EXPECT_EQ(gone.state, "failed");
  EXPECT_NE(OnlyComment("n1").find("g1.exe"), std::string::npos);
  for (int i : {0, 2}) {
    const std::string alert = "n" + std::to_string(i);
    const store::Job job = JobOf(*d, "mde:" + alert + ":" + shas[i]);
    EXPECT_EQ(job.state, "done") << alert << ": " << job.reason;
    EXPECT_EQ(StoredSubmissions(shas[i]), 1u) << alert;
    auto p = defender::EvidencePayload::Parse(job.payload);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->CountedAttempts(), 1) << alert << ": a session that never ran its command is free";
  }
  ExpectNoEmulatorAssertions();
}
}  // namespace
}  // namespace vc::testing

namespace vc::testing {
namespace {

class DefenderSessions : public PipelineTest {};

// Many devices, few session slots: never more sessions than allowed, nobody starves, and the
// count survives a restart with sessions open.
TEST_F(DefenderSessions, NeverMoreLiveResponseSessionsThanTheLimit) {
  Json alerts = Json::array();
  Json machines = Json::array();
  std::vector<std::string> shas;
  for (int i = 0; i < 6; ++i) {
    const std::string machine = std::string(39, 'c') + std::to_string(i);
    const std::string content = "MZ session gate " + std::to_string(i);
    shas.push_back(Sha256Hex(content));
    alerts.push_back(AlertJson("s" + std::to_string(i), machine, shas.back(), "f.exe",
                               "WindowsDefenderAtp", clock_.Now()));
    machines.push_back(MachineJson(machine, {{std::string(kDownloads) + "f.exe", content}}));
  }
  h().Seed({{"mde", {{"alerts", alerts}, {"machines", machines}}}});
  const EnvPairs limit = {{"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_MAX_CONCURRENT_SESSIONS", "2"}};
  auto count_pending = [&](app::Daemon& d) {
    auto jobs = d.store().ListJobs({"", "collection_pending", false, "", 100});
    return jobs ? jobs->size() : 0u;
  };
  size_t most = 0;
  {
    auto d = h().OpenDaemon(limit);
    (void)d->PollAlerts();
    // Run until two sessions are open, then "crash" with them open.
    ASSERT_TRUE(StepUntil(*d, [&] {
      most = std::max(most, count_pending(*d));
      return count_pending(*d) == 2;
    }));
  }
  auto d = h().OpenDaemon(limit);
  ASSERT_TRUE(StepUntil(*d, [&] {
    most = std::max(most, count_pending(*d));
    auto open = d->store().ListJobs({"", "", false, "", 1});
    return open && open->empty();
  }));
  EXPECT_EQ(most, 2u) << "the limit is reached and never passed, also after the restart";
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(JobOf(*d, "mde:s" + std::to_string(i) + ":" + shas[i]).state, "done");
  }
  EXPECT_EQ(LiveResponseCalls(), 6u);
  ExpectNoEmulatorAssertions();
}

// A more severe alert that waits for Live Response is served before the less severe ones that
// were waiting before it: one session slot, four Low alerts, then a High one.
TEST_F(DefenderSessions, MoreSevereAlertsGetTheNextLiveResponseSessionFirst) {
  Json alerts = Json::array();
  Json machines = Json::array();
  for (int i = 0; i < 5; ++i) {
    const std::string machine = std::string(39, 'p') + std::to_string(i);
    const std::string content = "MZ priority " + std::to_string(i);
    Json alert = AlertJson("p" + std::to_string(i), machine, Sha256Hex(content), "f.exe",
                           "WindowsDefenderAtp", clock_.Now() + Millis(i));
    alert["severity"] = i == 4 ? "High" : "Low";
    alerts.push_back(alert);
    machines.push_back(MachineJson(machine, {{std::string(kDownloads) + "f.exe", content}}));
  }
  h().Seed({{"mde", {{"alerts", alerts}, {"machines", machines}}}});
  auto d =
      h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_MAX_CONCURRENT_SESSIONS", "1"}});
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] {
    auto open = d->store().ListJobs({"", "", false, "", 1});
    return open && open->empty();
  }));
  std::vector<char> order;  // last character of each device id, in runliveresponse order
  for (const auto& c : mde().Calls()) {
    if (c.method == "POST" && c.path.find("/runliveresponse") != std::string::npos &&
        c.status < 300)
      order.push_back(c.path.at(c.path.find("/runliveresponse") - 1));
  }
  ASSERT_EQ(order.size(), 5u);
  // The first Low alert took the only slot before the High one was waiting; the High one is next.
  EXPECT_EQ(order[1], '4') << std::string(order.begin(), order.end());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(
        JobOf(*d, "mde:p" + std::to_string(i) + ":" + Sha256Hex("MZ priority " + std::to_string(i)))
            .state,
        "done");
  ExpectNoEmulatorAssertions();
}

TEST(SessionGate, WaitersOfHigherPriorityGoFirstUntilTheyGoQuiet) {
  defender::SessionGate gate(1, Millis(60'000));
  const TimePoint t0 = FromUnixMillis(1'700'000'000'000);
  EXPECT_TRUE(gate.TryAcquire(1, 1, t0));
  EXPECT_FALSE(gate.TryAcquire(2, 1, t0));  // full
  EXPECT_FALSE(gate.TryAcquire(3, 3, t0));  // full; waits with priority 3
  gate.Release();
  EXPECT_EQ(gate.WaitingAbove(1, t0), 1);
  EXPECT_FALSE(gate.TryAcquire(2, 1, t0 + Millis(1)));  // a slot is free, but job 3 outranks it
  EXPECT_TRUE(gate.TryAcquire(3, 3, t0 + Millis(2)));
  gate.Release();
  gate.Wait(4, 2, t0);  // refused by the rate limiter
  EXPECT_FALSE(gate.TryAcquire(2, 1, t0 + Millis(3)));
  // Job 4 went quiet (crashed, or sleeps long): it no longer holds anyone back.
  EXPECT_TRUE(gate.TryAcquire(2, 1, t0 + Millis(60'001)));
  gate.Release();
  gate.Wait(5, 3, t0 + Millis(60'002));
  gate.Forget(5);  // started its session elsewhere or ended
  EXPECT_TRUE(gate.TryAcquire(6, 0, t0 + Millis(60'003)));
  EXPECT_EQ(defender::SeverityPriority("High"), 3);
  EXPECT_EQ(defender::SeverityPriority("medium"), 2);
  EXPECT_EQ(defender::SeverityPriority("Low"), 1);
  EXPECT_EQ(defender::SeverityPriority("Informational"), 0);
  EXPECT_EQ(defender::SeverityPriority("UnSpecified"), 0);
}

}  // namespace
}  // namespace vc::testing
