// The daily VMRay submission budget and the cap on analyses in flight, end to end against the
// emulators: how many submissions VMRay received, what the skipped alerts say, and how many
// analyses ran at once.
#include <fmt/format.h>

#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/submission_budget.hpp"

namespace vc::testing {
namespace {

constexpr const char* kBudgetKey = "VMRAY_CONNECTOR_VMRAY_DAILY_SUBMISSION_BUDGET";
constexpr const char* kCapKey = "VMRAY_CONNECTOR_VMRAY_MAX_CONCURRENT_ANALYSES";

class DefenderBudget : public PipelineTest {
 protected:
  // `n` alerts a<i>, each with its own file on the one device; returns the files' sha256.
  std::vector<std::string> SeedFiles(int n, const std::string& tag, int first = 0) {
    std::vector<Json> alerts;
    std::vector<std::pair<std::string, std::string>> files;
    std::vector<std::string> shas;
    for (int i = first; i < first + n; ++i) {
      const std::string content = fmt::format("MZ {} file {} {}", tag, i, kEicar);
      const std::string name = fmt::format("file{}.exe", i);
      shas.push_back(Sha256Hex(content));
      alerts.push_back(Alert(fmt::format("a{}", i), shas.back(), name));
      files.emplace_back(name, content);
    }
    SeedMde(alerts, Device(files));
    return shas;
  }

  std::vector<store::Job> JobsIn(app::Daemon& d, const std::string& state) {
    std::vector<store::Job> out;
    for (auto& j : AllJobs(d)) {
      if (j.state == state) out.push_back(j);
    }
    return out;
  }

  size_t RunningInVmray() {
    size_t n = 0;
    const Json state = vmray().StateJson();
    for (const auto& s : state["submissions"]) n += s["finished"] == false ? 1 : 0;
    return n;
  }
};

TEST(SubmissionBudgetDay, IsTheUtcDateAndResetsAtUtcMidnight) {
  const TimePoint t{std::chrono::seconds{1'700'000'000}};  // 2023-11-14 22:13:20 UTC
  EXPECT_EQ(defender::BudgetDay(t), "2023-11-14");
  EXPECT_EQ(defender::NextBudgetReset(t), TimePoint{std::chrono::seconds{1'700'006'400}});
  EXPECT_EQ(defender::BudgetDay(defender::NextBudgetReset(t)), "2023-11-15");
  EXPECT_NE(defender::BudgetSkipExplanation(3, t).find("resets at 2023-11-15 00:00 UTC (in 1 h "
                                                       "46 min)"),
            std::string::npos);
}

TEST_F(DefenderBudget, OnlyBudgetManyFilesAreSubmittedTheRestEndSkippedWithAComment) {
  clock_.Set(defender::NextBudgetReset(clock_.Now()) + Hours(1));  // the run stays in one day
  const std::string next_day = defender::BudgetDay(defender::NextBudgetReset(clock_.Now()));
  const auto shas = SeedFiles(5, "budget");
  auto d = h().OpenDaemon({{kBudgetKey, "2"}});
  ASSERT_TRUE(Run(*d, Hours(4)));

  EXPECT_EQ(SubmitCalls(), 2u) << "VMRay received exactly the budget";
  const auto done = JobsIn(*d, "done");
  const auto skipped = JobsIn(*d, "skipped_budget");
  ASSERT_EQ(done.size(), 2u);
  ASSERT_EQ(skipped.size(), 3u);
  // A skipped file cost no Live Response either.
  size_t collections = 0;
  for (const auto& sha : shas) collections += CollectionsOf(sha).empty() ? 0 : 1;
  EXPECT_EQ(collections, 2u);
  for (const auto& job : skipped) {
    EXPECT_TRUE(job.final);
    EXPECT_NE(job.reason.find("daily VMRay submission budget of 2 was reached"), std::string::npos)
        << job.reason;
    const std::string alert_id = job.key.substr(4, job.key.find(':', 4) - 4);
    const std::string comment = OnlyComment(alert_id);
    EXPECT_NE(comment.find("Not submitted to VMRay: the daily submission budget of 2 "
                           "submissions was reached."),
              std::string::npos)
        << comment;
    EXPECT_NE(comment.find("The budget resets at " + next_day + " 00:00 UTC"), std::string::npos)
        << comment;
    EXPECT_NE(comment.find("raise vmray.daily_submission_budget"), std::string::npos) << comment;
    EXPECT_NE(comment.find("not retried automatically"), std::string::npos) << comment;
  }
  for (const auto& job : done) {
    const std::string alert_id = job.key.substr(4, job.key.find(':', 4) - 4);
    EXPECT_NE(OnlyComment(alert_id).find("VMRAY Analyzer Verdict:"), std::string::npos);
  }
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderBudget, ReusingAKnownVerdictCostsNoBudget) {
  clock_.Set(defender::NextBudgetReset(clock_.Now()) + Hours(1));
  const std::string known_content = std::string("MZ already analysed ") + kEicar;
  const std::string known = Sha256Hex(known_content);
  const std::string fresh_content = std::string("MZ never seen ") + kEicar;
  const std::string fresh = Sha256Hex(fresh_content);
  SeedVmraySample(known, "malicious", Hours(1));
  SeedMde({Alert("k1", known, "known.exe"), Alert("f1", fresh, "fresh.exe")},
          Device({{"known.exe", known_content}, {"fresh.exe", fresh_content}}));
  auto d = h().OpenDaemon({{kBudgetKey, "1"}});
  ASSERT_TRUE(Run(*d, Hours(4)));

  EXPECT_EQ(JobOf(*d, "mde:k1:" + known).state, "done");
  EXPECT_EQ(JobOf(*d, "mde:f1:" + fresh).state, "done");
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(d->store().BudgetUsed(defender::BudgetDay(clock_.Now())).value_or(-1), 1);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderBudget, SkippedAlertsStaySkippedAndTheNextDayHasAFreshBudget) {
  // Start just before midnight UTC so the run crosses into the next budget day.
  clock_.Set(defender::NextBudgetReset(clock_.Now()) - Hours(3));
  SeedFiles(2, "day one");
  auto d = h().OpenDaemon({{kBudgetKey, "1"}});
  ASSERT_TRUE(Run(*d, Hours(2)));
  ASSERT_EQ(SubmitCalls(), 1u);
  ASSERT_EQ(JobsIn(*d, "skipped_budget").size(), 1u);
  const std::string day_one = defender::BudgetDay(clock_.Now());

  clock_.Set(defender::NextBudgetReset(clock_.Now()) + Minutes(5));
  ASSERT_NE(defender::BudgetDay(clock_.Now()), day_one);
  SeedFiles(2, "day two", /*first=*/10);
  ASSERT_TRUE(Run(*d, Hours(2)));

  EXPECT_EQ(SubmitCalls(), 2u) << "one more submission on the new day";
  EXPECT_EQ(JobsIn(*d, "skipped_budget").size(), 2u)
      << "yesterday's skipped alert is not retried; one of today's is skipped";
  EXPECT_EQ(JobsIn(*d, "done").size(), 2u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderBudget, AnalysesInFlightNeverExceedTheCapAndWaitingJobsProceed) {
  emu::EmulatorSetOptions options;
  options.vmray.analysis_ms = 10 * 60'000;  // each analysis takes ten minutes
  options.vmray.finish_after_polls = 1;
  UseEmulatorOptions(options);
  const auto shas = SeedFiles(5, "cap");
  auto d = h().OpenDaemon({{kCapKey, "2"}});
  (void)d->PollAlerts();

  size_t max_running = 0;
  bool saw_waiting = false;
  const bool settled = StepUntil(
      *d,
      [&] {
        max_running = std::max(max_running, RunningInVmray());
        for (const auto& j : AllJobs(*d)) {
          if (j.state == "waiting_for_analysis_slot") {
            saw_waiting = true;
            EXPECT_NE(j.reason.find("vmray.max_concurrent_analyses = 2"), std::string::npos)
                << j.reason;
          }
        }
        auto s = d->Settled();
        return s && *s;
      },
      Hours(6));
  ASSERT_TRUE(settled);

  EXPECT_EQ(max_running, 2u) << "never more than the cap analysing in VMRay";
  EXPECT_TRUE(saw_waiting);
  EXPECT_EQ(SubmitCalls(), 5u) << "waiting jobs were not skipped";
  EXPECT_EQ(JobsIn(*d, "done").size(), 5u);
  EXPECT_EQ(Metrics::Global().Value("vc_analysis_slot_waits_total", {}) > 0, true);
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
