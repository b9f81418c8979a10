// Tokens (expiry, an Entra outage, a rotated secret) and the write-back (a missing permission, a
// deleted alert) and answers lost on the wire: each one ends with exactly one comment or a
// reason that says what to do, never with a duplicate.
#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

constexpr const char* kTokenPath = ".*/oauth2/v2.0/token";

class DefenderAuth : public PipelineTest {
 protected:
  // An unknown file on the device: the job needs MDE for collection, VMRay for the rest.
  std::string SeedUnknownFile(const std::string& label) {
    const std::string content = "MZ " + label + " " + kEicar;
    const std::string sha = Sha256Hex(content);
    SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
    return sha;
  }
};

TEST_F(DefenderAuth, TokensExpiredMidRunCostExactlyOneRefresh) {
  const std::string sha = SeedUnknownFile("token expiry");
  // Only the MDE token here: incident tags would add a Graph token of their own.
  auto d = h().OpenDaemon({{"AddTagsToIncident", "false"}});
  auto stats = d->PollAlerts();
  ASSERT_TRUE(stats) << stats.error().ToString();
  ASSERT_EQ(entra().CountCalls("POST", kTokenPath), 1u);
  clock_.Advance(Minutes(1));
  h().Seed({{"entra", {{"expire_all_tokens", true}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  EXPECT_EQ(entra().CountCalls("POST", kTokenPath), 2u) << "one refresh, not one per call";
  size_t rejected = 0;
  for (const auto& c : mde().Calls()) rejected += c.status == 401 ? 1 : 0;
  EXPECT_EQ(rejected, 1u) << "only the first call after the expiry is refused";
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderAuth, TokenEndpointDownKeepsJobsRetryingThenTheyComplete) {
  const std::string sha = SeedUnknownFile("entra outage");
  auto d = h().OpenDaemon();
  ASSERT_TRUE(d->PollAlerts());
  clock_.Advance(Minutes(1));
  entra().AddFault(Fault("POST", kTokenPath, 503, /*times=*/-1));
  h().Seed({{"entra", {{"expire_all_tokens", true}}}});

  EXPECT_FALSE(Run(*d, Minutes(30), /*poll=*/false));
  const store::Job waiting = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(waiting.state, "collecting");
  EXPECT_FALSE(waiting.final);
  EXPECT_GE(waiting.attempts, 2);
  EXPECT_NE(waiting.reason.find("(retrying "), std::string::npos) << waiting.reason;
  EXPECT_NE(waiting.reason.find("Entra token endpoint answered 503"), std::string::npos)
      << waiting.reason;
  EXPECT_TRUE(Comments("a1").empty());
  EXPECT_EQ(LiveResponseCalls(), 0u);

  entra().ClearFaults();
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(LiveResponseCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderAuth, RotatedClientSecretBlocksJobsWithAReasonNamingTheSetting) {
  const std::string sha = SeedUnknownFile("rotated secret");
  auto d = h().OpenDaemon();
  ASSERT_TRUE(d->PollAlerts());
  clock_.Advance(Minutes(1));
  h().Seed(
      {{"entra", {{"client_secret", "rotated-secret-DO-NOT-LOG"}, {"expire_all_tokens", true}}}});

  EXPECT_FALSE(Run(*d, Hours(2), /*poll=*/false));
  const store::Job blocked = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(blocked.state, "collecting");
  EXPECT_NE(blocked.reason.find("(blocked "), std::string::npos) << blocked.reason;
  EXPECT_NE(blocked.reason.find("check AzureClientID and AzureClientSecret"), std::string::npos)
      << blocked.reason;
  EXPECT_NE(blocked.reason.find("invalid_client"), std::string::npos) << blocked.reason;
  EXPECT_EQ(blocked.reason.find(kSecretMarker), std::string::npos) << blocked.reason;
  EXPECT_TRUE(Comments("a1").empty());
  // Blocked work waits for an operator instead of hammering Entra.
  EXPECT_LE(entra().CountCalls("POST", kTokenPath), 1u + 5) << "one try per 30 minutes";

  // A fresh process with the old secret cannot even read alerts, and says why (one process per
  // store: the first one stops before).
  d.reset();
  auto other = h().OpenDaemon();
  auto poll = other->PollAlerts();
  ASSERT_FALSE(poll);
  EXPECT_NE(poll.error().message.find("AzureClientSecret"), std::string::npos)
      << poll.error().ToString();
  other.reset();

  // The operator rotates the connector's secret to the new one: the job completes.
  auto fixed = h().OpenDaemon({{"AzureClientSecret", "rotated-secret-DO-NOT-LOG"}});
  ASSERT_TRUE(Run(*fixed, Hours(1)));
  EXPECT_EQ(JobOf(*fixed, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

class DefenderWriteBack : public PipelineTest {
 protected:
  // A file VMRay knows: the job goes straight to its write-back.
  std::string SeedKnownFile(const std::string& label) {
    const std::string sha = Sha256Hex("known " + label);
    SeedVmraySample(sha, "malicious", Hours(2));
    SeedMde({Alert("a1", sha)}, Device({}));
    return sha;
  }
};

TEST_F(DefenderWriteBack, MissingWritePermissionWaitsThenWritesExactlyOnce) {
  const std::string sha = SeedKnownFile("permission");
  h().Seed({{"mde", {{"denied_permissions", Json::array({"Alert.ReadWrite.All"})}}}});
  auto d = h().OpenDaemon();
  EXPECT_FALSE(Run(*d, Hours(2)));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "writing_back");
  const auto items = OutboxOf(*d, job.id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].state, "pending");
  EXPECT_NE(items[0].reason.find("PermissionDenied"), std::string::npos) << items[0].reason;
  EXPECT_NE(items[0].reason.find("grant the WindowsDefenderATP application permission"),
            std::string::npos)
      << items[0].reason;
  EXPECT_NE(items[0].reason.find("Alert.ReadWrite.All"), std::string::npos) << items[0].reason;
  EXPECT_NE(items[0].reason.find("request-id="), std::string::npos) << items[0].reason;
  EXPECT_TRUE(Comments("a1").empty());
  const auto patches = CallsTo(mde(), "PATCH", "/api/alerts/a1");
  ASSERT_GE(patches.size(), 2u);
  EXPECT_LE(patches.size(), 5u) << "a missing permission is retried every 30 minutes";
  EXPECT_GE(patches[1].at_ms - patches[0].at_ms, 30 * 60'000);

  h().Seed({{"mde", {{"denied_permissions", Json::array()}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_NE(OnlyComment("a1").find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  const auto last = CallsTo(mde(), "PATCH", "/api/alerts/a1");
  EXPECT_EQ(last.back().status, 200);
  for (size_t i = 0; i + 1 < last.size(); ++i) EXPECT_EQ(last[i].status, 403) << i;
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, AlertDeletedBeforeTheCommentFailsTheJob) {
  const std::string sha = SeedKnownFile("deleted alert");
  mde().AddFault(Fault("PATCH", "^/api/alerts/a1$", 404, /*times=*/-1));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("alert a1 no longer exists in MDE"), std::string::npos) << job.reason;
  EXPECT_EQ(CommentCalls(), 1u) << "a missing alert is not retried";
  EXPECT_TRUE(Comments("a1").empty());
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, LostSubmitAnswerMakesOneSubmission) {
  const std::string content = std::string("MZ lost answer ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule drop = Fault("POST", "^/rest/sample/submit$");
  drop.drop_connection = true;
  vmray().AddFault(drop);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(SubmitCalls(), 2u) << "the broken transfer, then the real submission";
  EXPECT_EQ(StoredSubmissions(sha), 1u);
  EXPECT_EQ(LiveResponseCalls(), 1u) << "the collected file is fetched again, not re-collected";
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, SubmissionStoredButAnswerLostIsAdoptedNotRepeated) {
  const std::string content = std::string("MZ stored, answer lost ") + kEicar;
  const std::string sha = Sha256Hex(content);
  SeedMde({Alert("a1", sha)}, Device({{"dropper.exe", content}}));
  emu::FaultRule cut = Fault("POST", "^/rest/sample/submit$");
  cut.cut_after_handling = true;  // VMRay stores the submission; the client sees a broken answer
  vmray().AddFault(cut);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(SubmitCalls(), 1u) << "the stored submission is found and adopted, not sent again";
  EXPECT_EQ(StoredSubmissions(sha), 1u);
  EXPECT_EQ(Comments("a1").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, CommentWrittenButAnswerLostIsNotWrittenAgain) {
  const std::string sha = SeedKnownFile("comment landed, answer lost");
  emu::FaultRule cut = Fault("PATCH", "^/api/alerts/a1$");
  cut.cut_after_handling = true;  // MDE appends the comment; the client sees a broken answer
  mde().AddFault(cut);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u) << "the retry finds the comment and does not PATCH again";
  EXPECT_EQ(CommentCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, LostCommentAnswerMakesOneComment) {
  const std::string sha = SeedKnownFile("lost comment answer");
  emu::FaultRule drop = Fault("PATCH", "^/api/alerts/a1$");
  drop.drop_connection = true;
  mde().AddFault(drop);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  // The second attempt reads the alert before writing, because the first may have landed.
  const auto calls = CallsTo(mde(), "", "/api/alerts/a1");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].method, "PATCH");
  EXPECT_EQ(calls[1].method, "GET");
  EXPECT_EQ(calls[2].method, "PATCH");
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderWriteBack, CommentAlreadyOnTheAlertIsNotWrittenAgain) {
  // The write-back of a crashed process reached MDE; its retry finds the comment and stops.
  const std::string sha = SeedKnownFile("already there");
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return JobOf(*d, "mde:a1:" + sha).state == "writing_back"; }));
  const store::Job job = JobOf(*d, "mde:a1:" + sha);
  const auto items = OutboxOf(*d, job.id);
  ASSERT_EQ(items.size(), 1u);
  const std::string comment = Json::parse(items[0].payload)["comment"];
  CrashMidStep(*d);  // the write-back was leased: its attempt counted
  ASSERT_TRUE(MdeClient()->AddAlertComment("a1", comment));
  d.reset();

  auto again = h().OpenDaemon();
  ASSERT_TRUE(Run(*again));
  const store::Job done = JobOf(*again, "mde:a1:" + sha);
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(OutboxOf(*again, done.id)[0].reason, "comment was already on the alert");
  EXPECT_EQ(OnlyComment("a1"), comment);
  EXPECT_EQ(CommentCalls(), 1u) << "only the crashed process's write";
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
