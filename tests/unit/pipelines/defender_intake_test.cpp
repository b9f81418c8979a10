// Alert intake and the first decisions of the evidence job: what becomes a job, what is skipped
// and why, duplicates, AV alerts and filters. Each test checks the job state and reason, the
// comments on the alert in the MDE emulator and the calls the emulators received.
#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

class DefenderIntake : public PipelineTest {};

TEST_F(DefenderIntake, CleanUnknownFileIsCollectedSubmittedAndCommentedClean) {
  const std::string content = "MZ harmless installer 1.2.3";
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha, "installer.exe")}, Device({{"installer.exe", content}}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done") << job.reason;
  EXPECT_EQ(job.reason, "verdict clean; comment written on alert a1");
  const std::string comment = OnlyComment("a1");
  EXPECT_EQ(comment.rfind("Evidence SHA256:\n" + sha + "\n", 0), 0u) << comment;
  EXPECT_NE(comment.find("VMRAY Analyzer Verdict: CLEAN"), std::string::npos) << comment;
  EXPECT_NE(comment.find("Sample Url:\n" + vmray().BaseUrl()), std::string::npos) << comment;

  ASSERT_EQ(LiveResponseCalls(), 1u);
  const auto lr = CallsTo(mde(), "POST", ".*/runliveresponse");
  const Json body = Json::parse(lr[0].body);
  EXPECT_EQ(body["Comment"], "VMRay Connector File Acquisition Job for " + sha);
  EXPECT_EQ(body["Commands"][0]["type"], "GetFile");
  EXPECT_EQ(body["Commands"][0]["params"][0]["value"], std::string(kDownloads) + "installer.exe");
  EXPECT_EQ(SubmitCalls(), 1u);
  const Json subs = vmray().StateJson()["submissions"];
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["sha256"], sha);
  EXPECT_EQ(subs[0]["filename"], "installer.exe");
  EXPECT_EQ(subs[0]["tags"], Json::array({"EDR_alert"}));
  EXPECT_EQ(subs[0]["verdict"], "clean");
  EXPECT_EQ(CommentCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AlertWithoutFileEvidenceIsSkippedWithoutAnyCall) {
  SeedMde({Alert("a1", "")}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1");
  EXPECT_EQ(job.state, "skipped");
  EXPECT_EQ(job.reason, "the alert has no file evidence");
  EXPECT_EQ(AllJobs(*d).size(), 1u);
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_TRUE(vmray().Calls().empty()) << "nothing to look up";
  EXPECT_EQ(mde().CountCalls("", "/api/machine.*"), 0u);
  EXPECT_EQ(CommentCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, FileEvidenceWithoutUsableSha256IsSkippedWithItsReason) {
  // MDE sends null for unknown hashes; the original connector also met the string "None".
  const std::vector<std::pair<std::string, Json>> cases = {
      {"null", nullptr},
      {"none", "None"},
      {"short", "46d2a7a499be0dbc"},
      {"nothex", std::string(64, 'z')},
  };
  std::vector<Json> alerts;
  for (const auto& [id, sha] : cases) {
    Json a = Alert(id, "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29");
    a["evidence"][0]["sha256"] = sha;
    alerts.push_back(a);
  }
  SeedMde(alerts, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  for (const auto& [id, sha] : cases) {
    const store::Job job = JobOf(*d, "mde:" + id);
    EXPECT_EQ(job.state, "skipped") << id;
    EXPECT_EQ(job.reason, "the alert's 1 file evidence(s) carry no SHA-256") << id;
    EXPECT_TRUE(Comments(id).empty()) << id;
  }
  EXPECT_EQ(AllJobs(*d).size(), cases.size());
  EXPECT_TRUE(vmray().Calls().empty());
  EXPECT_EQ(LiveResponseCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AlertSeenByEveryPollMakesOneJobAndOneComment) {
  const std::string content = std::string("MZ dropper ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon();

  auto first = d->PollAlerts();
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->jobs_created, 1);
  // Polled again while its job is collecting, and again after it finished: the overlap window
  // re-reads the alert every time.
  ASSERT_TRUE(
      StepUntil(*d, [&] { return JobOf(*d, "mde:a1:" + sha).state == "collection_pending"; }));
  auto second = d->PollAlerts();
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->jobs_created, 0);
  EXPECT_EQ(second->already_known, 1);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  clock_.Advance(Minutes(2));
  auto third = d->PollAlerts();
  ASSERT_TRUE(third) << third.error().ToString();
  EXPECT_EQ(third->alerts, 1) << "the alert is still inside the overlap window";
  EXPECT_EQ(third->already_known, 1);
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(AllJobs(*d).size(), 1u);
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_EQ(CommentCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, SameFileTwiceInOneAlertMakesOneJob) {
  const std::string content = std::string("MZ twice ") + kEicar;
  const std::string sha = Sha256Hex(content);
  Json alert = Alert("a1", sha);
  Json again = alert["evidence"][0];
  std::string upper = sha;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  again["sha256"] = upper;  // the same file, reported by another detection in capitals
  again["fileName"] = "copy-of-dropper.exe";
  alert["evidence"].push_back(again);
  SeedMde({alert}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const auto jobs = AllJobs(*d);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].key, "mde:a1:" + sha);
  EXPECT_EQ(jobs[0].state, "done") << jobs[0].reason;
  EXPECT_NE(OnlyComment("a1").find(sha), std::string::npos);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AvAlertWithUnknownHashWaitsForQuarantineCollection) {
  const std::string sha = Sha256Hex(std::string("quarantined ") + kEicar);
  SeedMde({Alert("a1", sha, "invoice.exe", "WindowsDefenderAv")}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "waiting_for_quarantine_collection");
  EXPECT_NE(job.reason.find("Defender quarantined it on alice-laptop.contoso.com"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("set storage.connection_string (AzureStorageConnectionString)"),
            std::string::npos)
      << job.reason;
  EXPECT_TRUE(job.final);
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_EQ(Lookups(sha).size(), 1u);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("", "/api/machine.*"), 0u)
      << "no Live Response for a quarantined file";
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AvAlertWithKnownHashIsAnsweredFromVmrayFirst) {
  const std::string sha = Sha256Hex(std::string("known quarantined ") + kEicar);
  SeedVmraySample(sha, "suspicious", Hours(30));
  SeedMde({Alert("a1", sha, "invoice.exe", "WindowsDefenderAv")}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done") << job.reason;
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: SUSPICIOUS"), std::string::npos);
  const auto calls = vmray().Calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0].path, "/rest/sample/sha256/" + sha) << "the hash lookup comes first";
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("", "/api/machine.*"), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AvAlertIsSkippedWhenFetchQuarantinedFilesIsOff) {
  const std::string sha = Sha256Hex(std::string("not fetched ") + kEicar);
  SeedMde({Alert("a1", sha, "invoice.exe", "WindowsDefenderAv")}, Device({}));
  auto d = h().OpenDaemon({{"FetchQuarantinedFiles", "false"}});
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "skipped");
  EXPECT_EQ(job.reason, "the file is in Defender quarantine and FetchQuarantinedFiles is off");
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("", "/api/machine.*"), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, TitleFilterLeavesOtherAlertsAlone) {
  const std::string sha = Sha256Hex(std::string("filtered ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  Json ransom = Alert("a2", sha);
  ransom["title"] = "RANSOMWARE behaviour detected";
  SeedMde({Alert("a1", sha), ransom}, Device({}));
  auto d = h().OpenDaemon({{"FilterAlertTitleWith", "ransomware,Credential theft"}});
  auto stats = d->PollAlerts();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->alerts, 2);
  EXPECT_EQ(stats->filtered, 1);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  EXPECT_FALSE(FindJob(*d, "mde:a1:" + sha).has_value());
  EXPECT_EQ(JobOf(*d, "mde:a2:" + sha).state, "done");
  EXPECT_EQ(AllJobs(*d).size(), 1u);
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_EQ(Comments("a2").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, CustomerTiAlertCreatesNoJob) {
  // Alerts raised by indicators (possibly the connector's own) must never loop back in.
  const std::string sha = Sha256Hex(std::string("indicator hit ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  const Json ti = Alert("ti1", sha, "dropper.exe", "CustomerTI");
  SeedMde({ti}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_TRUE(AllJobs(*d).empty());

  // A server that ignored the detectionSource part of $filter changes nothing.
  Json page{{"@odata.context", mde().BaseUrl() + "/api/$metadata#Alerts"},
            {"value", Json::array({MdeAlert("ti1")})}};
  emu::FaultRule ignores_filter = Fault("GET", "^/api/alerts$", 200);
  ignores_filter.body = page.dump();
  mde().AddFault(ignores_filter);
  auto stats = d->PollAlerts();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->alerts, 1);
  EXPECT_EQ(stats->filtered, 1);
  EXPECT_EQ(stats->jobs_created, 0);
  EXPECT_TRUE(AllJobs(*d).empty());
  EXPECT_TRUE(vmray().Calls().empty());
  EXPECT_TRUE(Comments("ti1").empty());
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, TruncatedAlertPageIsReadAgainOnTheNextPoll) {
  const std::string sha = Sha256Hex(std::string("late ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  emu::FaultRule truncated = Fault("GET", "^/api/alerts$");
  truncated.malformed = true;
  mde().AddFault(truncated);
  auto d = h().OpenDaemon();

  auto failed = d->PollAlerts();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kProtocol) << failed.error().ToString();
  EXPECT_NE(failed.error().message.find("list alerts"), std::string::npos)
      << failed.error().ToString();
  auto cursor = d->store().GetCursor(defender::AlertPoller::kCursor);
  ASSERT_TRUE(cursor);
  EXPECT_FALSE(cursor->has_value()) << "a window that was not read must not move the cursor";
  EXPECT_TRUE(AllJobs(*d).empty());

  clock_.Advance(Minutes(1));
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIntake, AnUnreadableAlertIsSkippedWithAReasonAndDoesNotBlockTheOthers) {
  const std::string sha = Sha256Hex(std::string("typed ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  Json good = MdeAlert("a1");
  Json bad = good;
  bad["id"] = "a2";
  bad["evidence"][0]["sha256"] = 42;
  emu::FaultRule wrong_type = Fault("GET", "^/api/alerts$", 200);
  wrong_type.body = Json{{"value", Json::array({bad, good})}}.dump();
  mde().AddFault(wrong_type);
  auto d = h().OpenDaemon();

  auto polled = d->PollAlerts();
  ASSERT_TRUE(polled) << polled.error().ToString();
  EXPECT_EQ(polled->unreadable, 1);
  EXPECT_EQ(polled->jobs_created, 1);
  ASSERT_TRUE(FindJob(*d, "mde:a1:" + sha)) << "the good alert next to the bad one is taken";

  ASSERT_TRUE(Run(*d));
  const store::Job unreadable = JobOf(*d, "mde:a2");
  EXPECT_EQ(unreadable.state, "failed");
  EXPECT_NE(unreadable.reason.find("value[0].evidence[0].sha256"), std::string::npos)
      << unreadable.reason;
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
