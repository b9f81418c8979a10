// Child samples in the alert comment, against the in-process emulators: the connector reads a
// sample's descendants through child_sample_ids (each once, bounded), reports each in the
// comment, caches them with the sample, and treats a child's faults like the parent's.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/child_samples.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"

namespace vc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class DefenderChildSamples : public PipelineTest {
 protected:
  const std::string parent_ = Sha256Hex(std::string("parent dropper ") + kEicar);
  const std::string bad_child_ = Sha256Hex("child: the payload it drops");
  const std::string clean_child_ = Sha256Hex("child: a harmless readme");
  const std::string grandchild_ = Sha256Hex("grandchild: the payload's own download");
  static constexpr const char* kThreat = "Trojan:Win32/Dropper.A!ml";

  static Json SampleSeed(const std::string& sha256, const std::string& verdict,
                         const std::vector<std::string>& children,
                         const std::vector<std::string>& threat_names = {}) {
    Json s{{"sha256", sha256}, {"verdict", verdict}, {"child_sample_ids", children}};
    if (!threat_names.empty()) s["threat_names"] = threat_names;
    return s;
  }

  // parent -> {bad child, clean child}; both children name the grandchild (so it is listed
  // twice), and the grandchild names the parent again (a loop back to the top).
  void SeedTree(bool parent_pending = false) {
    Json parent = SampleSeed(parent_, "malicious", {bad_child_, clean_child_});
    if (parent_pending) parent["pending"] = true;
    h().Seed({{"vmray",
               {{"samples",
                 Json::array({parent, SampleSeed(bad_child_, "malicious", {grandchild_}, {kThreat}),
                              SampleSeed(clean_child_, "clean", {grandchild_}),
                              SampleSeed(grandchild_, "suspicious", {parent_})})}}}});
  }

  int64_t SampleId(const std::string& sha256) {
    const Json state = vmray().StateJson();
    for (const auto& s : state["samples"]) {
      if (s["sha256"] == sha256) return s["id"].get<int64_t>();
    }
    ADD_FAILURE() << "no VMRay sample " << sha256;
    return 0;
  }
  std::string SamplePath(const std::string& sha256) {
    return "/rest/sample/" + std::to_string(SampleId(sha256));
  }
  size_t SampleReads(const std::string& sha256) {
    return vmray().CountCalls("GET", SamplePath(sha256));
  }
  size_t VtiReads(const std::string& sha256) {
    return vmray().CountCalls("GET", SamplePath(sha256) + "/vtis");
  }

  // The block of a child in the comment, from its heading to its verdict line.
  static std::string ChildHead(const std::string& sha256, const std::string& verdict,
                               const std::string& parent = "") {
    return "Child sample SHA256:\n" + sha256 + "\n" +
           (parent.empty() ? "" : "Parent sample SHA256:\n" + parent + "\n") +
           "VMRAY Analyzer Verdict: " + verdict + "\n";
  }

  void ExpectWholeTree(const std::string& comment) {
    EXPECT_EQ(comment.find("Evidence SHA256:\n" + parent_ + "\nVMRAY Analyzer Verdict: MALICIOUS"),
              0u)
        << comment;
    EXPECT_EQ(Count(comment, ChildHead(bad_child_, "MALICIOUS")), 1u) << comment;
    EXPECT_EQ(Count(comment, ChildHead(clean_child_, "CLEAN")), 1u) << comment;
    EXPECT_EQ(Count(comment, ChildHead(grandchild_, "SUSPICIOUS", bad_child_)), 1u) << comment;
    EXPECT_EQ(Count(comment, "Child sample SHA256:"), 3u) << "the parent is not its own child";
    EXPECT_EQ(Count(comment, "Child sample SHA256:\n" + parent_), 0u);
    EXPECT_THAT(comment, HasSubstr("Threat Names:\n" + std::string(kThreat)));
  }
};

TEST_F(DefenderChildSamples, KnownFileReportsEachDescendantOnceAndTheCacheKeepsThem) {
  SeedTree();
  SeedMde({Alert("a1", parent_)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + parent_);
  EXPECT_EQ(job.state, "done") << job.reason;
  const std::string comment = OnlyComment("a1");
  ExpectWholeTree(comment);
  for (const auto& sha : {bad_child_, clean_child_, grandchild_}) {
    EXPECT_EQ(SampleReads(sha), 1u) << "GET /rest/sample/<id> once for " << sha;
    EXPECT_EQ(VtiReads(sha), 1u) << sha;
  }
  EXPECT_EQ(SubmitCalls(), 0u);

  auto row = d->store().GetSample(parent_);
  ASSERT_TRUE(row && *row);
  auto cached = defender::SampleResult::Parse((*row)->result_json);
  ASSERT_TRUE(cached) << cached.error().ToString();
  EXPECT_EQ(cached->children.size(), 3u);

  // A later alert about the same file is answered from the cache, children included.
  vmray().ClearCalls();
  clock_.Advance(Minutes(10));
  h().Seed({{"mde", {{"alerts", Json::array({Alert("a2", parent_)})}}}});
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(JobOf(*d, "mde:a2:" + parent_).state, "done");
  EXPECT_EQ(OnlyComment("a2"), comment);
  EXPECT_TRUE(vmray().Calls().empty())
      << vmray().Calls().size() << " VMRay calls, first " << vmray().Calls().front().path;
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderChildSamples, ASubmissionThatFinishesReportsItsChildrenToo) {
  SeedTree(/*parent_pending=*/true);
  SeedMde({Alert("a1", parent_)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, "mde:a1:" + parent_);
  EXPECT_EQ(job.state, "done") << job.reason;
  EXPECT_GE(vmray().CountCalls("GET", "/rest/submission/[0-9]+"), 1u)
      << "the verdict came from the running submission";
  ExpectWholeTree(OnlyComment("a1"));
  for (const auto& sha : {bad_child_, clean_child_, grandchild_}) {
    EXPECT_EQ(SampleReads(sha), 1u) << sha;
  }
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderChildSamples, AChildRead503OnceStillEndsInOneComment) {
  SeedTree();
  SeedMde({Alert("a1", parent_)}, Device({}));
  vmray().AddFault(Fault("GET", SamplePath(clean_child_), 503, 1));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + parent_).state, "done");
  const auto reads = CallsTo(vmray(), "GET", SamplePath(clean_child_));
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].status, 503);
  EXPECT_EQ(reads[1].status, 200);
  EXPECT_EQ(CommentCalls(), 1u);
  ExpectWholeTree(OnlyComment("a1"));
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderChildSamples, AChildOutagePastTheHttpRetriesRetriesTheStep) {
  SeedTree();
  SeedMde({Alert("a1", parent_)}, Device({}));
  vmray().AddFault(Fault("GET", SamplePath(clean_child_), 503, -1));
  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  const std::string key = "mde:a1:" + parent_;
  ASSERT_TRUE(StepUntil(*d, [&] { return JobOf(*d, key).attempts == 1; }));
  const store::Job waiting = JobOf(*d, key);
  EXPECT_EQ(waiting.state, "looking_up");
  EXPECT_THAT(waiting.reason, HasSubstr("reading the VMRay child samples"));
  EXPECT_THAT(waiting.reason, HasSubstr(std::to_string(SampleId(clean_child_))));
  EXPECT_TRUE(Comments("a1").empty());

  vmray().ClearFaults();
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, key).state, "done");
  EXPECT_EQ(CommentCalls(), 1u);
  ExpectWholeTree(OnlyComment("a1"));
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderChildSamples, AChildVmrayNoLongerHasIsSkippedWithANote) {
  SeedTree();
  SeedMde({Alert("a1", parent_)}, Device({}));
  vmray().AddFault(Fault("GET", SamplePath(clean_child_), 404, -1));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + parent_).state, "done");
  const std::string comment = OnlyComment("a1");
  EXPECT_THAT(comment, HasSubstr(fmt::format("Child sample {} was skipped: VMRay no longer has it.",
                                             SampleId(clean_child_))));
  EXPECT_THAT(comment, Not(HasSubstr(clean_child_)));
  EXPECT_EQ(Count(comment, ChildHead(bad_child_, "MALICIOUS")), 1u) << comment;
  EXPECT_EQ(Count(comment, ChildHead(grandchild_, "SUSPICIOUS", bad_child_)), 1u) << comment;
  EXPECT_EQ(SampleReads(clean_child_), 1u) << "a 404 is not retried";
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderChildSamples, ReadingStopsAtTheBoundAndCountsTheRest) {
  const std::string third = Sha256Hex("child: a third file");
  h().Seed({{"vmray",
             {{"samples",
               Json::array({SampleSeed(parent_, "malicious", {bad_child_, clean_child_, third}),
                            SampleSeed(bad_child_, "malicious", {grandchild_}),
                            SampleSeed(clean_child_, "clean", {}), SampleSeed(third, "clean", {}),
                            SampleSeed(grandchild_, "suspicious", {})})}}}});
  auto client = VmrayClient();
  auto parent = client->GetSample(SampleId(parent_));
  ASSERT_TRUE(parent) << parent.error().ToString();
  defender::SampleResult result = defender::SampleResult::From(*parent, {}, std::nullopt);
  ASSERT_TRUE(defender::ReadChildSamples(*client, *parent, result, 2));

  ASSERT_EQ(result.children.size(), 2u);
  EXPECT_EQ(result.children[0].sha256, bad_child_);
  EXPECT_EQ(result.children[1].sha256, clean_child_);
  EXPECT_EQ(result.children_not_read, 2) << "the third child and the grandchild";
  EXPECT_EQ(SampleReads(third), 0u);
  EXPECT_EQ(SampleReads(grandchild_), 0u);
  EXPECT_THAT(defender::BuildAlertComment(result), HasSubstr("2 more child samples were not read"));
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
