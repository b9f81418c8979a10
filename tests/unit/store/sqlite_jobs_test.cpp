// Jobs: idempotent insert, leasing (order, limits, expiry, concurrency), lease-checked updates,
// wake-ups, lease release and the queries the scheduler and status page use.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "store/sqlite_store.hpp"
#include "store_test_util.hpp"

namespace vc::store {
namespace {

using ::testing::HasSubstr;
using testing::StoreTest;
using testing::TempDir;

constexpr Millis kLease{30'000};

std::vector<int64_t> Ids(const std::vector<Job>& jobs) {
  std::vector<int64_t> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  return ids;
}

JobUpdate Step(int64_t id, const std::string& owner, const std::string& state, TimePoint next,
               bool final = false) {
  return JobUpdate{.id = id,
                   .lease_owner = owner,
                   .state = state,
                   .reason = "because " + state,
                   .payload = std::nullopt,
                   .attempts = 0,
                   .final = final,
                   .next_attempt_at = next};
}

using StoreJobs = StoreTest;

TEST_F(StoreJobs, InsertJobIsIdempotentOnKey) {
  NewJob job{.kind = "defender_evidence",
             .key = "mde:alert1:abc",
             .state = "new",
             .payload = R"({"first":true})",
             .group_key = "abc",
             .next_attempt_at = Now() + Millis{10}};
  auto first = store_->InsertJob(job);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(*first);

  clock_.Advance(Millis{1000});
  job.payload = R"({"first":false})";
  job.state = "other";
  auto second = store_->InsertJob(job);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE(*second);

  auto stored = store_->GetJobByKey("mde:alert1:abc");
  ASSERT_TRUE(stored && stored->has_value());
  const Job& got = **stored;
  EXPECT_GT(got.id, 0);
  EXPECT_EQ(got.kind, "defender_evidence");
  EXPECT_EQ(got.state, "new");
  EXPECT_EQ(got.payload, R"({"first":true})");
  EXPECT_EQ(got.group_key, "abc");
  EXPECT_EQ(got.attempts, 0);
  EXPECT_FALSE(got.final);
  EXPECT_EQ(got.next_attempt_at, Now() - Millis{1000} + Millis{10});
  EXPECT_EQ(got.created_at, Now() - Millis{1000});
  EXPECT_EQ(got.updated_at, got.created_at);
  EXPECT_EQ(got.lease_owner, "");

  auto by_id = store_->GetJob(got.id);
  ASSERT_TRUE(by_id && by_id->has_value());
  EXPECT_EQ((*by_id)->key, "mde:alert1:abc");
  auto none = store_->GetJob(got.id + 100);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(StoreJobs, InsertJobRejectsMissingFields) {
  NewJob keyless;
  keyless.kind = "k";
  keyless.state = "new";
  auto refused = store_->InsertJob(keyless);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreJobs, LeaseDueJobsHonoursDueTimeLimitAndOrder) {
  const TimePoint t = Now();
  int64_t a = AddJob("a", t - Millis{1000});
  int64_t b = AddJob("b", t - Millis{3000});
  int64_t c = AddJob("c", t + Millis{5000});
  int64_t d = AddJob("d", t - Millis{2000});
  int64_t e = AddJob("e", t - Millis{3000});  // same time as b, later id

  auto first = store_->LeaseDueJobs(t, "w1", kLease, 3);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(Ids(*first), (std::vector<int64_t>{b, e, d}));
  for (const Job& job : *first) {
    EXPECT_EQ(job.lease_owner, "w1");
    EXPECT_EQ(job.lease_until, t + kLease);
  }
  EXPECT_EQ(MustGetJob(b).lease_owner, "w1");

  auto second = store_->LeaseDueJobs(t, "w2", kLease, 10);
  ASSERT_TRUE(second);
  EXPECT_EQ(Ids(*second), (std::vector<int64_t>{a}));
  auto third = store_->LeaseDueJobs(t, "w2", kLease, 10);
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->empty()) << "c is not due and the rest are leased";

  auto later = store_->LeaseDueJobs(t + Millis{5000}, "w3", kLease, 10);
  ASSERT_TRUE(later);
  EXPECT_EQ(Ids(*later), (std::vector<int64_t>{c}));

  auto nothing = store_->LeaseDueJobs(t, "w4", kLease, 0);
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());
  auto no_owner = store_->LeaseDueJobs(t, "", kLease, 10);
  ASSERT_FALSE(no_owner);
  EXPECT_EQ(no_owner.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreJobs, ALiveLeaseIsNotReleasedAnExpiredOneIs) {
  const TimePoint t = Now();
  int64_t id = AddJob("j", t);
  LeaseOnly(id, "A");

  auto during = store_->LeaseDueJobs(t + kLease - Millis{1}, "B", kLease, 10);
  ASSERT_TRUE(during);
  EXPECT_TRUE(during->empty());

  auto after = store_->LeaseDueJobs(t + kLease, "B", kLease, 10);
  ASSERT_TRUE(after);
  ASSERT_EQ(Ids(*after), (std::vector<int64_t>{id}));
  EXPECT_EQ(after->front().lease_owner, "B");
  EXPECT_EQ(after->front().lease_until, t + kLease + kLease);

  Status late = store_->UpdateJob(Step(id, "A", "done", t, true));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kConflict);
  EXPECT_THAT(late.error().message, HasSubstr(fmt::format("lease lost: job {} is held by B", id)));
  EXPECT_EQ(MustGetJob(id).state, "new");
}

TEST_F(StoreJobs, LeaseJobTakesOneWaitingJobWhateverItsDueTimeButNotABusyOrMovedOne) {
  const TimePoint t = Now();
  const int64_t later = AddJob("later", t + Millis{600'000}, "", "collecting");
  const int64_t other_state = AddJob("pending", t + Millis{600'000}, "", "collection_pending");
  auto taken = store_->LeaseJob(later, "collecting", t, "leader", kLease);
  ASSERT_TRUE(taken) << taken.error().ToString();
  ASSERT_TRUE(taken->has_value()) << "not yet due, but waiting in the asked state";
  EXPECT_EQ((*taken)->lease_owner, "leader");
  EXPECT_EQ((*taken)->lease_until, t + kLease);
  auto again = store_->LeaseJob(later, "collecting", t + Millis{1}, "someone", kLease);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value()) << "a live lease is respected";
  auto moved = store_->LeaseJob(other_state, "collecting", t, "leader", kLease);
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->has_value()) << "a job in another state is left alone";
  auto expired = store_->LeaseJob(later, "collecting", t + kLease, "someone", kLease);
  ASSERT_TRUE(expired);
  EXPECT_TRUE(expired->has_value()) << "an expired lease is free";
  ASSERT_TRUE(store_->UpdateJob(Step(later, "someone", "done", t, true)));
  auto final_job = store_->LeaseJob(later, "done", t + kLease, "leader", kLease);
  ASSERT_TRUE(final_job);
  EXPECT_FALSE(final_job->has_value()) << "final jobs are never leased";
  EXPECT_FALSE(store_->LeaseJob(later, "collecting", t, "", kLease)) << "an owner is required";
}

TEST_F(StoreJobs, UpdateJobWritesTheStepAndReleasesTheLease) {
  int64_t id = AddJob("j");
  LeaseOnly(id, "w");
  clock_.Advance(Millis{250});
  JobUpdate update = Step(id, "w", "waiting_for_analysis", Now() + Millis{60'000});
  update.attempts = 3;
  ASSERT_TRUE(store_->UpdateJob(update));

  Job job = MustGetJob(id);
  EXPECT_EQ(job.state, "waiting_for_analysis");
  EXPECT_EQ(job.reason, "because waiting_for_analysis");
  EXPECT_EQ(job.payload, R"({"key":"j"})") << "nullopt keeps the payload";
  EXPECT_EQ(job.attempts, 3);
  EXPECT_FALSE(job.final);
  EXPECT_EQ(job.next_attempt_at, Now() + Millis{60'000});
  EXPECT_EQ(job.updated_at, Now());
  EXPECT_EQ(job.lease_owner, "");

  // Due again later: lease and replace the payload.
  clock_.Advance(Millis{60'000});
  LeaseOnly(id, "w2");
  JobUpdate replace = Step(id, "w2", "collected", Now());
  replace.payload = R"({"new":1})";
  ASSERT_TRUE(store_->UpdateJob(replace));
  EXPECT_EQ(MustGetJob(id).payload, R"({"new":1})");
}

TEST_F(StoreJobs, SaveJobPayloadKeepsTheLeaseAndNeedsIt) {
  int64_t id = AddJob("j");
  LeaseOnly(id, "w");
  ASSERT_TRUE(store_->SaveJobPayload(id, "w", R"({"submit_started_at":1})"));
  Job job = MustGetJob(id);
  EXPECT_EQ(job.payload, R"({"submit_started_at":1})");
  EXPECT_EQ(job.lease_owner, "w") << "a checkpoint must not give the job away";
  EXPECT_EQ(job.state, "new");

  Status foreign = store_->SaveJobPayload(id, "intruder", "{}");
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, ErrorCode::kConflict);
  EXPECT_EQ(MustGetJob(id).payload, R"({"submit_started_at":1})");
}

TEST_F(StoreJobs, UpdateJobWithoutTheLeaseIsAConflict) {
  int64_t id = AddJob("j");
  LeaseOnly(id, "owner-1");

  Status foreign = store_->UpdateJob(Step(id, "intruder", "done", Now(), true));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, ErrorCode::kConflict);
  EXPECT_THAT(foreign.error().message,
              HasSubstr(fmt::format("lease lost: job {} is held by owner-1", id)));
  Job unchanged = MustGetJob(id);
  EXPECT_EQ(unchanged.state, "new");
  EXPECT_EQ(unchanged.lease_owner, "owner-1");

  ASSERT_TRUE(store_->ReleaseLeases(""));
  Status released = store_->UpdateJob(Step(id, "owner-1", "done", Now(), true));
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().code, ErrorCode::kConflict);
  EXPECT_THAT(released.error().message, HasSubstr(fmt::format("lease lost: job {}", id)));

  Status unknown = store_->UpdateJob(Step(id + 50, "owner-1", "done", Now()));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  Status anonymous = store_->UpdateJob(Step(id, "", "done", Now()));
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreJobs, FinalJobsAreNeverLeasedWokenOrUpdatedAgain) {
  int64_t id = AddJob("j", std::nullopt, "sha");
  LeaseOnly(id, "w");
  ASSERT_TRUE(store_->UpdateJob(Step(id, "w", "done", Now(), /*final=*/true)));
  EXPECT_TRUE(MustGetJob(id).final);

  clock_.Advance(std::chrono::hours{24});
  auto leased = store_->LeaseDueJobs(Now(), "w", kLease, 10);
  ASSERT_TRUE(leased);
  EXPECT_TRUE(leased->empty());
  auto woken = store_->WakeJobs("sha", "done", Now());
  ASSERT_TRUE(woken);
  EXPECT_EQ(*woken, 0);
  auto oldest = store_->OldestDueJob(Now());
  ASSERT_TRUE(oldest);
  EXPECT_FALSE(oldest->has_value());

  Status again = store_->UpdateJob(Step(id, "w", "new", Now()));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_THAT(again.error().message, HasSubstr("already final"));
}

TEST(StoreJobsConcurrency, EightWorkersProcessTwoThousandJobsExactlyOnce) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ManualClock clock;
  auto opened = OpenSqliteStore(
      SqliteOptions{.path = dir.File("state.db"), .synchronous_full = false}, clock);
  ASSERT_TRUE(opened) << opened.error().ToString();
  Store& store = **opened;
  constexpr int kJobs = 2000;
  constexpr int kWorkers = 8;
  for (int i = 0; i < kJobs; ++i) {
    auto inserted = store.InsertJob(NewJob{.kind = "defender_evidence",
                                           .key = fmt::format("job-{}", i),
                                           .state = "new",
                                           .payload = "{}",
                                           .group_key = "",
                                           .next_attempt_at = clock.Now()});
    ASSERT_TRUE(inserted && *inserted);
  }

  std::vector<std::vector<int64_t>> processed(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      const std::string owner = fmt::format("worker-{}", w);
      while (true) {
        auto leased = store.LeaseDueJobs(clock.Now(), owner, Millis{600'000}, 7);
        if (!leased) {
          ADD_FAILURE() << leased.error().ToString();
          return;
        }
        if (leased->empty()) return;
        for (const Job& job : *leased) {
          EXPECT_EQ(job.lease_owner, owner);
          JobUpdate done{.id = job.id,
                         .lease_owner = owner,
                         .state = "done",
                         .reason = "",
                         .payload = owner,
                         .attempts = job.attempts + 1,
                         .final = true,
                         .next_attempt_at = clock.Now()};
          Status updated = store.UpdateJob(done);
          if (!updated) ADD_FAILURE() << updated.error().ToString();
          processed[w].push_back(job.id);
        }
        // Readers run alongside the writers.
        if (!store.CountJobs()) ADD_FAILURE() << "CountJobs failed under load";
      }
    });
  }
  for (std::thread& worker : workers) worker.join();

  std::set<int64_t> unique;
  size_t total = 0;
  for (int w = 0; w < kWorkers; ++w) {
    total += processed[w].size();
    unique.insert(processed[w].begin(), processed[w].end());
    for (int64_t id : processed[w]) {
      auto job = store.GetJob(id);
      ASSERT_TRUE(job && job->has_value());
      EXPECT_EQ((*job)->payload, fmt::format("worker-{}", w)) << "job " << id;
      EXPECT_EQ((*job)->attempts, 1) << "job " << id;
      EXPECT_TRUE((*job)->final);
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kJobs)) << "a job was processed twice";
  EXPECT_EQ(unique.size(), static_cast<size_t>(kJobs)) << "a job was never processed";
  auto counts = store.CountJobs();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ(counts->front().state, "done");
  EXPECT_EQ(counts->front().count, kJobs);
}

TEST_F(StoreJobs, ListJobsUnderKeyFindsOneAlertsJobsAndNoNeighbours) {
  const int64_t bare = AddJob("mde:da1_1");
  const int64_t file = AddJob("mde:da1_1:" + std::string(64, 'a'));
  const int64_t url = AddJob("mde:da1_1:url-" + std::string(64, 'b'));
  AddJob("mde:da1_10:" + std::string(64, 'a'));  // an id that shares the prefix
  AddJob("mde:da1_");
  auto jobs = store_->ListJobsUnderKey("mde:da1_1", 100);
  ASSERT_TRUE(jobs) << jobs.error().ToString();
  std::vector<int64_t> ids;
  for (const auto& j : *jobs) ids.push_back(j.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{bare, file, url}));
  auto limited = store_->ListJobsUnderKey("mde:da1_1", 2);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 2u);
  EXPECT_FALSE(store_->ListJobsUnderKey("", 10));
}

TEST_F(StoreJobs, ReopenJobsRevivesOnlyFinalJobsOfThatKindAndState) {
  const TimePoint start = Now();
  auto park = [&](const std::string& key, const std::string& state, const std::string& kind) {
    const int64_t id = AddJob(key, start, "", "new", kind);
    auto taken = store_->LeaseDueJobs(start, "w", kLease, 10);
    EXPECT_TRUE(taken && taken->size() == 1u) << key;
    EXPECT_TRUE(store_->UpdateJob(Step(id, "w", state, start + std::chrono::hours{1}, true)));
    return id;
  };
  const int64_t parked = park("parked", "waiting_for_quarantine_collection", "defender_evidence");
  const int64_t done = park("done", "done", "defender_evidence");
  const int64_t other_kind = park("other", "waiting_for_quarantine_collection", "other_kind");
  const int64_t open = AddJob("open", start + std::chrono::hours{5}, "", "collecting");

  clock_.Advance(Millis{1000});
  auto reopened = store_->ReopenJobs("defender_evidence", "waiting_for_quarantine_collection",
                                     "new", "storage configured", Now());
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(*reopened, 1);
  const Job revived = MustGetJob(parked);
  EXPECT_FALSE(revived.final);
  EXPECT_EQ(revived.state, "new");
  EXPECT_EQ(revived.reason, "storage configured");
  EXPECT_EQ(revived.next_attempt_at, Now());
  EXPECT_EQ(revived.attempts, 0);
  EXPECT_TRUE(MustGetJob(done).final);
  EXPECT_TRUE(MustGetJob(other_kind).final);
  EXPECT_EQ(MustGetJob(open).state, "collecting");
  // Reopening again finds nothing: the job is no longer final in that state.
  auto again = store_->ReopenJobs("defender_evidence", "waiting_for_quarantine_collection", "new",
                                  "storage configured", Now());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
}

TEST_F(StoreJobs, ReopenJobReplaysOneSettledJobAndRefusesAWorkingOne) {
  const TimePoint start = Now();
  const int64_t done = AddJob("done", start, "", "new");
  auto taken = store_->LeaseDueJobs(start, "w", kLease, 10);
  ASSERT_TRUE(taken && taken->size() == 1u);
  ASSERT_TRUE(store_->UpdateJob(Step(done, "w", "done", start + std::chrono::hours{1}, true)));
  const int64_t open = AddJob("open", start + std::chrono::hours{5}, "", "collecting");

  clock_.Advance(Millis{1000});
  ASSERT_TRUE(store_->ReopenJob(done, "replaying", "replay 1", R"({"replays":1})", Now()));
  const Job replayed = MustGetJob(done);
  EXPECT_FALSE(replayed.final);
  EXPECT_EQ(replayed.state, "replaying");
  EXPECT_EQ(replayed.reason, "replay 1");
  EXPECT_EQ(replayed.payload, R"({"replays":1})");
  EXPECT_EQ(replayed.next_attempt_at, Now());
  EXPECT_EQ(replayed.attempts, 0);
  auto due = store_->LeaseDueJobs(Now(), "w", kLease, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].id, done);

  // A job at work (leased or not) is not reopened under its worker's feet.
  auto busy = store_->ReopenJob(done, "replaying", "again", "{}", Now());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_NE(busy.error().message.find("still working (replaying)"), std::string::npos);
  auto working = store_->ReopenJob(open, "replaying", "again", "{}", Now());
  ASSERT_FALSE(working);
  EXPECT_EQ(working.error().code, ErrorCode::kConflict);
  EXPECT_EQ(MustGetJob(open).state, "collecting");
  auto missing = store_->ReopenJob(99999, "replaying", "again", "{}", Now());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreJobs, WakeJobsTouchesOnlyTheGivenGroupAndState) {
  const TimePoint start = Now();
  int64_t leased = AddJob("leased", start, "sha-a", "waiting");
  int64_t finished = AddJob("finished", start, "sha-a", "waiting");
  auto taken = store_->LeaseDueJobs(start, "x", kLease, 10);
  ASSERT_TRUE(taken);
  ASSERT_EQ(taken->size(), 2u);
  ASSERT_TRUE(store_->UpdateJob(Step(finished, "x", "waiting", start, /*final=*/true)));

  const TimePoint far = start + std::chrono::hours{6};
  int64_t w1 = AddJob("w1", far, "sha-a", "waiting");
  int64_t w2 = AddJob("w2", far, "sha-a", "waiting");
  int64_t early = AddJob("early", start - Millis{5000}, "sha-a", "waiting");
  int64_t other_state = AddJob("state", far, "sha-a", "collecting");
  int64_t other_group = AddJob("group", far, "sha-b", "waiting");

  clock_.Advance(Millis{1000});
  auto woken = store_->WakeJobs("sha-a", "waiting", Now());
  ASSERT_TRUE(woken) << woken.error().ToString();
  EXPECT_EQ(*woken, 3);
  EXPECT_EQ(MustGetJob(w1).next_attempt_at, Now());
  EXPECT_EQ(MustGetJob(w1).updated_at, Now());
  EXPECT_EQ(MustGetJob(w2).next_attempt_at, Now());
  EXPECT_EQ(MustGetJob(early).next_attempt_at, start - Millis{5000})
      << "an already due job keeps its place";
  EXPECT_EQ(MustGetJob(other_state).next_attempt_at, far);
  EXPECT_EQ(MustGetJob(other_group).next_attempt_at, far);
  EXPECT_EQ(MustGetJob(leased).updated_at, start) << "a leased job is left to its worker";
  EXPECT_EQ(MustGetJob(finished).next_attempt_at, start);

  // Once the lease has expired the job counts as free again.
  clock_.Advance(kLease);
  auto after_expiry = store_->WakeJobs("sha-a", "waiting", Now());
  ASSERT_TRUE(after_expiry);
  EXPECT_EQ(*after_expiry, 4);

  auto no_group = store_->WakeJobs("", "waiting", Now());
  ASSERT_FALSE(no_group);
  EXPECT_EQ(no_group.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreJobs, ReleaseLeasesDropsOneOwnersOrAllLeases) {
  int64_t a1 = AddJob("a1");
  int64_t a2 = AddJob("a2");
  auto by_a = store_->LeaseDueJobs(Now(), "A", kLease, 2);
  ASSERT_TRUE(by_a);
  ASSERT_EQ(by_a->size(), 2u);
  int64_t b1 = AddJob("b1");
  LeaseOnly(b1, "B");
  ASSERT_TRUE(*store_->EnqueueOutbox(NewOutboxItem{.idempotency_key = "o1",
                                                   .kind = "alert_comment",
                                                   .target = "alert",
                                                   .payload = "{}",
                                                   .job_id = a1,
                                                   .next_attempt_at = Now()}));
  auto outbox = store_->LeaseDueOutbox(Now(), "A", kLease, 10);
  ASSERT_TRUE(outbox);
  ASSERT_EQ(outbox->size(), 1u);

  ASSERT_TRUE(store_->ReleaseLeases("A"));
  EXPECT_EQ(MustGetJob(a1).lease_owner, "");
  EXPECT_EQ(MustGetJob(a2).lease_owner, "");
  EXPECT_EQ(MustGetJob(b1).lease_owner, "B");
  auto items = store_->ListOutbox(a1);
  ASSERT_TRUE(items);
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->front().lease_owner, "");
  EXPECT_EQ(items->front().attempts, 1) << "releasing does not undo the counted attempt";

  // Freed jobs are leasable at once, without waiting for the lease to run out.
  auto again = store_->LeaseDueJobs(Now(), "C", kLease, 10);
  ASSERT_TRUE(again);
  EXPECT_EQ(Ids(*again), (std::vector<int64_t>{a1, a2}));

  ASSERT_TRUE(store_->ReleaseLeases(""));
  EXPECT_EQ(MustGetJob(a1).lease_owner, "");
  EXPECT_EQ(MustGetJob(b1).lease_owner, "");
}

TEST_F(StoreJobs, OldestDueJobSkipsFutureFinalAndBusyJobs) {
  const TimePoint t = Now();
  auto empty = store_->OldestDueJob(t);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());

  int64_t busy = AddJob("busy", t - Millis{30'000});
  LeaseOnly(busy, "w");
  int64_t done = AddJob("done", t - Millis{20'000});
  LeaseOnly(done, "w");
  ASSERT_TRUE(store_->UpdateJob(Step(done, "w", "done", t - Millis{20'000}, true)));
  AddJob("future", t + Millis{10'000});
  AddJob("due5", t - Millis{5000});
  AddJob("due10", t - Millis{10'000});

  auto oldest = store_->OldestDueJob(t);
  ASSERT_TRUE(oldest);
  ASSERT_TRUE(oldest->has_value());
  EXPECT_EQ(**oldest, t - Millis{10'000});

  auto before_all = store_->OldestDueJob(t - Millis{60'000});
  ASSERT_TRUE(before_all);
  EXPECT_FALSE(before_all->has_value());
}

TEST_F(StoreJobs, CountJobsGroupsByKindAndState) {
  AddJob("1", std::nullopt, "", "new", "defender_evidence");
  AddJob("2", std::nullopt, "", "new", "defender_evidence");
  AddJob("3", std::nullopt, "", "waiting", "defender_evidence");
  AddJob("4", std::nullopt, "", "new", "ti_feed");
  auto counts = store_->CountJobs();
  ASSERT_TRUE(counts) << counts.error().ToString();
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].kind, "defender_evidence");
  EXPECT_EQ((*counts)[0].state, "new");
  EXPECT_EQ((*counts)[0].count, 2);
  EXPECT_EQ((*counts)[1].state, "waiting");
  EXPECT_EQ((*counts)[1].count, 1);
  EXPECT_EQ((*counts)[2].kind, "ti_feed");
  EXPECT_EQ((*counts)[2].count, 1);
}

TEST_F(StoreJobs, ListJobsFiltersNewestFirstWithALimit) {
  int64_t a = AddJob("a", std::nullopt, "g1", "new", "k1");
  int64_t b = AddJob("b", std::nullopt, "g1", "waiting", "k1");
  int64_t c = AddJob("c", std::nullopt, "g2", "new", "k2");
  int64_t d = AddJob("d", std::nullopt, "g1", "new", "k1");
  auto all = store_->LeaseDueJobs(Now(), "w", kLease, 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  ASSERT_TRUE(store_->UpdateJob(Step(d, "w", "done", Now(), /*final=*/true)));
  ASSERT_TRUE(store_->ReleaseLeases("w"));

  auto list = [&](auto configure) {
    JobFilter filter;
    configure(filter);
    auto jobs = store_->ListJobs(filter);
    EXPECT_TRUE(jobs) << jobs.error().ToString();
    return jobs ? Ids(*jobs) : std::vector<int64_t>{};
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(list([](JobFilter&) {}), (V{d, c, b, a}));
  EXPECT_EQ(list([](JobFilter& f) { f.kind = "k1"; }), (V{d, b, a}));
  EXPECT_EQ(list([](JobFilter& f) { f.state = "new"; }), (V{c, a}));
  EXPECT_EQ(list([](JobFilter& f) { f.final = true; }), (V{d}));
  EXPECT_EQ(list([](JobFilter& f) { f.final = false; }), (V{c, b, a}));
  EXPECT_EQ(list([](JobFilter& f) { f.group_key = "g1"; }), (V{d, b, a}));
  EXPECT_EQ(list([](JobFilter& f) {
              f.state = "waiting";
              f.group_key = "g1";
            }),
            (V{b}));
  EXPECT_EQ(list([](JobFilter& f) { f.limit = 2; }), (V{d, c}));

  JobFilter zero;
  zero.limit = 0;
  auto bad = store_->ListJobs(zero);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace vc::store

namespace vc::store::testing {
namespace {

// With synchronous=FULL every commit is an fsync; concurrent writers must share them.
TEST(StoreGroupCommit, ConcurrentWritersShareTransactionsAndFailAlone) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ManualClock clock;
  auto opened =
      OpenSqliteStore(SqliteOptions{.path = dir.File("gc.db"), .synchronous_full = true}, clock);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto* store = dynamic_cast<SqliteStore*>(opened->get());
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store->InsertJob(NewJob{.kind = "k",
                                         .key = fmt::format("gc-{}-{}", t, i),
                                         .state = "new",
                                         .payload = "{}",
                                         .group_key = "",
                                         .next_attempt_at = clock.Now()});
        if (!r || !*r) ++failures;
        // A write that fails inside a shared batch must not take the others with it.
        if (i % 10 == 0) {
          Status bad = store->UpdateJob(JobUpdate{.id = 999999,
                                                  .lease_owner = "nobody",
                                                  .state = "x",
                                                  .reason = "",
                                                  .payload = std::nullopt,
                                                  .next_attempt_at = clock.Now()});
          if (bad) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto counts = store->CountJobs();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].count, kThreads * kPerThread);
  EXPECT_LT(store->batches_committed(), store->writes_run()) << "no write shared a commit";
}

}  // namespace
}  // namespace vc::store::testing

namespace vc::store::testing {
namespace {

TEST(StoreNextDue, IsTheEarliestUnleasedJobOrWriteBackAndSkipsLiveLeases) {
  ManualClock clock;
  auto store = OpenSqliteStore({":memory:"}, clock).value();
  EXPECT_FALSE(store->NextDueTime().value()) << "nothing open";
  const TimePoint t0 = clock.Now();
  auto inserted = store->InsertJobs({{"k", "a", "new", "{}", "", t0 + Millis(5'000)},
                                     {"k", "b", "new", "{}", "", t0 + Millis(9'000)},
                                     {"k", "a", "new", "{}", "", t0}});
  ASSERT_TRUE(inserted);
  EXPECT_EQ(*inserted, (std::vector<bool>{true, true, false})) << "keys stay unique in a batch";
  EXPECT_EQ(store->NextDueTime().value(), t0 + Millis(5'000));
  clock.Advance(Millis(5'000));
  auto leased = store->LeaseDueJobs(clock.Now(), "w", Millis(60'000), 10);
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ(store->NextDueTime().value(), t0 + Millis(9'000)) << "a leased job is not due";
}

}  // namespace
}  // namespace vc::store::testing
