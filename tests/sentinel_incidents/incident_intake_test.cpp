// How incidents come in: the poller (cursor moved only after the jobs are stored, a nextLink to
// a foreign host refused) and the webhook (body shapes, bad bodies, foreign workspaces).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sentinel_incidents/incident_fixture.hpp"

namespace vc::sentinel_incidents::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string ArmId(const std::string& name, const std::string& workspace = "myWorkspace") {
  return "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/"
         "Microsoft.OperationalInsights/workspaces/" +
         workspace + "/providers/Microsoft.SecurityInsights/Incidents/" + name;
}

TEST_F(IncidentTest, PollerQueuesNewIncidentsAndMovesTheCursorAfterwards) {
  SeedIncidents(Json::array({Incident(1, {"http://a.test/"}, "2026-03-01T11:10:00Z"),
                             Incident(2, {"http://b.test/"}, "2026-03-01T11:20:00Z"),
                             Incident(3, {"http://c.test/"}, "2026-03-01T11:30:00Z"),
                             // Older than the first poll's hour: not read.
                             Incident(4, {"http://d.test/"}, "2026-03-01T10:00:00Z")}));
  auto stats = intake_->PollOnce();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->incidents, 3);  // three pages of two: nextLinks followed
  EXPECT_EQ(stats->queued, 3);
  auto cursor = store_->GetCursor(std::string(kCursor));
  ASSERT_TRUE(cursor && *cursor);
  EXPECT_EQ(**cursor, "2026-03-01T11:30:00.000Z");
  auto jobs = store_->ListJobs({.kind = std::string(kIncidentJobKind)});
  EXPECT_THAT(*jobs, SizeIs(3));

  // The next poll re-reads the ten-minute overlap (incident 3) and queues nothing twice.
  stats = intake_->PollOnce();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->queued, 0);
  EXPECT_EQ(stats->already_known, 1);
  Drain();
  EXPECT_THAT(VmraySubmissions(), SizeIs(3));
}

TEST_F(IncidentTest, NextLinkToAForeignHostIsRefusedAndTheCursorStays) {
  ASSERT_TRUE(store_->SetCursor(std::string(kCursor), "2026-03-01T11:00:00.000Z"));
  emu::FaultRule f;
  f.method = "GET";
  f.path_regex = ".*/incidents";
  f.status = 200;
  f.body = Json{{"value", Json::array()},
                {"nextLink", "https://attacker.example/subscriptions/x/incidents?$skipToken=2"}}
               .dump();
  emulators_->sentinel().AddFault(f);
  auto stats = intake_->PollOnce();
  ASSERT_FALSE(stats);
  EXPECT_THAT(stats.error().message, HasSubstr("refused"));
  EXPECT_EQ(**store_->GetCursor(std::string(kCursor)), "2026-03-01T11:00:00.000Z");
  EXPECT_THAT(*store_->ListJobs({}), SizeIs(0));
}

TEST_F(IncidentTest, ThrottledListIsWaitedOut) {
  SeedIncidents(Json::array({Incident(1, {"http://a.test/"})}));
  emu::FaultRule f;
  f.method = "GET";
  f.path_regex = ".*/incidents";
  f.status = 429;
  f.retry_after = "3";
  emulators_->sentinel().AddFault(f);
  auto stats = intake_->PollOnce();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->queued, 1);
}

TEST_F(IncidentTest, WebhookTakesTheAutomationRulePayload) {
  SeedIncidents(Json::array({Incident(1, {"http://a.test/"})}));
  const Json body = {{"workspaceId", kWorkspaceId},
                     {"object",
                      {{"id", ArmId(IncidentName(1))},
                       {"name", IncidentName(1)},
                       {"properties", {{"incidentNumber", 42}}}}}};
  WebhookAnswer a = intake_->AcceptWebhook("application/json", body.dump());
  EXPECT_EQ(a.status, 202) << a.body.dump();
  EXPECT_EQ(a.body["queued"], true);
  a = intake_->AcceptWebhook("application/json; charset=utf-8", body.dump());
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(a.body["queued"], false);
  // The bare ARM id form.
  a = intake_->AcceptWebhook("application/json",
                             Json{{"incidentArmId", ArmId(IncidentName(2))}}.dump());
  EXPECT_EQ(a.status, 202);
  Drain();
  EXPECT_THAT(Comments(1), SizeIs(1));
}

TEST_F(IncidentTest, WebhookRefusesBadBodies) {
  struct Case {
    std::string content_type, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"text/plain", "{}", 415, "unsupported_media_type"},
      {"application/json", "{not json", 400, "invalid_json"},
      {"application/json", "[]", 400, "invalid_json"},
      {"application/json", R"({"object": {"name": "x"}})", 400, "missing_incident"},
      {"application/json", R"({"incidentArmId": "/subscriptions/x/incidents"})", 400,
       "invalid_incident_id"},
      {"application/json", Json{{"incidentArmId", ArmId("a/../b%2F")}}.dump(), 400,
       "invalid_incident_id"},
      {"application/json", Json{{"incidentArmId", ArmId("abc", "otherWorkspace")}}.dump(), 422,
       "foreign_workspace"},
      {"application/json", std::string(kMaxWebhookBody + 1, ' '), 413, "body_too_large"},
  };
  for (const auto& c : cases) {
    const WebhookAnswer a = intake_->AcceptWebhook(c.content_type, c.body);
    EXPECT_EQ(a.status, c.status) << c.body.substr(0, 80);
    EXPECT_EQ(a.body["error"]["code"], c.code) << c.body.substr(0, 80);
    EXPECT_FALSE(a.body["error"]["message"].get<std::string>().empty());
  }
  EXPECT_THAT(*store_->ListJobs({}), SizeIs(0));
}

}  // namespace
}  // namespace vc::sentinel_incidents::testing
