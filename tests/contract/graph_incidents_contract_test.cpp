// The Graph incident client (clients/graph/incidents.hpp) built as the daemon builds it (Entra
// token for https://graph.microsoft.com, retry policy) against the Graph and Entra emulators:
// each call's request read back from the call log, 404, 429 waited out then success, a
// malformed answer, and an incident id that is not a number never reaching the URL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/graph/incidents.hpp"
#include "contract/contract_support.hpp"

namespace vc::contract {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kGraph = "https://graph.microsoft.com";

class GraphIncidentsContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
    Seed({{"mde", {{"alerts", Json::array({{{"id", "da1"}, {"incidentId", 4242}}})}}},
          {"graph", {{"incidents", {{{"id", 4242}, {"customTags", {"analyst"}}}}}}}});
    const auto& e = emulators().entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators().entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    tokens_ = std::make_shared<auth::EntraTokenCache>(entra, MakePipeline({}, kUserAgent, nullptr),
                                                      clock_);
    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kGraph);
    client_ = std::make_unique<graph::IncidentClient>(graph().BaseUrl(),
                                                      MakePipeline({}, kMdeUserAgent, credential));
  }
  void TearDown() override {
    client_.reset();
    tokens_.reset();
    ContractTest::TearDown();
  }
  emu::GraphEmulator& graph() { return emulators().graph(); }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<graph::IncidentClient> client_;
};

TEST_F(GraphIncidentsContractTest, GetReadsTagsAndComments) {
  Seed({{"graph",
         {{"incidents",
           {{{"id", 4242},
             {"customTags", {"analyst"}},
             {"comments", {{{"comment", "seen"}, {"createdByDisplayName", "ana"}}}}}}}}}});
  auto incident = client_->GetIncident("4242");
  ASSERT_TRUE(incident) << incident.error().ToString();
  EXPECT_EQ(incident->id, "4242");
  EXPECT_THAT(incident->custom_tags, ElementsAre("analyst"));
  ASSERT_EQ(incident->comments.size(), 1u);
  EXPECT_EQ(incident->comments[0].comment, "seen");
  EXPECT_EQ(incident->comments[0].created_by, "ana");
  const auto calls = CallsTo(graph(), "GET", "/v1\\.0/security/incidents/4242");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].auth, "Bearer");
  EXPECT_EQ(emulators().entra().StateJson()["tokens_issued"][kGraph], 1);
}

TEST_F(GraphIncidentsContractTest, SetCustomTagsSendsTheWholeList) {
  auto incident = client_->SetCustomTags("4242", {"analyst", "VMRay Verdict: Malicious"});
  ASSERT_TRUE(incident) << incident.error().ToString();
  EXPECT_THAT(incident->custom_tags, ElementsAre("analyst", "VMRay Verdict: Malicious"));
  const auto calls = CallsTo(graph(), "PATCH", "/v1\\.0/security/incidents/4242");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].content_type, "application/json");
  EXPECT_EQ(Json::parse(calls[0].body),
            (Json{{"customTags", {"analyst", "VMRay Verdict: Malicious"}}}));
  EXPECT_EQ(graph().StateJson()["incidents"][0]["customTags"],
            Json::array({"analyst", "VMRay Verdict: Malicious"}));
}

TEST_F(GraphIncidentsContractTest, AddCommentPostsAnAlertComment) {
  ASSERT_TRUE(client_->AddComment("4242", "VMRay says <b>malicious</b> & more"));
  const auto calls = CallsTo(graph(), "POST", "/v1\\.0/security/incidents/4242/comments");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(Json::parse(calls[0].body),
            (Json{{"@odata.type", "microsoft.graph.security.alertComment"},
                  {"comment", "VMRay says <b>malicious</b> & more"}}));
  const Json comments = graph().StateJson()["incidents"][0]["comments"];
  ASSERT_EQ(comments.size(), 1u);
  EXPECT_EQ(comments[0]["comment"], "VMRay says <b>malicious</b> & more");
}

TEST_F(GraphIncidentsContractTest, UnknownIncidentIsNotFound) {
  auto incident = client_->GetIncident("999");
  ASSERT_FALSE(incident);
  EXPECT_EQ(Seen(incident.error()).code, ErrorCode::kNotFound);
  EXPECT_EQ(incident.error().service, "graph");
  EXPECT_EQ(incident.error().http_status, 404);
  auto posted = client_->AddComment("999", "x");
  ASSERT_FALSE(posted);
  EXPECT_EQ(Seen(posted.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(GraphIncidentsContractTest, ThrottledThenSucceeds) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_regex = "/comments$";
  rule.status = 429;
  rule.retry_after = "4";
  graph().AddFault(rule);
  ASSERT_TRUE(client_->AddComment("4242", "once"));
  EXPECT_THAT(StatusesOf(CallsTo(graph(), "POST", ".*/comments")), ElementsAre(429, 200));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(4000)));
  // A 429 proves Graph did not act: exactly one comment.
  EXPECT_EQ(graph().StateJson()["incidents"][0]["comments"].size(), 1u);
}

TEST_F(GraphIncidentsContractTest, MalformedAnswerIsAProtocolError) {
  emu::FaultRule rule;
  rule.method = "GET";
  rule.malformed = true;
  graph().AddFault(rule);
  auto incident = client_->GetIncident("4242");
  ASSERT_FALSE(incident);
  EXPECT_EQ(Seen(incident.error()).code, ErrorCode::kProtocol);
  EXPECT_EQ(incident.error().service, "graph");
}

TEST_F(GraphIncidentsContractTest, IncidentIdThatIsNotANumberNeverLeaves) {
  for (const char* id : {"", "42/../../users", "42?x=1", "4 2"}) {
    auto incident = client_->GetIncident(id);
    ASSERT_FALSE(incident) << id;
    EXPECT_EQ(Seen(incident.error()).code, ErrorCode::kInvalidArgument) << id;
  }
  EXPECT_TRUE(graph().Calls().empty());
}

}  // namespace
}  // namespace vc::contract
