// The read-only views the ops listener uses: write-backs counted by kind and state, and the jobs
// that need attention (failed, or retrying their current step), newest update first.
#include "store_test_util.hpp"

namespace vc::store::testing {
namespace {

using StoreOpsViews = StoreTest;

void Finish(Store& store, int64_t id, TimePoint now, const std::string& state, int attempts,
            bool final) {
  auto leased = store.LeaseDueJobs(now, "w", Millis{30'000}, 1);
  ASSERT_TRUE(leased) << leased.error().ToString();
  ASSERT_EQ(leased->size(), 1u);
  ASSERT_EQ(leased->front().id, id);
  ASSERT_TRUE(store.UpdateJob(JobUpdate{.id = id,
                                        .lease_owner = "w",
                                        .state = state,
                                        .reason = "because " + state,
                                        .payload = std::nullopt,
                                        .attempts = attempts,
                                        .final = final,
                                        .next_attempt_at = now + Millis{60'000}}));
}

TEST_F(StoreOpsViews, CountOutboxGroupsByKindAndState) {
  EXPECT_TRUE(store_->CountOutbox()->empty());
  const int64_t job = AddJob("j");
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_TRUE(*store_->EnqueueOutbox(NewOutboxItem{.idempotency_key = key,
                                                     .kind = "alert_comment",
                                                     .target = "alert",
                                                     .payload = "{}",
                                                     .job_id = job,
                                                     .next_attempt_at = Now()}));
  }
  auto leased = store_->LeaseDueOutbox(Now(), "w", Millis{30'000}, 1);
  ASSERT_TRUE(leased && leased->size() == 1u);
  ASSERT_TRUE(store_->UpdateOutbox(OutboxUpdate{.id = leased->front().id,
                                                .lease_owner = "w",
                                                .state = "done",
                                                .reason = "",
                                                .attempts = 1,
                                                .next_attempt_at = Now()}));
  auto counts = store_->CountOutbox();
  ASSERT_TRUE(counts) << counts.error().ToString();
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].kind, "alert_comment");
  EXPECT_EQ((*counts)[0].state, "done");
  EXPECT_EQ((*counts)[0].count, 1);
  EXPECT_EQ((*counts)[1].state, "pending");
  EXPECT_EQ((*counts)[1].count, 2);
}

TEST_F(StoreOpsViews, TroubledJobsAreFailedOrRetryingNewestUpdateFirst) {
  const int64_t fine = AddJob("fine");
  const int64_t done = AddJob("done", Now() + Millis{1});
  const int64_t failed = AddJob("failed", Now() + Millis{2});
  const int64_t retrying = AddJob("retrying", Now() + Millis{3});
  clock_.Advance(Millis{10});
  // Lease in due order: fine, done, failed, retrying.
  Finish(*store_, fine, Now(), "analysing", 0, false);
  clock_.Advance(Millis{10});
  Finish(*store_, done, Now(), "done", 2, true);
  clock_.Advance(Millis{10});
  Finish(*store_, failed, Now(), "failed", 1, true);
  clock_.Advance(Millis{10});
  Finish(*store_, retrying, Now(), "collecting", 3, false);

  auto troubled = store_->ListTroubledJobs(10);
  ASSERT_TRUE(troubled) << troubled.error().ToString();
  ASSERT_EQ(troubled->size(), 2u)
      << "a finished job with attempts and a healthy job are not listed";
  EXPECT_EQ((*troubled)[0].id, retrying);
  EXPECT_EQ((*troubled)[0].attempts, 3);
  EXPECT_EQ((*troubled)[1].id, failed);

  auto one = store_->ListTroubledJobs(1);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().id, retrying);
  EXPECT_FALSE(store_->ListTroubledJobs(0)) << "a limit must be positive";
}

}  // namespace
}  // namespace vc::store::testing
