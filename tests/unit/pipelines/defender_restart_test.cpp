// A process killed in the middle of any step, and a second one opened on the same store: every
// alert still gets exactly one comment, every file exactly one Live Response collection and one
// VMRay submission. "Killed" means the daemon is destroyed without Stop while a dead worker
// still holds the leases of the steps it was running.
#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

class DefenderRestart : public PipelineTest {
 protected:
  // a1 and a2 report the same file, a3 another one, all on one device.
  void SeedThreeAlerts() {
    SeedMde({Alert("a1", sha1_), Alert("a2", sha1_), Alert("a3", sha2_, "loader.dll")},
            Device({{"dropper.exe", file1_}, {"loader.dll", file2_}}));
  }

  void ExpectEverythingExactlyOnce(app::Daemon& d) {
    for (const auto& [alert, sha] : std::vector<std::pair<std::string, std::string>>{
             {"a1", sha1_}, {"a2", sha1_}, {"a3", sha2_}}) {
      const store::Job job = JobOf(d, "mde:" + alert + ":" + sha);
      EXPECT_EQ(job.state, "done") << alert << ": " << job.reason;
      const Json comments = Comments(alert);
      ASSERT_EQ(comments.size(), 1u) << alert << ": " << comments.dump();
      EXPECT_NE(comments[0]["comment"].get<std::string>().find(sha), std::string::npos) << alert;
    }
    EXPECT_EQ(AllJobs(d).size(), 3u);
    for (const auto& sha : {sha1_, sha2_}) {
      EXPECT_EQ(StoredSubmissions(sha), 1u) << sha;
      EXPECT_EQ(CollectionsOf(sha).size(), 1u) << sha;
    }
    EXPECT_EQ(SubmitCalls(), 2u);
    EXPECT_EQ(LiveResponseCalls(), 2u);
    EXPECT_EQ(CommentCalls(), 3u);
    ExpectNoEmulatorAssertions();
  }

  const std::string file1_ = std::string("MZ dropper ") + kEicar;
  const std::string file2_ = "MZ loader VC-SUSPICIOUS";
  const std::string sha1_ = Sha256Hex(file1_);
  const std::string sha2_ = Sha256Hex(file2_);
};

class DefenderRestartAt : public DefenderRestart,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(DefenderRestartAt, CutPointLosesAndDuplicatesNothing) {
  const std::string cut = GetParam();
  SeedThreeAlerts();
  auto first = h().OpenDaemon();
  ASSERT_TRUE(first->PollAlerts());
  if (cut != "polled") {
    ASSERT_TRUE(StepUntil(*first, [&] { return JobOf(*first, "mde:a1:" + sha1_).state == cut; }))
        << "a1 never reached " << cut << ": " << JobOf(*first, "mde:a1:" + sha1_).reason;
  }
  CrashMidStep(*first);
  first.reset();

  auto second = h().OpenDaemon();
  ASSERT_TRUE(Run(*second));
  ExpectEverythingExactlyOnce(*second);
}

INSTANTIATE_TEST_SUITE_P(Defender, DefenderRestartAt,
                         // `collecting` and `downloading` are only entered to retry: the happy
                         // path starts the collection in `looking_up` and downloads in
                         // `collection_pending`.
                         ::testing::Values("polled", "looking_up", "collection_pending",
                                           "analysing", "writing_back"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST_F(DefenderRestart, KilledEveryTwoStepsStillFinishesEverythingOnce) {
  SeedThreeAlerts();
  bool settled = false;
  int restarts = 0;
  for (; restarts < 60 && !settled; ++restarts) {
    auto d = h().OpenDaemon();
    (void)d->PollAlerts();
    int batches = 0;
    StepUntil(*d, [&] {
      auto s = d->Settled();
      return (s && *s) || batches++ >= 2;
    });
    auto s = d->Settled();
    settled = s && *s;
    if (!settled) CrashMidStep(*d);
  }
  ASSERT_TRUE(settled) << "not settled after " << restarts << " restarts";
  EXPECT_GE(restarts, 5) << "the cuts must fall inside the run";
  auto d = h().OpenDaemon();
  ExpectEverythingExactlyOnce(*d);
}

TEST_F(DefenderRestart, LiveResponseSentJustBeforeTheCrashIsAdopted) {
  SeedMde({Alert("a1", sha1_)}, Device({{"dropper.exe", file1_}}));
  auto first = h().OpenDaemon();
  ASSERT_TRUE(first->PollAlerts());
  ASSERT_TRUE(
      StepUntil(*first, [&] { return JobOf(*first, "mde:a1:" + sha1_).state == "looking_up"; }));
  // The looking_up step starts the collection when VMRay does not know the file.
  ASSERT_EQ(CrashMidStep(*first).size(), 1u);
  // What the dead worker's step had sent before it died.
  auto sent = MdeClient()->RunLiveResponse(
      kMachineId, {{"GetFile", {{"Path", std::string(kDownloads) + "dropper.exe"}}}},
      "VMRay Connector File Acquisition Job for " + sha1_);
  ASSERT_TRUE(sent) << sent.error().ToString();
  first.reset();

  auto second = h().OpenDaemon();
  ASSERT_TRUE(Run(*second));
  EXPECT_EQ(JobOf(*second, "mde:a1:" + sha1_).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  const auto collections = CollectionsOf(sha1_);
  ASSERT_EQ(collections.size(), 1u);
  EXPECT_EQ(collections[0]["id"], sent->id) << "the request sent before the crash was used";
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderRestart, SubmissionSentJustBeforeTheCrashIsAdopted) {
  SeedMde({Alert("a1", sha1_), Alert("a2", sha1_)}, Device({{"dropper.exe", file1_}}));
  auto first = h().OpenDaemon();
  ASSERT_TRUE(first->PollAlerts());
  ASSERT_TRUE(StepUntil(
      *first, [&] { return JobOf(*first, "mde:a1:" + sha1_).state == "collection_pending"; }));
  // The next collection_pending step finds the action done, downloads and submits.
  ASSERT_TRUE(AdvanceToNextDue(*first));
  const auto leased = CrashMidStep(*first);
  auto owner = std::find_if(leased.begin(), leased.end(),
                            [&](const store::Job& j) { return j.key == "mde:a1:" + sha1_; });
  ASSERT_NE(owner, leased.end());
  // The dead step wrote its checkpoint, then submitted; the answer never got recorded.
  auto payload = defender::EvidencePayload::Parse(owner->payload);
  ASSERT_TRUE(payload);
  payload->submit_started_at = clock_.Now();
  ASSERT_TRUE(first->store().SaveJobPayload(owner->id, kCrashedWorker, payload->Dump()));
  vmray::SubmitRequest req;
  req.filename = "dropper.exe";
  req.content = file1_;
  req.tags = {"EDR_alert"};
  req.comment = "Sample from VMRay Analyzer - Microsoft Defender for Endpoint Connector";
  auto submitted = VmrayClient()->Submit(req);
  ASSERT_TRUE(submitted) << submitted.error().ToString();
  ASSERT_EQ(submitted->submissions.size(), 1u);
  first.reset();

  clock_.Advance(Seconds(30));
  auto second = h().OpenDaemon();
  ASSERT_TRUE(Run(*second));
  for (const char* alert : {"a1", "a2"}) {
    EXPECT_EQ(JobOf(*second, std::string("mde:") + alert + ":" + sha1_).state, "done") << alert;
    EXPECT_NE(OnlyComment(alert).find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  }
  EXPECT_EQ(SubmitCalls(), 1u) << "only the crashed process's submission";
  EXPECT_EQ(StoredSubmissions(sha1_), 1u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
