// The VMRay side of the evidence job under faults: the resubmit window, throttling with
// Retry-After in both forms, outages, malformed and wrong-typed answers, soft errors, analyses
// that never finish, a rejected API key and a submission VMRay forgets.
#include <httplib.h>

#include <ctime>

#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

class DefenderVmray : public PipelineTest {
 protected:
  // One EDR alert whose file is on the device; returns the file's sha256.
  std::string SeedOneFile(const std::string& content, const std::string& alert_id = "a1") {
    const std::string sha = Sha256Hex(content);
    SeedMde({Alert(alert_id, sha)}, Device({{"dropper.exe", content}}));
    return sha;
  }

  // The sample document VMRay really answers for `sha256` (the sample must be seeded).
  Json RealSampleDocument(const std::string& sha256) {
    httplib::Client c(vmray().BaseUrl());
    auto res =
        c.Get("/rest/sample/sha256/" + sha256,
              {{"Authorization", "api_key " + std::string(emu::VmrayEmulator::kDefaultApiKey)}});
    EXPECT_TRUE(res && res->status == 200);
    vmray().ClearCalls();
    return res ? Json::parse(res->body)["data"][0] : Json::object();
  }

  static std::string HttpDate(TimePoint t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
  }
};

// ---- resubmit window (VmrayResubmitAfter) ----------------------------------------------------

TEST_F(DefenderVmray, AnalysisOlderThanResubmitAfterIsCollectedAndResubmitted) {
  const std::string content = std::string("MZ changed behaviour ") + kEicar;
  const std::string sha = SeedOneFile(content);
  SeedVmraySample(sha, "clean", Hours(24 * 10));
  auto d = h().OpenDaemon({{"VmrayResubmitAfter", "7"}});
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  // The comment carries the new analysis, not the ten-day-old one.
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(StoredSubmissions(sha), 2u) << "the seeded analysis and one new submission";
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, AnalysisInsideResubmitAfterIsReusedWithoutSubmission) {
  const std::string content = std::string("MZ still known ") + kEicar;
  const std::string sha = SeedOneFile(content);
  SeedVmraySample(sha, "clean", Hours(24 * 10));
  auto d = h().OpenDaemon({{"VmrayResubmitAfter", "30"}});
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: CLEAN"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(StoredSubmissions(sha), 1u);
  EXPECT_EQ(LiveResponseCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("", "/api/machine.*"), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, ResubmitAfterZeroAlwaysResubmits) {
  const std::string content = std::string("MZ fresh but resubmitted ") + kEicar;
  const std::string sha = SeedOneFile(content);
  SeedVmraySample(sha, "clean", Hours(1));
  auto d = h().OpenDaemon({{"VmrayResubmitAfter", "0"}});
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(StoredSubmissions(sha), 2u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

// ---- throttling and outages on the hash lookup ---------------------------------------------

TEST_F(DefenderVmray, LookupThrottledWithRetryAfterSecondsIsNotRepeatedEarly) {
  const std::string sha = Sha256Hex(std::string("throttled ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  // Longer than a step may sleep: the job itself is rescheduled.
  emu::FaultRule throttle = Fault("GET", "^/rest/sample/sha256/", 429);
  throttle.retry_after = "45";
  vmray().AddFault(throttle);
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return JobOf(*d, "mde:a1:" + sha).attempts == 1; }));

  const store::Job waiting = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(waiting.state, "looking_up");
  EXPECT_NE(waiting.reason.find("VMRay hash lookup (retrying 1/40"), std::string::npos)
      << waiting.reason;
  EXPECT_NE(waiting.reason.find("retry-after=45s"), std::string::npos) << waiting.reason;
  EXPECT_NE(waiting.reason.find("VMRay is throttling"), std::string::npos) << waiting.reason;
  EXPECT_GE(waiting.next_attempt_at - clock_.Now(), Seconds(45));
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  const auto lookups = Lookups(sha);
  ASSERT_EQ(lookups.size(), 2u);
  EXPECT_EQ(lookups[0].status, 429);
  EXPECT_EQ(lookups[1].status, 200);
  EXPECT_GE(lookups[1].at_ms - lookups[0].at_ms, 45'000);
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, LookupThrottledWithRetryAfterDateIsNotRepeatedEarly) {
  const std::string sha = Sha256Hex(std::string("throttled by date ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  // Short enough to wait inside the step; the date has whole seconds, so up to 1 s less.
  emu::FaultRule throttle = Fault("GET", "^/rest/sample/sha256/", 429);
  throttle.retry_after = HttpDate(clock_.Now() + Seconds(20));
  vmray().AddFault(throttle);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const auto lookups = Lookups(sha);
  ASSERT_EQ(lookups.size(), 2u);
  EXPECT_EQ(lookups[0].status, 429);
  EXPECT_GE(lookups[1].at_ms - lookups[0].at_ms, 19'000);
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, TwoOutagesThenSuccessCostNoJobRetry) {
  const std::string sha = Sha256Hex(std::string("flaky ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  vmray().AddFault(Fault("GET", "^/rest/sample/sha256/", 503, 2));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const auto lookups = Lookups(sha);
  ASSERT_EQ(lookups.size(), 3u);
  EXPECT_EQ(lookups[0].status, 503);
  EXPECT_EQ(lookups[1].status, 503);
  EXPECT_EQ(lookups[2].status, 200);
  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done") << job.reason;
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, MalformedLookupAnswerIsRetriedThenSucceeds) {
  const std::string sha = Sha256Hex(std::string("garbled once ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  emu::FaultRule garbled = Fault("GET", "^/rest/sample/sha256/", 200);
  garbled.malformed = true;
  vmray().AddFault(garbled);
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return JobOf(*d, "mde:a1:" + sha).attempts == 1; }));
  const store::Job waiting = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(waiting.state, "looking_up");
  EXPECT_NE(waiting.reason.find("VMRay hash lookup (retrying 1/3"), std::string::npos)
      << waiting.reason;
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  EXPECT_EQ(Lookups(sha).size(), 2u);
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  ExpectNoEmulatorAssertions();
}

// ---- answers that parse but are wrong ---------------------------------------------------------

struct BadSample {
  const char* name;
  std::function<void(Json&)> spoil;
  const char* path_and_problem;  // what the reason must name
};

void PrintTo(const BadSample& bad, std::ostream* os) {
  *os << bad.name;
}

class DefenderVmrayBadAnswer : public DefenderVmray,
                               public ::testing::WithParamInterface<BadSample> {};

TEST_P(DefenderVmrayBadAnswer, IsRetriedThenFailsNamingTheJsonPath) {
  const std::string sha = Sha256Hex(std::string("odd answer ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  Json sample = RealSampleDocument(sha);
  GetParam().spoil(sample);
  emu::FaultRule odd = Fault("GET", "^/rest/sample/sha256/", 200, /*times=*/-1);
  odd.body = Json{{"result", "ok"}, {"data", Json::array({sample})}}.dump();
  vmray().AddFault(odd);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("VMRay hash lookup failed 4 times, giving up"), std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find(GetParam().path_and_problem), std::string::npos) << job.reason;
  const std::string comment = OnlyComment("a1");
  EXPECT_NE(comment.find("VMRay Connector could not analyse dropper.exe"), std::string::npos)
      << comment;
  EXPECT_NE(comment.find(GetParam().path_and_problem), std::string::npos) << comment;
  EXPECT_EQ(Lookups(sha).size(), 4u) << "one try and three retries";
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(LiveResponseCalls(), 0u);
  ExpectNoEmulatorAssertions();
}

INSTANTIATE_TEST_SUITE_P(
    Lookup, DefenderVmrayBadAnswer,
    ::testing::Values(BadSample{"MissingSampleId", [](Json& s) { s.erase("sample_id"); },
                                "data[0].sample_id: required field is missing"},
                      BadSample{"StringVtiScore", [](Json& s) { s["sample_vti_score"] = "high"; },
                                "data[0].sample_vti_score: expected an integer, got string"},
                      BadSample{"VtiScoreOutOfRange", [](Json& s) { s["sample_vti_score"] = 1000; },
                                "data[0].sample_vti_score: number 1000 out of range [0, 100]"},
                      BadSample{"NullHash", [](Json& s) { s["sample_sha256hash"] = nullptr; },
                                "data[0].sample_sha256hash"}),
    [](const ::testing::TestParamInfo<BadSample>& info) { return std::string(info.param.name); });

// ---- soft errors (HTTP 200 with data.errors) ------------------------------------------------

TEST_F(DefenderVmray, NoJobsCreatedSoftErrorReusesTheCachedAnalysis) {
  const std::string content = std::string("MZ cached by vmray ") + kEicar;
  const std::string sha = SeedOneFile(content);
  SeedVmraySample(sha, "suspicious", Hours(24 * 10));
  h().Seed({{"vmray", {{"soft_error_for", Json::array({sha})}}}});
  auto d = h().OpenDaemon({{"VmrayResubmitAfter", "7"}});
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "done") << job.reason;
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: SUSPICIOUS"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(vmray().StateJson()["submit_count"], 1);
  EXPECT_EQ(StoredSubmissions(sha), 1u) << "VMRay stored nothing new";
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(Lookups(sha).size(), 2u) << "looked up again to read the cached analysis";
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, NoJobsCreatedWithoutAnyEarlierAnalysisFailsAfterOneCollection) {
  const std::string content = std::string("MZ never stored ") + kEicar;
  const std::string sha = SeedOneFile(content);
  h().Seed({{"vmray", {{"soft_error_for", Json::array({sha})}}}});
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("Submission not stored because no jobs were created"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(OnlyComment("a1").find("no jobs were created"), std::string::npos);
  // Nothing to reuse: collecting the file a second time would only repeat the answer.
  EXPECT_EQ(LiveResponseCalls(), 1u);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(StoredSubmissions(sha), 0u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, OtherSoftErrorFailsWithItsMessage) {
  const std::string content = std::string("MZ refused ") + kEicar;
  const std::string sha = SeedOneFile(content);
  vmray().AddFault(SoftSubmitError("File size exceeds quota"));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "failed");
  EXPECT_EQ(job.reason, "VMRay did not accept the submission: File size exceeds quota");
  EXPECT_NE(OnlyComment("a1").find("VMRay did not accept the submission: File size exceeds quota"),
            std::string::npos);
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(StoredSubmissions(sha), 0u);
  ExpectNoEmulatorAssertions();
}

// ---- analysis that never ends, submissions that disappear ----------------------------------

TEST_F(DefenderVmray, AnalysisThatNeverFinishesFailsBothAlertsAfterTheTimeout) {
  emu::EmulatorSetOptions options;
  options.vmray.finish_after_polls = 1'000'000;
  UseEmulatorOptions(options);
  const std::string content = std::string("MZ sleeps forever ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha), Alert("a2", sha)}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon({{"VmrayAnalysisJobTimeout", "5"},
                           {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "30"}});
  ASSERT_TRUE(Run(*d));

  const auto submits = CallsTo(vmray(), "POST", "/rest/sample/submit");
  ASSERT_EQ(submits.size(), 1u) << "the second alert waits on the same submission";
  const auto polls = CallsTo(vmray(), "GET", "/rest/submission/[0-9]+");
  ASSERT_FALSE(polls.empty());
  EXPECT_GE(polls.back().at_ms - submits[0].at_ms, 5 * 60'000);
  EXPECT_LE(polls.size(), 12u) << "polled every 30 s, not in a loop";
  for (const char* id : {"a1", "a2"}) {
    const store::Job job = JobOf(*d, std::string("mde:") + id + ":" + sha);
    EXPECT_EQ(job.state, "failed") << id;
    EXPECT_NE(job.reason.find("within 5 min (VmrayAnalysisJobTimeout)"), std::string::npos)
        << id << ": " << job.reason;
    EXPECT_NE(OnlyComment(id).find("did not finish submission"), std::string::npos) << id;
  }
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderVmray, SubmissionVmrayNoLongerKnowsFailsTheJob) {
  const std::string content = std::string("MZ vanished submission ") + kEicar;
  const std::string sha = SeedOneFile(content);
  vmray().AddFault(Fault("GET", "^/rest/submission/[0-9]+$", 404, /*times=*/-1));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("VMRay no longer knows submission"), std::string::npos) << job.reason;
  EXPECT_NE(OnlyComment("a1").find("VMRay no longer knows submission"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

// ---- a rejected API key ------------------------------------------------------------------------

TEST_F(DefenderVmray, RejectedApiKeyBlocksJobsUntilTheKeyIsFixed) {
  const std::string sha = Sha256Hex(std::string("needs a key ") + kEicar);
  SeedVmraySample(sha, "malicious", Hours(1));
  SeedMde({Alert("a1", sha)}, Device({}));
  {
    auto d = h().OpenDaemon({{"VmrayAPIKey", "wrong-key-DO-NOT-LOG"}});
    EXPECT_FALSE(Run(*d, Hours(2)));
    const store::Job job = JobOf(*d, "mde:a1:" + sha);
    EXPECT_EQ(job.state, "looking_up");
    EXPECT_FALSE(job.final);
    EXPECT_NE(job.reason.find("(blocked "), std::string::npos) << job.reason;
    EXPECT_NE(job.reason.find("check VmrayAPIKey"), std::string::npos) << job.reason;
    EXPECT_EQ(job.reason.find(kSecretMarker), std::string::npos) << job.reason;
    EXPECT_TRUE(Comments("a1").empty());
    // A rejected key is not hammered: one lookup per 30 minutes.
    const auto lookups = Lookups(sha);
    ASSERT_GE(lookups.size(), 2u);
    EXPECT_LE(lookups.size(), 5u);
    EXPECT_GE(lookups[1].at_ms - lookups[0].at_ms, 30 * 60'000);
  }
  // The operator fixes the key and restarts: the same job finishes, with one comment.
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(AllJobs(*d).size(), 1u);
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
