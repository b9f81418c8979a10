// `vmray-connector feed --once` and `feed --since <date>` in process against the emulators, with
// the original's app-setting names: the summary and progress lines, the objects in Sentinel, the
// checkpoint shown by `status`, and clear errors for bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "app/cli.hpp"
#include "core/time.hpp"
#include "support/harness.hpp"

namespace vc {
namespace {

using ::testing::HasSubstr;

class FeedCli : public ::testing::Test {
 protected:
  FeedCli() : clock_(*ParseIso8601("2026-03-01T12:00:00Z")), h_(clock_) {}

  testing::EnvPairs Env(testing::EnvPairs extra = {}) {
    testing::EnvPairs env = {
        {"AzureWorkspaceID", "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"},
        {"VMRAY_CONNECTOR_FEED_API_BASE_URL", h_.emulators().sentinel().BaseUrl()},
        {"VmraySampleVerdict", "Malicious & Suspicious"},
        {"VmrayInitialFetchDate", "3"}};
    for (auto& e : extra) env.push_back(e);
    return h_.Environment(env);
  }
  int Run(const std::vector<std::string>& args, const testing::EnvPairs& env) {
    out_.str("");
    err_.str("");
    return app::RunCli(args, env, out_, err_, clock_);
  }
  void SeedTwo() {
    h_.Seed(
        {{"vmray",
          {{"samples",
            Json::array(
                {{{"sha256", std::string(64, '1')},
                  {"verdict", "malicious"},
                  {"analysed_at", "2026-02-27T10:00:00"},
                  {"iocs", {{"domains", {{{"domain", "one.example"}, {"verdict", "malicious"}}}}}}},
                 {{"sha256", std::string(64, '2')},
                  {"verdict", "suspicious"},
                  {"analysed_at", "2026-02-28T10:00:00"},
                  {"iocs",
                   {{"urls",
                     {{{"url", "http://two.example/x'y"}, {"verdict", "suspicious"}}}}}}}})}}}});
  }

  ManualClock clock_;
  testing::Harness h_;
  std::ostringstream out_, err_;
};

TEST_F(FeedCli, OnceUploadsPrintsASummaryAndStatusShowsTheCheckpoint) {
  SeedTwo();
  ASSERT_EQ(Run({"feed", "--once"}, Env()), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("feed: done 2026-02-26T00:00:00Z .. 2026-03-01T12:00:00Z"));
  EXPECT_THAT(out_.str(), HasSubstr("2 uploaded, 0 rejected"));
  EXPECT_EQ(h_.emulators().sentinel().Objects().size(), 2u);
  ASSERT_EQ(Run({"status"}, Env()), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Sentinel TI feed: checkpoint 2026-03-01T12:00:00Z, 0 object"));
}

TEST_F(FeedCli, SinceBackfillsWithOneProgressLinePerWindow) {
  SeedTwo();
  ASSERT_EQ(
      Run({"feed", "--since", "2026-02-27"}, Env({{"VMRAY_CONNECTOR_FEED_WINDOW_HOURS", "24"}})), 0)
      << err_.str();
  // 2026-02-27T00:00 .. 2026-03-01T12:00 in windows of a day: 3 windows, each one line.
  EXPECT_THAT(out_.str(),
              HasSubstr("feed: window 1/3 2026-02-27T00:00:00Z .. 2026-02-28T00:00:00Z"));
  EXPECT_THAT(out_.str(), HasSubstr("feed: window 3/3 "));
  EXPECT_THAT(out_.str(), HasSubstr("total submissions 2 IOCs 2 uploaded 2 rejected 0"));
  EXPECT_EQ(h_.emulators().sentinel().Objects().size(), 2u);
}

TEST_F(FeedCli, BadInputGetsAClearErrorAndNoUpload) {
  EXPECT_EQ(Run({"feed"}, Env()), app::kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("give --once"));
  EXPECT_EQ(Run({"feed", "--since", "yesterday"}, Env()), app::kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("YYYY-MM-DD"));
  auto no_workspace = Env();
  std::erase_if(no_workspace, [](const auto& p) { return p.first == "AzureWorkspaceID"; });
  EXPECT_EQ(Run({"feed", "--once"}, no_workspace), app::kExitConfig);
  EXPECT_THAT(err_.str(), HasSubstr("AzureWorkspaceID"));
  EXPECT_EQ(
      Run({"validate"}, Env({{"Polling", "30 2 * * 1"}, {"VMRAY_CONNECTOR_FEED_ENABLED", "true"}})),
      app::kExitConfig);
  EXPECT_THAT(out_.str() + err_.str(), HasSubstr("feed.polling"));
  EXPECT_EQ(h_.emulators().sentinel().CountCalls("POST", ".*"), 0u);
}

}  // namespace
}  // namespace vc
