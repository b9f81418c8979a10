// Samples (single flight per sha256) and cursors.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "store_test_util.hpp"

namespace vc::store {
namespace {

using testing::StoreTest;

constexpr char kSha[] = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

class StoreSamples : public StoreTest {
 protected:
  Sample MustClaim(int64_t job_id, TimePoint reuse_after) {
    auto claimed = store_->ClaimSample(kSha, job_id, Now(), reuse_after);
    if (!claimed) {
      ADD_FAILURE() << claimed.error().ToString();
      return Sample{};
    }
    return *claimed;
  }

  Sample Finished(int64_t owner, TimePoint analysed_at) {
    return Sample{.sha256 = kSha,
                  .state = "finished",
                  .owner_job_id = owner,
                  .sample_id = 4242,
                  .submission_id = 99,
                  .verdict = "malicious",
                  .result_json = R"({"vtis":[]})",
                  .reason = "",
                  .analysed_at = analysed_at,
                  .submitted_at = analysed_at - Millis{60'000},
                  .updated_at = {}};
  }
};

TEST_F(StoreSamples, FirstClaimerOwnsTheSecondSeesTheOwner) {
  int64_t j1 = AddJob("j1");
  int64_t j2 = AddJob("j2");
  const TimePoint reuse_after = Now() - std::chrono::hours{24};

  Sample first = MustClaim(j1, reuse_after);
  EXPECT_EQ(first.sha256, kSha);
  EXPECT_EQ(first.state, "collecting");
  EXPECT_EQ(first.owner_job_id, j1);
  EXPECT_EQ(first.sample_id, 0);
  EXPECT_FALSE(first.analysed_at.has_value());
  EXPECT_EQ(first.updated_at, Now());

  clock_.Advance(Millis{500});
  Sample second = MustClaim(j2, reuse_after);
  EXPECT_EQ(second.owner_job_id, j1) << "single flight: j2 joins j1's collection";
  EXPECT_EQ(second.state, "collecting");
  EXPECT_EQ(second.updated_at, Now() - Millis{500}) << "joining changes nothing";

  Sample again = MustClaim(j1, reuse_after);
  EXPECT_EQ(again.owner_job_id, j1) << "the owner claiming again (a retry) still owns";

  // Progress recorded by the owner is what joiners see.
  Sample submitted = again;
  submitted.state = "submitted";
  submitted.sample_id = 4242;
  submitted.submission_id = 7;
  submitted.submitted_at = Now();
  ASSERT_TRUE(store_->PutSample(submitted));
  Sample joined = MustClaim(j2, reuse_after);
  EXPECT_EQ(joined.owner_job_id, j1);
  EXPECT_EQ(joined.state, "submitted");
  EXPECT_EQ(joined.submission_id, 7);
}

TEST_F(StoreSamples, AFailedRowIsTakenOver) {
  int64_t j1 = AddJob("j1");
  int64_t j2 = AddJob("j2");
  ASSERT_TRUE(store_->PutSample(Sample{.sha256 = kSha,
                                       .state = "failed",
                                       .owner_job_id = j1,
                                       .sample_id = 4242,
                                       .submission_id = 5,
                                       .verdict = "",
                                       .result_json = "",
                                       .reason = "device offline for 3 days",
                                       .analysed_at = std::nullopt,
                                       .submitted_at = Now(),
                                       .updated_at = {}}));
  clock_.Advance(Millis{1000});
  Sample taken = MustClaim(j2, Now() - std::chrono::hours{24});
  EXPECT_EQ(taken.owner_job_id, j2);
  EXPECT_EQ(taken.state, "collecting");
  EXPECT_EQ(taken.reason, "");
  EXPECT_EQ(taken.submission_id, 0);
  EXPECT_FALSE(taken.submitted_at.has_value());
  EXPECT_EQ(taken.sample_id, 4242) << "VMRay's id for the file stays valid";
  EXPECT_EQ(taken.updated_at, Now());
}

TEST_F(StoreSamples, AFreshFinishedRowIsReused) {
  int64_t j1 = AddJob("j1");
  int64_t j2 = AddJob("j2");
  ASSERT_TRUE(store_->PutSample(Finished(j1, Now() - std::chrono::hours{1})));
  Sample reused = MustClaim(j2, Now() - std::chrono::hours{24});
  EXPECT_EQ(reused.owner_job_id, j1);
  EXPECT_EQ(reused.state, "finished");
  EXPECT_EQ(reused.verdict, "malicious");
  EXPECT_EQ(reused.result_json, R"({"vtis":[]})");
}

TEST_F(StoreSamples, AStaleFinishedRowIsTakenOver) {
  int64_t j1 = AddJob("j1");
  int64_t j2 = AddJob("j2");
  ASSERT_TRUE(store_->PutSample(Finished(j1, Now() - std::chrono::hours{48})));
  Sample taken = MustClaim(j2, Now() - std::chrono::hours{24});
  EXPECT_EQ(taken.owner_job_id, j2);
  EXPECT_EQ(taken.state, "collecting");
  EXPECT_EQ(taken.verdict, "");
  EXPECT_EQ(taken.result_json, "");
  EXPECT_FALSE(taken.analysed_at.has_value());
  EXPECT_EQ(taken.sample_id, 4242);

  // Exactly at the boundary the analysis is still young enough.
  ASSERT_TRUE(store_->PutSample(Finished(j2, Now() - std::chrono::hours{24})));
  int64_t j3 = AddJob("j3");
  EXPECT_EQ(MustClaim(j3, Now() - std::chrono::hours{24}).owner_job_id, j2);
}

TEST_F(StoreSamples, ConcurrentClaimsHaveExactlyOneOwner) {
  constexpr int kClaimers = 8;
  std::vector<int64_t> jobs;
  for (int i = 0; i < kClaimers; ++i) jobs.push_back(AddJob(fmt::format("j{}", i)));
  std::vector<int64_t> seen_owner(kClaimers, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      auto claimed = store_->ClaimSample(kSha, jobs[i], Now(), Now() - std::chrono::hours{1});
      if (!claimed) {
        ADD_FAILURE() << claimed.error().ToString();
        return;
      }
      seen_owner[i] = claimed->owner_job_id;
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> owners(seen_owner.begin(), seen_owner.end());
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_NE(std::find(jobs.begin(), jobs.end(), *owners.begin()), jobs.end());
}

TEST_F(StoreSamples, ClaimRejectsBadInput) {
  auto no_sha = store_->ClaimSample("", 1, Now(), Now());
  ASSERT_FALSE(no_sha);
  EXPECT_EQ(no_sha.error().code, ErrorCode::kInvalidArgument);
  auto no_job = store_->ClaimSample(kSha, 0, Now(), Now());
  ASSERT_FALSE(no_job);
  EXPECT_EQ(no_job.error().code, ErrorCode::kInvalidArgument);
  auto unknown_job = store_->ClaimSample(kSha, 12345, Now(), Now());
  ASSERT_FALSE(unknown_job);
  EXPECT_EQ(unknown_job.error().code, ErrorCode::kConflict);
  EXPECT_THAT(unknown_job.error().message, ::testing::HasSubstr("job that does not exist"));
  auto nothing = store_->GetSample(kSha);
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->has_value()) << "a failed claim leaves no row";
}

TEST_F(StoreSamples, PutSampleUpsertsTheWholeRow) {
  int64_t j1 = AddJob("j1");
  auto none = store_->GetSample(kSha);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  Sample finished = Finished(j1, Now() - Millis{5000});
  ASSERT_TRUE(store_->PutSample(finished));
  auto stored = store_->GetSample(kSha);
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ((*stored)->state, "finished");
  EXPECT_EQ((*stored)->owner_job_id, j1);
  EXPECT_EQ((*stored)->sample_id, 4242);
  EXPECT_EQ((*stored)->submission_id, 99);
  EXPECT_EQ((*stored)->verdict, "malicious");
  EXPECT_EQ((*stored)->result_json, R"({"vtis":[]})");
  EXPECT_EQ((*stored)->analysed_at, Now() - Millis{5000});
  EXPECT_EQ((*stored)->submitted_at, Now() - Millis{65'000});
  EXPECT_EQ((*stored)->updated_at, Now());

  clock_.Advance(Millis{1000});
  Sample failed;
  failed.sha256 = kSha;
  failed.state = "failed";
  failed.reason = "analysis timed out";
  ASSERT_TRUE(store_->PutSample(failed));
  auto replaced = store_->GetSample(kSha);
  ASSERT_TRUE(replaced && replaced->has_value());
  EXPECT_EQ((*replaced)->state, "failed");
  EXPECT_EQ((*replaced)->owner_job_id, 0);
  EXPECT_EQ((*replaced)->sample_id, 0);
  EXPECT_EQ((*replaced)->verdict, "");
  EXPECT_EQ((*replaced)->reason, "analysis timed out");
  EXPECT_FALSE((*replaced)->analysed_at.has_value());
  EXPECT_FALSE((*replaced)->submitted_at.has_value());
  EXPECT_EQ((*replaced)->updated_at, Now());

  Sample bad = failed;
  bad.state = "done";
  Status bad_state = store_->PutSample(bad);
  ASSERT_FALSE(bad_state);
  EXPECT_EQ(bad_state.error().code, ErrorCode::kInvalidArgument);
}

using StoreCursors = StoreTest;

TEST_F(StoreCursors, SetGetAndOverwrite) {
  auto missing = store_->GetCursor("defender.alerts");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(store_->SetCursor("defender.alerts", "2024-05-01T10:00:00Z"));
  ASSERT_TRUE(store_->SetCursor("ti.feed", "12345"));
  ASSERT_TRUE(store_->SetCursor("defender.alerts", "2024-05-01T11:00:00Z"));
  auto alerts = store_->GetCursor("defender.alerts");
  ASSERT_TRUE(alerts && alerts->has_value());
  EXPECT_EQ(**alerts, "2024-05-01T11:00:00Z");
  auto feed = store_->GetCursor("ti.feed");
  ASSERT_TRUE(feed && feed->has_value());
  EXPECT_EQ(**feed, "12345");

  Status unnamed = store_->SetCursor("", "x");
  ASSERT_FALSE(unnamed);
  EXPECT_EQ(unnamed.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace vc::store
