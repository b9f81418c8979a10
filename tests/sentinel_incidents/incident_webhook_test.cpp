// The incident webhook on the enrichment listener, over HTTP: the key (its own, or the function
// key when it has none) is checked before anything else, its own key opens no other route, and
// bad bodies get clear 4xx answers without queueing anything.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "sentinel_incidents/incident_fixture.hpp"
#include "server/enrichment/enrichment_server.hpp"

namespace vc::sentinel_incidents::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr const char* kFunctionKey = "function-key-DO-NOT-LOG";
constexpr const char* kWebhookKey = "webhook-key-DO-NOT-LOG";

class WebhookTest : public IncidentTest {
 protected:
  void StartServer(const std::string& webhook_key) {
    enrichment::EnrichmentServerOptions o;
    o.address = {"127.0.0.1", 0};
    o.function_key = Secret<>(std::string(kFunctionKey));
    o.incident_webhook_key = Secret<>(webhook_key);
    o.incident_webhook = [this](const std::string& type, const std::string& body) {
      const WebhookAnswer a = intake_->AcceptWebhook(type, body);
      return enrichment::WebhookReply{a.status, a.body};
    };
    server_ = std::make_unique<enrichment::EnrichmentServer>(std::move(o), *vmray_);
    ASSERT_TRUE(server_->Start());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    IncidentTest::TearDown();
  }
  httplib::Result Post(const std::string& key, const std::string& body,
                       const std::string& type = "application/json") {
    httplib::Client c("127.0.0.1", server_->port());
    httplib::Headers h;
    if (!key.empty()) h.emplace("x-functions-key", key);
    return c.Post(std::string(enrichment::kIncidentWebhookPath), h, body, type);
  }
  static std::string Body(int i) {
    return Json{{"object",
                 {{"id",
                   "/subscriptions/s/resourceGroups/myRg/providers/"
                   "Microsoft.OperationalInsights/workspaces/myWorkspace/providers/"
                   "Microsoft.SecurityInsights/Incidents/" +
                       IncidentName(i)},
                  {"properties", {{"incidentNumber", i}}}}}}
        .dump();
  }

  std::unique_ptr<enrichment::EnrichmentServer> server_;
};

TEST_F(WebhookTest, OwnKeyIsRequiredAndOpensNothingElse) {
  StartServer(kWebhookKey);
  for (const std::string key : {"", "wrong", kFunctionKey}) {
    auto r = Post(key, Body(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << key;
    EXPECT_THAT(r->body, ::testing::Not(HasSubstr("DO-NOT-LOG")));
  }
  EXPECT_THAT(*store_->ListJobs({}), SizeIs(0));
  auto ok = Post(kWebhookKey, Body(1));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202) << ok->body;
  EXPECT_THAT(*store_->ListJobs({}), SizeIs(1));
  // The webhook key is no function key.
  httplib::Client c("127.0.0.1", server_->port());
  auto other = c.Get("/api/GetVMRaySample?sample_id=1", {{"x-functions-key", kWebhookKey}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 401);
}

TEST_F(WebhookTest, FunctionKeyWhenNoOwnKeyAndClearErrorsForBadBodies) {
  StartServer("");
  auto r = Post(kFunctionKey, "{broken", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("invalid_json"));
  r = Post(kFunctionKey, Body(1), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = Post(kFunctionKey, std::string(kMaxWebhookBody + 10, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_THAT(*store_->ListJobs({}), SizeIs(0));
  r = Post(kFunctionKey, Body(2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_THAT(r->body, HasSubstr(IncidentName(2)));
}

}  // namespace
}  // namespace vc::sentinel_incidents::testing
