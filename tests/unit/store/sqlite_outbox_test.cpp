// The outbox: idempotent enqueue, write-ahead attempt counting, lease-checked updates, and the
// two operations that change a job and the outbox atomically.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "store_test_util.hpp"

namespace vc::store {
namespace {

using ::testing::HasSubstr;
using testing::StoreTest;

constexpr Millis kLease{30'000};

class StoreOutbox : public StoreTest {
 protected:
  NewOutboxItem Item(const std::string& key, int64_t job_id, TimePoint due,
                     const std::string& payload = R"({"comment":"VMRay verdict: malicious"})") {
    return NewOutboxItem{.idempotency_key = key,
                         .kind = "alert_comment",
                         .target = "da637-alert",
                         .payload = payload,
                         .job_id = job_id,
                         .next_attempt_at = due};
  }

  std::vector<OutboxItem> List(int64_t job_id) {
    auto items = store_->ListOutbox(job_id);
    EXPECT_TRUE(items) << items.error().ToString();
    return items ? *items : std::vector<OutboxItem>{};
  }

  OutboxItem LeaseOne(const std::string& owner) {
    auto leased = store_->LeaseDueOutbox(Now(), owner, kLease, 10);
    if (!leased || leased->size() != 1) {
      ADD_FAILURE() << "expected exactly one due outbox item";
      return OutboxItem{};
    }
    return leased->front();
  }

  static OutboxUpdate Done(const OutboxItem& item, const std::string& owner) {
    return OutboxUpdate{.id = item.id,
                        .lease_owner = owner,
                        .state = "done",
                        .reason = "comment written",
                        .attempts = item.attempts,
                        .next_attempt_at = {}};
  }
};

TEST_F(StoreOutbox, EnqueueIsIdempotentOnTheKey) {
  int64_t job = AddJob("j");
  auto first = store_->EnqueueOutbox(Item("alert-comment:a:sha", job, Now()));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(*first);
  clock_.Advance(Millis{10});
  auto second = store_->EnqueueOutbox(Item("alert-comment:a:sha", job, Now(), R"({"other":1})"));
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE(*second);

  auto items = List(job);
  ASSERT_EQ(items.size(), 1u);
  const OutboxItem& item = items.front();
  EXPECT_EQ(item.idempotency_key, "alert-comment:a:sha");
  EXPECT_EQ(item.kind, "alert_comment");
  EXPECT_EQ(item.target, "da637-alert");
  EXPECT_EQ(item.payload, R"({"comment":"VMRay verdict: malicious"})");
  EXPECT_EQ(item.job_id, job);
  EXPECT_EQ(item.state, "pending");
  EXPECT_EQ(item.attempts, 0);
  EXPECT_EQ(item.created_at, Now() - Millis{10});
  EXPECT_FALSE(item.done_at.has_value());

  auto by_key = store_->GetOutboxByKey("alert-comment:a:sha");
  ASSERT_TRUE(by_key && *by_key);
  EXPECT_EQ((*by_key)->id, item.id);
  EXPECT_EQ((*by_key)->payload, item.payload) << "the first payload stays";
  auto no_key = store_->GetOutboxByKey("alert-comment:a:other");
  ASSERT_TRUE(no_key);
  EXPECT_FALSE(no_key->has_value());

  auto orphan = store_->EnqueueOutbox(Item("no-job", 0, Now()));
  ASSERT_TRUE(orphan && *orphan) << "job id 0 means no job";
  auto all = List(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].idempotency_key, "no-job") << "newest first";
  EXPECT_EQ(all[0].job_id, 0);

  auto dangling = store_->EnqueueOutbox(Item("dangling", job + 100, Now()));
  ASSERT_FALSE(dangling);
  EXPECT_EQ(dangling.error().code, ErrorCode::kConflict);
  EXPECT_THAT(dangling.error().message, HasSubstr("job that does not exist"));
}

TEST_F(StoreOutbox, LeasingCountsTheAttemptBeforeDelivery) {
  int64_t job = AddJob("j");
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("later", job, Now() + Millis{5000})));
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("now", job, Now())));

  OutboxItem leased = LeaseOne("sender-1");
  EXPECT_EQ(leased.idempotency_key, "now");
  EXPECT_EQ(leased.attempts, 1);
  EXPECT_EQ(leased.lease_owner, "sender-1");
  EXPECT_EQ(leased.lease_until, Now() + kLease);
  EXPECT_EQ(List(job)[1].attempts, 1) << "the count is stored, not only returned";

  // The sender dies mid-delivery: nothing more is written until its lease runs out.
  auto during = store_->LeaseDueOutbox(Now() + kLease - Millis{1}, "sender-2", kLease, 10);
  ASSERT_TRUE(during);
  ASSERT_EQ(during->size(), 1u);
  EXPECT_EQ(during->front().idempotency_key, "later") << "the live lease is not handed out";

  auto after = store_->LeaseDueOutbox(Now() + kLease, "sender-2", kLease, 10);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().idempotency_key, "now");
  EXPECT_EQ(after->front().attempts, 2)
      << "the second sender knows the first attempt may have gone out";

  auto none = store_->LeaseDueOutbox(Now(), "x", kLease, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreOutbox, UpdateOutboxReschedulesFinishesAndChecksTheLease) {
  int64_t job = AddJob("j");
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("k", job, Now())));
  OutboxItem item = LeaseOne("s");

  Status foreign = store_->UpdateOutbox(Done(item, "other"));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, ErrorCode::kConflict);
  EXPECT_THAT(foreign.error().message,
              HasSubstr(fmt::format("lease lost: outbox item {} is held by s", item.id)));

  OutboxUpdate retry{.id = item.id,
                     .lease_owner = "s",
                     .state = "pending",
                     .reason = "429 from MDE",
                     .attempts = item.attempts,
                     .next_attempt_at = Now() + Millis{60'000}};
  ASSERT_TRUE(store_->UpdateOutbox(retry));
  OutboxItem waiting = List(job).front();
  EXPECT_EQ(waiting.state, "pending");
  EXPECT_EQ(waiting.reason, "429 from MDE");
  EXPECT_EQ(waiting.lease_owner, "");
  EXPECT_EQ(waiting.next_attempt_at, Now() + Millis{60'000});
  auto early = store_->LeaseDueOutbox(Now(), "s", kLease, 10);
  ASSERT_TRUE(early);
  EXPECT_TRUE(early->empty());

  clock_.Advance(Millis{60'000});
  OutboxItem second = LeaseOne("s");
  EXPECT_EQ(second.attempts, 2);
  ASSERT_TRUE(store_->UpdateOutbox(Done(second, "s")));
  OutboxItem done = List(job).front();
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.done_at, Now());
  EXPECT_EQ(done.attempts, 2);

  clock_.Advance(std::chrono::hours{1});
  auto never = store_->LeaseDueOutbox(Now(), "s", kLease, 10);
  ASSERT_TRUE(never);
  EXPECT_TRUE(never->empty()) << "a done item is never delivered again";
  Status again = store_->UpdateOutbox(Done(second, "s"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_THAT(again.error().message, HasSubstr("already done"));

  OutboxUpdate bogus = Done(second, "s");
  bogus.state = "sent";
  Status invalid = store_->UpdateOutbox(bogus);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreOutbox, UpdateJobAndEnqueueIsOneTransaction) {
  int64_t job = AddJob("j");
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("existing", job, Now(), R"({"v":1})")));
  LeaseOnly(job, "w");

  JobUpdate update{.id = job,
                   .lease_owner = "w",
                   .state = "writing_back",
                   .reason = "verdict malicious",
                   .payload = std::nullopt,
                   .attempts = 0,
                   .final = false,
                   .next_attempt_at = Now() + std::chrono::hours{1}};
  ASSERT_TRUE(store_->UpdateJobAndEnqueue(
      update, {Item("existing", job, Now(), R"({"v":2})"), Item("new", job, Now())}));
  EXPECT_EQ(MustGetJob(job).state, "writing_back");
  auto items = List(job);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].idempotency_key, "existing");
  EXPECT_EQ(items[0].payload, R"({"v":1})") << "an existing key is skipped, not overwritten";
  EXPECT_EQ(items[1].idempotency_key, "new");

  // Without the lease nothing at all is written.
  Status lost = store_->UpdateJobAndEnqueue(update, {Item("lost", job, Now())});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
  EXPECT_EQ(List(job).size(), 2u);

  // A failing item undoes the job update made before it in the same call.
  clock_.Advance(std::chrono::hours{1});
  LeaseOnly(job, "w");
  JobUpdate next = update;
  next.state = "should_not_stick";
  Status failed =
      store_->UpdateJobAndEnqueue(next, {Item("fine", job, Now()), Item("bad", job + 99, Now())});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kConflict);
  Job after = MustGetJob(job);
  EXPECT_EQ(after.state, "writing_back");
  EXPECT_EQ(after.lease_owner, "w") << "the rolled-back update did not release the lease";
  EXPECT_EQ(List(job).size(), 2u) << "the good item was rolled back too";
}

TEST_F(StoreOutbox, CompleteOutboxFinishesTheItemAndItsJobTogether) {
  int64_t job = AddJob("j");
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("k", job, Now())));
  OutboxItem item = LeaseOne("sender");
  JobUpdate finish{.id = job,
                   .lease_owner = "",  // not needed: the outbox owns the job's last step
                   .state = "done",
                   .reason = "comment written",
                   .payload = std::nullopt,
                   .attempts = 0,
                   .final = true,
                   .next_attempt_at = Now()};

  // A lost outbox lease changes neither row.
  Status lost = store_->CompleteOutbox(Done(item, "other"), finish);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(MustGetJob(job).final);

  // The job id must match the item's job.
  int64_t stranger = AddJob("stranger", Now() + std::chrono::hours{1});
  JobUpdate wrong = finish;
  wrong.id = stranger;
  Status mismatch = store_->CompleteOutbox(Done(item, "sender"), wrong);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(List(job).front().state, "pending");

  clock_.Advance(Millis{100});
  ASSERT_TRUE(store_->CompleteOutbox(Done(item, "sender"), finish));
  OutboxItem done = List(job).front();
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.done_at, Now());
  Job finished = MustGetJob(job);
  EXPECT_TRUE(finished.final);
  EXPECT_EQ(finished.state, "done");
  EXPECT_EQ(finished.reason, "comment written");
  EXPECT_EQ(finished.updated_at, Now());

  OutboxUpdate reschedule = Done(item, "sender");
  reschedule.state = "pending";
  Status pending = store_->CompleteOutbox(reschedule, finish);
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreOutbox, CompleteOutboxRollsBackWhenTheJobIsMissing) {
  ASSERT_TRUE(*store_->EnqueueOutbox(Item("orphan", 0, Now())));
  OutboxItem item = LeaseOne("sender");
  JobUpdate ghost;
  ghost.id = 777;
  ghost.state = "done";
  ghost.final = true;
  Status missing = store_->CompleteOutbox(Done(item, "sender"), ghost);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  OutboxItem still = List(0).front();
  EXPECT_EQ(still.state, "pending");
  EXPECT_EQ(still.lease_owner, "sender");

  // With no job (id 0) only the item is finished.
  ASSERT_TRUE(store_->CompleteOutbox(Done(item, "sender"), JobUpdate{}));
  EXPECT_EQ(List(0).front().state, "done");
}

}  // namespace
}  // namespace vc::store
