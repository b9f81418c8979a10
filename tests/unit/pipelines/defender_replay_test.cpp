// Operator replay of one alert (`vmray-connector replay`), against the emulators on a
// ManualClock: a replay reads the verdict from VMRay again, writes a new alert comment and new
// indicators only when the result changed, writes nothing when it did not, never repeats itself,
// leaves jobs that are still working alone, and runs a file that never got a verdict through the
// whole path again.
#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/replay.hpp"

namespace vc::testing {
namespace {

class DefenderReplay : public PipelineTest {
 protected:
  std::vector<defender::ReplayedJob> Replay(app::Daemon& d, const std::string& alert_id) {
    auto r = defender::QueueAlertReplay(d.store(), alert_id, clock_.Now());
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : std::vector<defender::ReplayedJob>{};
  }
  size_t SampleReads(int64_t sample_id) {
    return vmray().CountCalls("GET", "/rest/sample/" + std::to_string(sample_id));
  }
  Json FileIndicator(const std::string& sha) {
    const Json all = mde().StateJson()["indicators"];
    for (const auto& i : all) {
      if (i["indicatorValue"] == sha) return i;
    }
    return Json();
  }
};

TEST_F(DefenderReplay, ChangedVerdictGetsANewCommentAndUnchangedGetsNothing) {
  const std::string sha = Sha256Hex("MZ replayed");
  SeedVmraySample(sha, "suspicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  ASSERT_EQ(Comments("a1").size(), 1u);
  EXPECT_NE(OnlyComment("a1").find("SUSPICIOUS"), std::string::npos);
  EXPECT_TRUE(FileIndicator(sha).is_null()) << "VmraySampleVerdict is Malicious by default";
  const store::Job first = JobOf(*d, "mde:a1:" + sha);
  ASSERT_EQ(first.state, "done");
  auto row = d->store().GetSample(sha);
  ASSERT_TRUE(row && *row);
  const int64_t sample_id = (*row)->sample_id;
  const size_t reads_before = SampleReads(sample_id);
  const size_t imports_before = mde().CountCalls("POST", "^/api/indicators/import$");

  // 1. Nothing changed in VMRay: the verdict is read again, nothing is written again.
  auto queued = Replay(*d, "a1");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_TRUE(queued[0].queued) << queued[0].note;
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, std::string(defender::kReplayState));
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_GT(SampleReads(sample_id), reads_before) << "the replay reads VMRay again";
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(mde().CountCalls("POST", "^/api/indicators/import$"), imports_before);
  store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done");
  EXPECT_TRUE(job.final);
  EXPECT_NE(job.reason.find("unchanged"), std::string::npos) << job.reason;

  // 2. VMRay now says malicious: one new comment with the new verdict, and indicators.
  SeedVmraySample(sha, "malicious", Minutes(5));
  ASSERT_TRUE(Replay(*d, "a1")[0].queued);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  Json comments = Comments("a1");
  ASSERT_EQ(comments.size(), 2u) << comments.dump(2);
  const std::string latest = comments[1]["comment"];
  EXPECT_NE(latest.find("MALICIOUS"), std::string::npos) << latest;
  ASSERT_TRUE(FileIndicator(sha).is_object());
  EXPECT_EQ(FileIndicator(sha)["severity"], "High");
  const size_t imports_after_change = mde().CountCalls("POST", "^/api/indicators/import$");
  EXPECT_EQ(imports_after_change, imports_before + 1);
  job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done");
  row = d->store().GetSample(sha);
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->verdict, "malicious") << "later alerts with the file get the new verdict";
  auto replayed = d->store().GetOutboxByKey(defender::ReplayKey("alert-comment:a1:" + sha, 2));
  ASSERT_TRUE(replayed && *replayed);
  EXPECT_EQ((*replayed)->state, "done");

  // 3. A third replay with the same answer writes nothing, and a restart changes nothing.
  ASSERT_TRUE(Replay(*d, "a1")[0].queued);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(Comments("a1").size(), 2u);
  EXPECT_EQ(mde().CountCalls("POST", "^/api/indicators/import$"), imports_after_change);
  d.reset();
  d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(Comments("a1").size(), 2u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderReplay, ChangedBackVerdictIsWrittenAgain) {
  const std::string sha = Sha256Hex("MZ flip flop");
  SeedVmraySample(sha, "suspicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  SeedVmraySample(sha, "malicious", Minutes(30));
  ASSERT_TRUE(Replay(*d, "a1")[0].queued);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  SeedVmraySample(sha, "suspicious", Minutes(1));
  ASSERT_TRUE(Replay(*d, "a1")[0].queued);
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  // The alert's latest comment says what VMRay says now, although that text was written before.
  const Json comments = Comments("a1");
  ASSERT_EQ(comments.size(), 3u) << comments.dump(2);
  EXPECT_NE(comments[2]["comment"].get<std::string>().find("SUSPICIOUS"), std::string::npos);
}

TEST_F(DefenderReplay, UnknownAlertAndWorkingJobsAreRefusedClearly) {
  const std::string content = std::string("MZ offline ") + kEicar;
  SeedMde({Alert("a1", Sha256Hex(content))}, Device({{"dropper.exe", content}}, /*offline=*/true));
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  d->scheduler().RunUntilIdle();

  auto unknown = defender::QueueAlertReplay(d->store(), "no-such-alert", clock_.Now());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("no job for alert no-such-alert"), std::string::npos);

  // The device is offline: the job waits for it and is not reopened under its feet.
  auto busy = Replay(*d, "a1");
  ASSERT_EQ(busy.size(), 1u);
  EXPECT_FALSE(busy[0].queued);
  EXPECT_NE(busy[0].note.find("still working"), std::string::npos) << busy[0].note;
  EXPECT_NE(JobOf(*d, busy[0].key).state, std::string(defender::kReplayState));
}

TEST_F(DefenderReplay, FileThatNeverGotAVerdictGoesThroughTheWholePathAgain) {
  const std::string content = std::string("MZ late ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  // VMRay refuses the submission: the job ends failed with a comment.
  vmray().AddFault(SoftSubmitError("File size exceeds quota"));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  ASSERT_EQ(JobOf(*d, "mde:a1:" + sha).state, "failed");
  ASSERT_EQ(Comments("a1").size(), 1u);
  ASSERT_EQ(StoredSubmissions(sha), 0u);

  // Quota raised: the replay takes the file again (the collected file is still there) and
  // submits it, and comments the verdict.
  auto queued = Replay(*d, "a1");
  ASSERT_TRUE(queued.size() == 1u && queued[0].queued);
  ASSERT_TRUE(Run(*d, Hours(4), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(SubmitCalls(), 2u);
  EXPECT_EQ(StoredSubmissions(sha), 1u);
  const Json comments = Comments("a1");
  ASSERT_EQ(comments.size(), 2u) << comments.dump(2);
  EXPECT_NE(comments[1]["comment"].get<std::string>().find("VMRAY Analyzer Verdict"),
            std::string::npos);
}

}  // namespace
}  // namespace vc::testing
