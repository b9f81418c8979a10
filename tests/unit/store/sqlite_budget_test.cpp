// The VMRay submission budget and analysis slots in the store: atomic under concurrent
// workers, durable across a restart, counted per UTC day, and never leaked by a job that ended
// without submitting.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store_test_util.hpp"

namespace vc::store {
namespace {

using testing::StoreTest;
using testing::TempDir;

std::string Day(TimePoint t) {
  return fmt::format("{:%Y-%m-%d}", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

class StoreBudget : public StoreTest {
 protected:
  BudgetGrant Take(int64_t job_id, int64_t limit) {
    auto grant = store_->TakeBudgetUnit(job_id, Day(Now()), limit, Now());
    if (!grant) {
      ADD_FAILURE() << grant.error().ToString();
      return {};
    }
    return *grant;
  }
  SlotGrant Slot(int64_t job_id, int64_t cap) {
    auto grant = store_->TakeAnalysisSlot(job_id, cap);
    if (!grant) {
      ADD_FAILURE() << grant.error().ToString();
      return {};
    }
    return *grant;
  }
  int64_t Used() {
    auto used = store_->BudgetUsed(Day(Now()));
    EXPECT_TRUE(used) << used.error().ToString();
    return used ? *used : -1;
  }
  // Moves the job to `state` as a worker step would.
  void MoveTo(int64_t id, const std::string& state, bool final = false) {
    const Job job = MustGetJob(id);
    auto leased = store_->LeaseJob(id, job.state, Now(), "w", Millis(30'000));
    ASSERT_TRUE(leased && *leased) << "job " << id;
    JobUpdate u;
    u.id = id;
    u.lease_owner = "w";
    u.state = state;
    u.reason = "test";
    u.final = final;
    u.next_attempt_at = Now();
    ASSERT_TRUE(store_->UpdateJob(u));
  }
};

TEST_F(StoreBudget, GrantsUpToTheLimitThenRefuses) {
  const int64_t a = AddJob("a"), b = AddJob("b"), c = AddJob("c");
  EXPECT_TRUE(Take(a, 2).granted);
  const BudgetGrant second = Take(b, 2);
  EXPECT_TRUE(second.granted);
  EXPECT_EQ(second.used, 2);
  const BudgetGrant third = Take(c, 2);
  EXPECT_FALSE(third.granted);
  EXPECT_EQ(third.used, 2);
  EXPECT_EQ(Used(), 2);
}

TEST_F(StoreBudget, ZeroIsUnlimitedButStillCounted) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Take(AddJob(fmt::format("j{}", i)), 0).granted);
  EXPECT_EQ(Used(), 5);
}

TEST_F(StoreBudget, AJobReusesItsOwnUnit) {
  const int64_t a = AddJob("a"), b = AddJob("b");
  ASSERT_TRUE(Take(a, 1).granted);
  // The same job again (a retry, or a resume after a crash): its unit, not a second one.
  EXPECT_TRUE(Take(a, 1).granted);
  EXPECT_EQ(Used(), 1);
  EXPECT_FALSE(Take(b, 1).granted);
}

TEST_F(StoreBudget, ConcurrentTakesNeverOverspend) {
  constexpr int kWorkers = 16;
  constexpr int64_t kLimit = 5;
  std::vector<int64_t> jobs;
  for (int i = 0; i < kWorkers; ++i) jobs.push_back(AddJob(fmt::format("j{}", i)));
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      auto g = store_->TakeBudgetUnit(jobs[i], Day(Now()), kLimit, Now());
      ASSERT_TRUE(g) << g.error().ToString();
      if (g->granted) ++granted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), kLimit);
  EXPECT_EQ(Used(), kLimit);
}

TEST_F(StoreBudget, AJobThatEndedWithoutSubmittingFreesItsUnit) {
  const int64_t a = AddJob("a"), b = AddJob("b");
  ASSERT_TRUE(Take(a, 1).granted);
  EXPECT_FALSE(Take(b, 1).granted);
  // a's collection failed: it writes its failure comment, then ends.
  MoveTo(a, "writing_back");
  EXPECT_EQ(Used(), 0);
  EXPECT_TRUE(Take(b, 1).granted);
}

TEST_F(StoreBudget, ASubmittedUnitStaysSpentAfterTheJobEnds) {
  const int64_t a = AddJob("a"), b = AddJob("b");
  ASSERT_TRUE(Take(a, 1).granted);
  MoveTo(a, "downloading");
  ASSERT_TRUE(Slot(a, 0).granted);  // written ahead of the submission
  MoveTo(a, "done", /*final=*/true);
  EXPECT_EQ(Used(), 1);
  EXPECT_FALSE(Take(b, 1).granted);
}

TEST_F(StoreBudget, ReleasedUnitIsGivenBack) {
  const int64_t a = AddJob("a"), b = AddJob("b");
  ASSERT_TRUE(Take(a, 1).granted);
  ASSERT_TRUE(Slot(a, 0).granted);
  ASSERT_TRUE(store_->ReleaseBudgetUnit(a));  // VMRay created no analysis
  EXPECT_EQ(Used(), 0);
  EXPECT_TRUE(Take(b, 1).granted);
}

TEST_F(StoreBudget, ANewUtcDayStartsAFreshBudget) {
  clock_.Set(TimePoint{std::chrono::seconds{1'700'000'000}});  // 2023-11-14 22:13:20 UTC
  const int64_t a = AddJob("a"), b = AddJob("b"), c = AddJob("c");
  ASSERT_TRUE(Take(a, 1).granted);
  ASSERT_TRUE(Slot(a, 0).granted);
  clock_.Advance(Millis(100 * 60'000));  // 23:53: same day
  EXPECT_FALSE(Take(b, 1).granted);
  clock_.Advance(Millis(10 * 60'000));  // 00:03 the next day
  EXPECT_EQ(Used(), 0);
  EXPECT_TRUE(Take(b, 1).granted);
  EXPECT_FALSE(Take(c, 1).granted);
  // The first job's unit stays with it (and with its day): resuming costs no second unit.
  EXPECT_TRUE(Take(a, 1).granted);
  EXPECT_EQ(Used(), 1);
}

TEST_F(StoreBudget, SlotsAreCappedAndFreedWhenTheAnalysisEnds) {
  const int64_t a = AddJob("a"), b = AddJob("b"), c = AddJob("c");
  for (int64_t j : {a, b, c}) {
    ASSERT_TRUE(Take(j, 0).granted);
    MoveTo(j, "downloading");
  }
  EXPECT_TRUE(Slot(a, 2).granted);
  EXPECT_TRUE(Slot(b, 2).granted);
  const SlotGrant refused = Slot(c, 2);
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.running, 2);
  EXPECT_TRUE(Slot(a, 2).granted) << "a job keeps its slot";
  MoveTo(a, "analysing");
  EXPECT_FALSE(Slot(c, 2).granted) << "analysing holds the slot";
  MoveTo(a, "writing_back");  // the verdict is in
  EXPECT_TRUE(Slot(c, 2).granted);
}

TEST_F(StoreBudget, ConcurrentSlotTakesNeverExceedTheCap) {
  constexpr int kWorkers = 12;
  constexpr int64_t kCap = 3;
  std::vector<int64_t> jobs;
  for (int i = 0; i < kWorkers; ++i) {
    jobs.push_back(AddJob(fmt::format("j{}", i)));
    ASSERT_TRUE(Take(jobs.back(), 0).granted);
    MoveTo(jobs.back(), "downloading");
  }
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      auto g = store_->TakeAnalysisSlot(jobs[i], kCap);
      ASSERT_TRUE(g) << g.error().ToString();
      if (g->granted) ++granted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), kCap);
}

TEST_F(StoreBudget, ASlotNeedsABudgetUnit) {
  const int64_t a = AddJob("a");
  auto slot = store_->TakeAnalysisSlot(a, 1);
  ASSERT_FALSE(slot);
  EXPECT_EQ(slot.error().code, ErrorCode::kNotFound);
}

TEST(StoreBudgetFile, UnitsAndSlotsSurviveARestart) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ManualClock clock;
  const std::string path = dir.File("store.db");
  int64_t a = 0, b = 0;
  {
    auto store = OpenSqliteStore(SqliteOptions{.path = path}, clock);
    ASSERT_TRUE(store) << store.error().ToString();
    for (const char* key : {"a", "b"}) {
      ASSERT_TRUE((*store)->InsertJob({.kind = "defender_evidence",
                                       .key = key,
                                       .state = "downloading",
                                       .payload = "{}",
                                       .group_key = "",
                                       .next_attempt_at = clock.Now()}));
    }
    a = (*(*store)->GetJobByKey("a"))->id;
    b = (*(*store)->GetJobByKey("b"))->id;
    ASSERT_TRUE((*store)->TakeBudgetUnit(a, Day(clock.Now()), 1, clock.Now())->granted);
    ASSERT_TRUE((*store)->TakeAnalysisSlot(a, 1)->granted);
  }  // the process ends (a crash after taking the unit and slot, before the submission)
  auto store = OpenSqliteStore(SqliteOptions{.path = path}, clock);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(*(*store)->BudgetUsed(Day(clock.Now())), 1);
  EXPECT_FALSE((*store)->TakeBudgetUnit(b, Day(clock.Now()), 1, clock.Now())->granted);
  // The resumed job gets its own unit and slot back.
  EXPECT_TRUE((*store)->TakeBudgetUnit(a, Day(clock.Now()), 1, clock.Now())->granted);
  EXPECT_TRUE((*store)->TakeAnalysisSlot(a, 1)->granted);
}

}  // namespace
}  // namespace vc::store
