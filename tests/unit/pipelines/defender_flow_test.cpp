// The Defender evidence pipeline against the in-process emulators on a ManualClock.
#include <gtest/gtest.h>

#include "core/hash.hpp"
#include "support/harness.hpp"

namespace vc::testing {
namespace {

class DefenderFlow : public ::testing::Test {
 protected:
  ManualClock clock_{std::chrono::system_clock::now()};
  Harness h_{clock_};

  Json MdeAlert(const std::string& id) {
    const Json state = h_.emulators().mde().StateJson();
    for (const auto& a : state["alerts"]) {
      if (a["id"] == id) return a;
    }
    return Json();
  }
};

TEST_F(DefenderFlow, KnownHashIsAnsweredFromVmrayWithOneComment) {
  const std::string sha = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  h_.Seed({{"vmray", {{"samples", Json::array({{{"sha256", sha}, {"verdict", "malicious"}}})}}},
           {"mde",
            {{"alerts", Json::array({AlertJson("a1", kMachineId, sha)})},
             {"machines", Json::array({MachineJson(kMachineId, {})})}}}});
  auto daemon = h_.OpenDaemon();
  ASSERT_TRUE(h_.Drive(*daemon));

  auto job = daemon->store().GetJobByKey("mde:a1:" + sha);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done") << (*job)->reason;
  const Json alert = MdeAlert("a1");
  ASSERT_EQ(alert["comments"].size(), 1u);
  const std::string comment = alert["comments"][0]["comment"];
  EXPECT_NE(comment.find("Evidence SHA256:\n" + sha), std::string::npos) << comment;
  EXPECT_NE(comment.find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_EQ(h_.emulators().vmray().CountCalls("POST", "/rest/sample/submit"), 0u);
  EXPECT_EQ(h_.emulators().mde().CountCalls("POST", ".*runliveresponse"), 0u);
  EXPECT_TRUE(h_.emulators().AssertionFailures().empty());
}

TEST_F(DefenderFlow, UrlEvidenceIsSubmittedAsAUrlAnalysisAndCommentedOnce) {
  const std::string url = "http://evil.example/dl?a=1&b=<script>&c=\"x\"";
  Json alert = AlertJson("a1", kMachineId, "");
  alert["evidence"] = Json::array({{{"entityType", "Url"}, {"url", url}},
                                   {{"entityType", "Url"}, {"url", url}}});  // listed twice
  h_.Seed({{"mde",
            {{"alerts", Json::array({alert})},
             {"machines", Json::array({MachineJson(kMachineId, {})})}}}});
  auto daemon = h_.OpenDaemon();
  ASSERT_TRUE(h_.Drive(*daemon));

  auto job = daemon->store().GetJobByKey("mde:a1:url-" + Sha256Hex(url));
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done") << (*job)->reason;
  EXPECT_FALSE(daemon->store().GetJobByKey("mde:a1").value().has_value())
      << "an alert with URL evidence is not 'without evidence'";
  const Json state = h_.emulators().vmray().StateJson();
  ASSERT_EQ(state["submissions"].size(), 1u) << state["submissions"].dump();
  EXPECT_EQ(state["submissions"][0]["url"], url);
  const Json a1 = MdeAlert("a1");
  ASSERT_EQ(a1["comments"].size(), 1u);
  const std::string comment = a1["comments"][0]["comment"];
  EXPECT_EQ(comment.find("Evidence URL:\n" + url + "\n"), 0u) << comment;
  EXPECT_NE(comment.find("VMRAY Analyzer Verdict:"), std::string::npos) << comment;
  EXPECT_EQ(h_.emulators().mde().CountCalls("POST", ".*runliveresponse"), 0u);
  EXPECT_TRUE(h_.emulators().AssertionFailures().empty());
}

TEST_F(DefenderFlow, UnknownFileIsCollectedSubmittedAndSharedByTwoAlerts) {
  const std::string content = std::string("MZ dropper ") + kEicar;
  const std::string sha = Sha256Hex(content);
  h_.Seed({{"mde",
            {{"alerts", Json::array({AlertJson("a1", kMachineId, sha, "dropper.exe"),
                                     AlertJson("a2", kMachineId, sha, "dropper.exe")})},
             {"machines",
              Json::array({MachineJson(
                  kMachineId, {{"C:\\Users\\alice\\Downloads\\dropper.exe", content}})})}}}});
  auto daemon = h_.OpenDaemon();
  ASSERT_TRUE(h_.Drive(*daemon));

  for (const char* id : {"a1", "a2"}) {
    auto job = daemon->store().GetJobByKey(std::string("mde:") + id + ":" + sha);
    ASSERT_TRUE(job && *job);
    EXPECT_EQ((*job)->state, "done") << (*job)->reason;
    ASSERT_EQ(MdeAlert(id)["comments"].size(), 1u) << id;
  }
  auto& vmray = h_.emulators().vmray();
  EXPECT_EQ(vmray.CountCalls("POST", "/rest/sample/submit"), 1u) << "one submission for two alerts";
  EXPECT_EQ(h_.emulators().mde().CountCalls("POST", ".*runliveresponse"), 1u) << "one collection";
  const Json subs = vmray.StateJson()["submissions"];
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["tags"], Json::array({"EDR_alert"}));
  EXPECT_EQ(subs[0]["filename"], "dropper.exe");
  EXPECT_TRUE(h_.emulators().AssertionFailures().empty());
}

}  // namespace
}  // namespace vc::testing

namespace vc::testing {
namespace {

// Start-up releases every job lease: a second daemon on the same store must refuse to start
// instead of taking work from the first.
TEST(DaemonInstance, ASecondDaemonOnTheSameStoreRefusesToStart) {
  ManualClock clock{std::chrono::system_clock::now()};
  Harness h(clock);
  auto first = h.OpenDaemon();
  app::Daemon second(h.Config(), clock);
  auto opened = second.Open();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kConflict);
  EXPECT_NE(opened.error().message.find("already running"), std::string::npos)
      << opened.error().message;
  first.reset();
  EXPECT_TRUE(second.Open()) << "the lock goes with the first daemon";
}

}  // namespace
}  // namespace vc::testing
