// Incident tags and comments through Microsoft Graph (incident_writer.hpp), end to end against
// the emulators on a ManualClock: the incident gets the most severe verdict of its alerts and
// the threat names as tags while tags others set stay, two alerts of one incident give one
// comment, a comment whose answer was lost is not posted again, a 404 incident gives up and a
// missing Graph permission waits (saying what to grant) without holding the alert back, and a
// dry run sends Graph nothing.
#include <gmock/gmock.h>

#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/incident_writer.hpp"

namespace vc::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kIncident = "/v1\\.0/security/incidents/4242";
constexpr const char* kComments = "/v1\\.0/security/incidents/4242/comments";

class DefenderIncidents : public PipelineTest {
 protected:
  // A file VMRay already knows with this verdict and threat names.
  std::string KnownFile(const std::string& label, const std::string& verdict,
                        const std::vector<std::string>& threats = {}) {
    const std::string sha = Sha256Hex("MZ " + label);
    Json sample = {{"sha256", sha},
                   {"verdict", verdict},
                   {"analysed_at", FormatVmrayTime(clock_.Now() - Hours(1))}};
    if (!threats.empty()) sample["threat_names"] = threats;
    h().Seed({{"vmray", {{"samples", Json::array({sample})}}}});
    return sha;
  }
  emu::GraphEmulator& graph() { return h().emulators().graph(); }
  Json Incident() {
    const Json state = graph().StateJson();
    for (const auto& i : state["incidents"]) {
      if (i["id"] == "4242") return i;
    }
    return Json::object();
  }
  std::vector<store::OutboxItem> Items(app::Daemon& d, std::string_view kind) {
    std::vector<store::OutboxItem> out;
    auto items = d.store().ListOutbox(0);
    EXPECT_TRUE(items);
    for (const auto& i : *items) {
      if (i.kind == kind) out.push_back(i);
    }
    return out;
  }
};

TEST_F(DefenderIncidents, MostSevereVerdictAndThreatNamesTagTheIncidentNextToOthersTags) {
  // An analyst's tag and an older verdict tag of ours are on the incident already.
  h().Seed({{"graph",
             {{"incidents",
               {{{"id", 4242}, {"customTags", {"triaged-by-ana", "VMRay Verdict: Clean"}}}}}}}});
  const std::string bad = KnownFile("bad", "malicious", {"Trojan:Win32/Wacatac.B!ml"});
  const std::string meh = KnownFile("meh", "suspicious", {"Adware Generic"});
  SeedMde({Alert("a1", bad), Alert("a2", meh)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));

  const Json tags = Incident()["customTags"];
  EXPECT_EQ(tags[0], "triaged-by-ana") << tags.dump();
  std::vector<std::string> ours(tags.begin() + 1, tags.end());
  EXPECT_THAT(ours, ::testing::UnorderedElementsAre("VMRay Verdict: Malicious",
                                                    "Trojan:Win32_Wacatac.B_ml", "Adware_Generic"))
      << tags.dump();
  // One delivery per alert file, each read-merge-write; comments are off by default.
  EXPECT_EQ(Items(*d, defender::kIncidentTagsKind).size(), 2u);
  for (const auto& i : Items(*d, defender::kIncidentTagsKind)) EXPECT_EQ(i.state, "done");
  EXPECT_EQ(graph().CountCalls("POST", kComments), 0u);
  EXPECT_EQ(OnlyComment("a1").empty(), false);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIncidents, MilderLaterVerdictDoesNotReplaceTheWorse) {
  const std::string bad = KnownFile("bad2", "malicious", {"Emotet"});
  SeedMde({Alert("a1", bad)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Incident()["customTags"], Json::array({"VMRay Verdict: Malicious", "Emotet"}));

  // A later alert of the same incident with a clean file.
  const std::string fine = KnownFile("fine", "clean", {"Emotet"});
  SeedMde({Alert("a2", fine)}, Device({}));
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Incident()["customTags"], Json::array({"VMRay Verdict: Malicious", "Emotet"}));
  // The second delivery found nothing to change and wrote nothing.
  EXPECT_EQ(graph().CountCalls("PATCH", kIncident), 1u);
}

TEST_F(DefenderIncidents, TwoAlertsOfOneIncidentGiveOneComment) {
  const std::string one = KnownFile("one", "malicious");
  const std::string two = KnownFile("two", "suspicious");
  SeedMde({Alert("a1", one), Alert("a2", two)}, Device({}));
  auto d = h().OpenDaemon({{"AddCommentsToIncident", "true"}, {"AddTagsToIncident", "false"}});
  ASSERT_TRUE(Run(*d));

  const Json comments = Incident()["comments"];
  ASSERT_EQ(comments.size(), 1u) << comments.dump();
  const std::string text = comments[0]["comment"];
  EXPECT_EQ(text.rfind(defender::kIncidentCommentMarker, 0), 0u) << text;
  EXPECT_THAT(text, HasSubstr("VMRAY Analyzer Verdict:"));
  EXPECT_EQ(graph().CountCalls("POST", kComments), 1u);
  EXPECT_EQ(graph().CountCalls("PATCH", kIncident), 0u) << "tags are off";
  // Both alerts still have their own comment.
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(Comments("a2").size(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIncidents, CommentWhoseAnswerWasLostIsNotPostedAgain) {
  // Graph stores the comment, then the answer is cut: the connector cannot tell it happened.
  emu::FaultRule cut;
  cut.method = "POST";
  cut.path_regex = "/comments$";
  cut.cut_after_handling = true;
  graph().AddFault(cut);
  SeedMde({Alert("a1", KnownFile("lost", "malicious"))}, Device({}));
  auto d = h().OpenDaemon({{"AddCommentsToIncident", "true"}});
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(Incident()["comments"].size(), 1u);
  EXPECT_EQ(graph().CountCalls("POST", kComments), 1u);
  // The retry looked first and found it.
  EXPECT_GE(graph().CountCalls("GET", kIncident), 2u);
  const auto items = Items(*d, defender::kIncidentCommentKind);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].state, "done");
  EXPECT_THAT(items[0].reason, HasSubstr("already has our comment"));
}

TEST_F(DefenderIncidents, ThrottledTagWriteIsWaitedOut) {
  emu::FaultRule busy;
  busy.method = "PATCH";
  busy.status = 429;
  busy.retry_after = "120";  // longer than a step may wait inline: back to the outbox
  graph().AddFault(busy);
  SeedMde({Alert("a1", KnownFile("slow", "malicious", {"Emotet"}))}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Incident()["customTags"], Json::array({"VMRay Verdict: Malicious", "Emotet"}));
  std::vector<int> statuses;
  for (const auto& c : CallsTo(graph(), "PATCH", kIncident)) statuses.push_back(c.status);
  EXPECT_THAT(statuses, ElementsAre(429, 200));
}

TEST_F(DefenderIncidents, IncidentGraphDoesNotKnowEndsTheRowNotTheAlert) {
  // An alert whose incident Graph does not have (merged away, or not visible to the app).
  Json alert = Alert("a1", KnownFile("orphan", "malicious"));
  alert["incidentId"] = 9999;
  SeedMde({alert}, Device({}));
  graph().SetIncidentLookup([](int64_t) { return false; });
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + Sha256Hex("MZ orphan")).state, "done");
  const auto items = Items(*d, defender::kIncidentTagsKind);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].state, "failed");
  EXPECT_THAT(items[0].reason, HasSubstr("not retried"));
  EXPECT_EQ(graph().CountCalls("GET", "/v1\\.0/security/incidents/9999"), 1u);
  EXPECT_EQ(graph().CountCalls("PATCH", ".*"), 0u);
}

TEST_F(DefenderIncidents, MissingGraphPermissionWaitsWithWhatToGrantAndWritesOnceGranted) {
  // The app registration has only the read permission: Graph refuses the tag write with 403.
  h().Seed({{"entra", {{"graph_granted_roles", {"SecurityIncident.Read.All"}}}}});
  SeedMde({Alert("a1", KnownFile("denied", "malicious"))}, Device({}));
  auto d = h().OpenDaemon();
  EXPECT_FALSE(Run(*d, Minutes(10))) << "the tag write waits for the permission";
  // The alert itself is finished: its comment is in MDE, only the incident write-back waits,
  // saying what to grant.
  EXPECT_EQ(JobOf(*d, "mde:a1:" + Sha256Hex("MZ denied")).state, "done");
  auto items = Items(*d, defender::kIncidentTagsKind);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].state, "pending");
  EXPECT_THAT(items[0].reason, HasSubstr("SecurityIncident.ReadWrite.All"));
  EXPECT_THAT(items[0].reason, HasSubstr("admin consent"));
  EXPECT_EQ(Incident()["customTags"], Json::array());
  const auto refused = CallsTo(graph(), "PATCH", kIncident);
  ASSERT_FALSE(refused.empty());
  for (const auto& c : refused) EXPECT_EQ(c.status, 403);

  // An administrator grants the permission: the next attempt (with a new token) writes the tag
  // once, without a replay.
  h().Seed({{"entra", {{"graph_granted_roles", {"SecurityIncident.ReadWrite.All"}}}}});
  ASSERT_TRUE(Run(*d, Hours(3)));
  items = Items(*d, defender::kIncidentTagsKind);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].state, "done");
  EXPECT_THAT(Incident()["customTags"].dump(), HasSubstr("Malicious"));
  std::vector<int> statuses;
  for (const auto& c : CallsTo(graph(), "PATCH", kIncident)) statuses.push_back(c.status);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1);
}

TEST_F(DefenderIncidents, AlertIdTagGoesWithTheSubmission) {
  const std::string content = "MZ alert id tag";
  SeedMde({Alert("da638_1-x", Sha256Hex(content))}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon({{"AddAlertIdTags", "true"}});
  ASSERT_TRUE(Run(*d));
  const Json subs = vmray().StateJson()["submissions"];
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["tags"], Json::array({"EDR_alert", "da638_1-x"}));
}

TEST_F(DefenderIncidents, DryRunSendsGraphNothing) {
  SeedMde({Alert("a1", KnownFile("dry", "malicious"))}, Device({}));
  auto d = h().OpenDaemon(
      {{"VMRAY_CONNECTOR_DAEMON_DRY_RUN", "true"}, {"AddCommentsToIncident", "true"}});
  ASSERT_TRUE(Run(*d));
  EXPECT_TRUE(graph().Calls().empty());
  EXPECT_EQ(graph().StateJson()["incidents"], Json::array());
  EXPECT_EQ(Items(*d, defender::kIncidentTagsKind).size(), 1u);
  EXPECT_EQ(Items(*d, defender::kIncidentCommentKind).size(), 1u);
}

}  // namespace
}  // namespace vc::testing
