// The Graph security incidents emulator against a real HTTP client: incidents exist for the
// incidentIds of the MDE emulator's alerts, GET shows customTags and comments, PATCH replaces
// customTags as a whole, POST adds an alertComment, unknown incidents are 404, tokens for
// another audience are 401, a missing application permission is 403, injected 429s carry
// Retry-After, and the call log records it all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"

namespace vc::emu {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class GraphEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::make_unique<EmulatorSet>(EmulatorSetOptions{}, clock_);
    set_->Start();
    auto problem = set_->Seed(
        {{"mde",
          {{"alerts", Json::array({{{"id", "da1"}, {"incidentId", 77}, {"title", "t"}}})}}}});
    ASSERT_FALSE(problem) << *problem;
    graph_ = std::make_unique<httplib::Client>(set_->graph().BaseUrl());
    token_ = Token("https://graph.microsoft.com/.default");
  }
  void TearDown() override {
    if (check_assertions_) {
      EXPECT_THAT(set_->AssertionFailures(), IsEmpty());
    }
  }
  std::string Token(const std::string& scope) {
    httplib::Client login(set_->entra().BaseUrl());
    const auto& o = set_->entra().options();
    auto r = login.Post("/" + o.tenant_id + "/oauth2/v2.0/token",
                        httplib::Params{{"grant_type", "client_credentials"},
                                        {"client_id", o.client_id},
                                        {"client_secret", o.client_secret},
                                        {"scope", scope}});
    EXPECT_TRUE(r && r->status == 200);
    return r ? Json::parse(r->body).value("access_token", "") : "";
  }
  httplib::Headers Auth(const std::string& token = "") const {
    return {{"Authorization", "Bearer " + (token.empty() ? token_ : token)}};
  }
  httplib::Result Get(const std::string& path) { return graph_->Get(path, Auth()); }
  httplib::Result Patch(const std::string& path, const Json& body) {
    return graph_->Patch(path, Auth(), body.dump(), "application/json");
  }
  httplib::Result Post(const std::string& path, const Json& body) {
    return graph_->Post(path, Auth(), body.dump(), "application/json");
  }
  static Json CommentBody(const std::string& text) {
    return {{"@odata.type", "microsoft.graph.security.alertComment"}, {"comment", text}};
  }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> graph_;
  std::string token_;
  bool check_assertions_ = true;
};

TEST_F(GraphEmulatorTest, IncidentOfAnMdeAlertExistsWithNoTagsOrComments) {
  auto r = Get("/v1.0/security/incidents/77");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json incident = Json::parse(r->body);
  EXPECT_EQ(incident["id"], "77");
  EXPECT_EQ(incident["@odata.type"], "#microsoft.graph.security.incident");
  EXPECT_EQ(incident["customTags"], Json::array());
  EXPECT_EQ(incident["comments"], Json::array());
  EXPECT_EQ(set_->graph().CountCalls("GET", "/v1.0/security/incidents/77"), 1u);
}

TEST_F(GraphEmulatorTest, UnknownIncidentIs404InGraphsEnvelope) {
  for (const char* path : {"/v1.0/security/incidents/78", "/v1.0/security/incidents/x1"}) {
    auto r = Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(Json::parse(r->body)["error"]["code"], "NotFound");
  }
  auto r = Post("/v1.0/security/incidents/78/comments", CommentBody("x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(GraphEmulatorTest, PatchReplacesTheWholeTagList) {
  ASSERT_FALSE(
      set_->Seed({{"graph", {{"incidents", {{{"id", 77}, {"customTags", {"a", "b"}}}}}}}}));
  auto r = Patch("/v1.0/security/incidents/77", {{"customTags", {"b", "VMRay Verdict: Clean"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body)["customTags"], Json::array({"b", "VMRay Verdict: Clean"}));
  const Json state = set_->graph().StateJson()["incidents"][0];
  EXPECT_EQ(state["customTags"], Json::array({"b", "VMRay Verdict: Clean"}));

  r = Patch("/v1.0/security/incidents/77", {{"customTags", "not-a-list"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(GraphEmulatorTest, CommentIsAddedAndShownOnTheIncident) {
  auto r = Post("/v1.0/security/incidents/77/comments", CommentBody("first"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body)["value"].size(), 1u);
  r = Get("/v1.0/security/incidents/77");
  ASSERT_TRUE(r);
  const Json comments = Json::parse(r->body)["comments"];
  ASSERT_EQ(comments.size(), 1u);
  EXPECT_EQ(comments[0]["comment"], "first");
  EXPECT_EQ(comments[0]["createdByDisplayName"], set_->entra().options().client_id);
  const auto calls = set_->graph().Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_THAT(calls[0].body, HasSubstr("alertComment"));
  EXPECT_EQ(calls[0].auth, "Bearer");
}

TEST_F(GraphEmulatorTest, CommentWithoutTheODataTypeIsAnAssertion) {
  check_assertions_ = false;
  auto r = Post("/v1.0/security/incidents/77/comments", {{"comment", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("emulator assertion failed"));
  EXPECT_EQ(set_->AssertionFailures().size(), 1u);
}

TEST_F(GraphEmulatorTest, TokenForAnotherAudienceIsRefused) {
  const std::string mde = Token("https://api.securitycenter.microsoft.com/.default");
  auto r = graph_->Get("/v1.0/security/incidents/77", Auth(mde));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "InvalidAuthenticationToken");
  r = graph_->Get("/v1.0/security/incidents/77");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

// The app's Graph application permissions, as Entra put them in the token's roles: reading an
// incident takes SecurityIncident.Read.All or .ReadWrite.All, tags and comments the ReadWrite
// one, sendMail Mail.Send (Exchange's ErrorAccessDenied otherwise).
TEST_F(GraphEmulatorTest, EachRouteNeedsItsApplicationPermission) {
  auto seeded = set_->Seed({{"entra", {{"graph_granted_roles", {"SecurityIncident.Read.All"}}}}});
  ASSERT_FALSE(seeded) << *seeded;
  const std::string read_only = Token("https://graph.microsoft.com/.default");
  auto r = graph_->Get("/v1.0/security/incidents/77", Auth(read_only));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = graph_->Patch("/v1.0/security/incidents/77", Auth(read_only),
                    Json{{"customTags", {"x"}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "Forbidden");
  EXPECT_THAT(Json::parse(r->body)["error"]["message"].get<std::string>(),
              HasSubstr("SecurityIncident.ReadWrite.All"));
  r = graph_->Post("/v1.0/security/incidents/77/comments", Auth(read_only), CommentBody("c").dump(),
                   "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  const Json mail = {{"message",
                      {{"subject", "s"},
                       {"body", {{"contentType", "Text"}, {"content", "b"}}},
                       {"toRecipients", {{{"emailAddress", {{"address", "soc@example.com"}}}}}}}}};
  r = graph_->Post("/v1.0/users/sender@example.com/sendMail", Auth(read_only), mail.dump(),
                   "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "ErrorAccessDenied");

  // Nothing was changed or sent by the refused calls.
  const Json state = set_->graph().StateJson();
  EXPECT_EQ(state["sent_mail"], Json::array());
  for (const auto& incident : state["incidents"]) {
    EXPECT_EQ(incident["customTags"], Json::array());
    EXPECT_EQ(incident["comments"], Json::array());
  }

  // With the permissions granted, the same token request gives a token that passes.
  seeded = set_->Seed(
      {{"entra", {{"graph_granted_roles", {"SecurityIncident.ReadWrite.All", "Mail.Send"}}}}});
  ASSERT_FALSE(seeded) << *seeded;
  const std::string full = Token("https://graph.microsoft.com/.default");
  r = graph_->Post("/v1.0/users/sender@example.com/sendMail", Auth(full), mail.dump(),
                   "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
}

TEST_F(GraphEmulatorTest, InjectedThrottlingCarriesRetryAfter) {
  FaultRule rule;
  rule.method = "PATCH";
  rule.path_regex = "/v1\\.0/security/incidents/77$";
  rule.status = 429;
  rule.retry_after = "7";
  set_->graph().AddFault(rule);
  auto r = Patch("/v1.0/security/incidents/77", {{"customTags", {"x"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "7");
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "TooManyRequests");
  // Nothing changed; the next one goes through.
  EXPECT_EQ(set_->graph().StateJson()["incidents"], Json::array());
  r = Patch("/v1.0/security/incidents/77", {{"customTags", {"x"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(GraphEmulatorTest, SeedIsCheckedAndStateResets) {
  EXPECT_TRUE(set_->Seed({{"graph", {{"incidents", {{{"id", "77"}}}}}}}));
  EXPECT_TRUE(set_->Seed({{"graph", {{"nope", 1}}}}));
  ASSERT_FALSE(set_->Seed(
      {{"graph", {{"incidents", {{{"id", 5}, {"comments", {{{"comment", "analyst note"}}}}}}}}}}));
  auto r = Get("/v1.0/security/incidents/5");
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body)["comments"][0]["comment"], "analyst note");
  set_->graph().ResetState();
  EXPECT_EQ(set_->graph().StateJson()["incidents"], Json::array());
}

}  // namespace
}  // namespace vc::emu
