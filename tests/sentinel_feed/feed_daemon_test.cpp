// The TI feed as the daemon runs it: off by default (no call to Sentinel, no VMRay submission
// listing), and when enabled a run at start and another at the next Polling slot, each uploading
// what finished since the checkpoint and moving the checkpoint. Asserted through the emulators'
// recorded calls and state and the daemon's store.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "core/time.hpp"
#include "pipelines/sentinel_feed/feed_runner.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"
#include "support/harness.hpp"

namespace vc::sentinel_feed {
namespace {

using testing::Harness;

constexpr const char* kWorkspace = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
constexpr const char* kSubmissionList = "^/rest/submission$";

Json DomainSample(char hex, const std::string& domain, const std::string& analysed_at) {
  return {{"sha256", std::string(64, hex)},
          {"verdict", "malicious"},
          {"analysed_at", analysed_at},
          {"iocs", {{"domains", {{{"domain", domain}, {"verdict", "malicious"}}}}}}};
}

std::string Checkpoint(app::Daemon& daemon) {
  auto v = daemon.store().GetCursor(std::string(kCheckpointCursor));
  return v && *v ? **v : "";
}

// Waits (real time, the feed runs on the daemon's thread) until `done` holds.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(FeedDaemon, OffByDefaultMakesNoSentinelCallAndListsNoSubmissions) {
  ManualClock clock(*ParseIso8601("2026-03-01T12:00:00Z"));
  Harness h(clock);
  h.Seed(
      {{"vmray",
        {{"samples", Json::array({DomainSample('a', "evil.example", "2026-03-01T10:00:00")})}}}});
  auto daemon =
      h.OpenDaemon({{"AzureWorkspaceID", kWorkspace},
                    {"VMRAY_CONNECTOR_FEED_API_BASE_URL", h.emulators().sentinel().BaseUrl()}});
  ASSERT_TRUE(daemon);
  EXPECT_FALSE(daemon->config().feed.enabled);
  // Both ways the daemon runs work: the steps of `run --once`, and its threads.
  ASSERT_TRUE(daemon->RunOnce());
  daemon->Start();
  daemon->Stop();
  EXPECT_TRUE(h.emulators().sentinel().Calls().empty());
  EXPECT_EQ(h.emulators().vmray().CountCalls("GET", kSubmissionList), 0u);
  EXPECT_EQ(h.emulators().vmray().CountCalls("GET", "^/rest/sample/[0-9]+/iocs"), 0u);
  EXPECT_EQ(Checkpoint(*daemon), "");
}

// Polling 1h puts the slots on the hour. The daemon starts 5 s before 12:00 (clock time): the run
// at start takes sample A, then the feed thread waits for the 12:00 slot (5 s of real time, the
// wait is the daemon's own). Meanwhile sample B finishes and the clock moves past 12:00, so the
// slot's run takes B from the checkpoint on.
TEST(FeedDaemon, EnabledRunsAtStartAndAtTheNextPollingSlotMovingTheCheckpoint) {
  ManualClock clock(*ParseIso8601("2026-03-01T11:59:55Z"));
  Harness h(clock);
  h.Seed(
      {{"vmray",
        {{"samples", Json::array({DomainSample('a', "first.example", "2026-03-01T10:00:00")})}}}});
  auto daemon =
      h.OpenDaemon({{"VMRAY_CONNECTOR_FEED_ENABLED", "true"},
                    {"AzureWorkspaceID", kWorkspace},
                    {"VMRAY_CONNECTOR_FEED_API_BASE_URL", h.emulators().sentinel().BaseUrl()},
                    {"Polling", "0 * * * *"},
                    {"VmrayInitialFetchDate", "2"},
                    {"VMRAY_CONNECTOR_DEFENDER_ENABLED", "false"}});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(daemon->config().feed.enabled);
  daemon->Start();
  ASSERT_TRUE(WaitFor([&] {
    auto v = daemon->store().GetCursor(std::string(kLastRunCursor));
    return v && v->has_value();
  })) << "no feed run at start";
  const std::string first_id = StixIndicatorId("domain:first.example");
  const std::string second_id = StixIndicatorId("domain:second.example");
  {
    const auto objects = h.emulators().sentinel().Objects();
    ASSERT_EQ(objects.size(), 1u);
    EXPECT_EQ(objects.begin()->first, first_id);
    EXPECT_EQ(objects.begin()->second["pattern"], "[domain-name:value = 'first.example']");
  }
  EXPECT_EQ(Checkpoint(*daemon), "2026-03-01T11:59:55Z");
  // Per window one listing per selected verdict and one of the clean submissions (revocation);
  // the first run's look-back is several windows.
  const size_t lists_first_run = h.emulators().vmray().CountCalls("GET", kSubmissionList);
  EXPECT_GE(lists_first_run, 2u);

  // Let the feed thread settle into its wait for the slot, then move the clock past 12:00.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  clock.Set(*ParseIso8601("2026-03-01T12:00:30Z"));
  h.Seed(
      {{"vmray",
        {{"samples", Json::array({DomainSample('b', "second.example", "2026-03-01T12:00:10")})}}}});
  ASSERT_TRUE(WaitFor([&] { return h.emulators().sentinel().Objects().count(second_id) == 1; }))
      << "no feed run at the 12:00 slot";
  ASSERT_TRUE(WaitFor([&] { return Checkpoint(*daemon) == "2026-03-01T12:00:30Z"; }))
      << Checkpoint(*daemon);
  daemon->Stop();
  // Each object once: the slot's run started at the checkpoint, so A was not read again.
  const auto counts = h.emulators().sentinel().UploadCounts();
  EXPECT_EQ(counts.at(first_id), 1);
  EXPECT_EQ(counts.at(second_id), 1);
  EXPECT_EQ(h.emulators().sentinel().Objects().size(), 2u);
  // The slot's run read one short window from the checkpoint, not the look-back again.
  const size_t lists_slot_run =
      h.emulators().vmray().CountCalls("GET", kSubmissionList) - lists_first_run;
  EXPECT_GE(lists_slot_run, 2u);
  EXPECT_LT(lists_slot_run, lists_first_run);
}

}  // namespace
}  // namespace vc::sentinel_feed
