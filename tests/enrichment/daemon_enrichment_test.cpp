// The enrichment listener as the daemon runs it: off by default, started with the daemon when
// enabled, on the daemon's own VMRay client, and a taken port stops the start.
#include <gtest/gtest.h>
#include <httplib.h>

#include "support/harness.hpp"

namespace vc::enrichment {
namespace {

using testing::Harness;

constexpr const char* kKey = "daemon-fk-0f3e9d";

TEST(DaemonEnrichment, OffByDefault) {
  ManualClock clock;
  Harness h(clock);
  auto daemon = h.OpenDaemon();
  ASSERT_TRUE(daemon);
  EXPECT_EQ(daemon->enrichment_url(), "");
}

TEST(DaemonEnrichment, ServesTheOriginalRoutesOnceStarted) {
  ManualClock clock;
  Harness h(clock);
  auto daemon = h.OpenDaemon({{"VMRAY_CONNECTOR_ENRICHMENT_ENABLED", "true"},
                              {"VMRAY_CONNECTOR_ENRICHMENT_LISTEN", "127.0.0.1:0"},
                              {"VMRAY_CONNECTOR_ENRICHMENT_FUNCTION_KEY", kKey}});
  ASSERT_TRUE(daemon);
  ASSERT_NE(daemon->enrichment_url(), "");
  daemon->Start();
  httplib::Client c(daemon->enrichment_url());
  auto r = c.Post("/api/UplaodURL", {{"x-functions-key", kKey}},
                  R"({"url": "https://malicious.example.com/x"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(h.emulators().vmray().CountCalls("POST", "^/rest/sample/submit$"), 1u);
  auto denied =
      c.Post("/api/UplaodURL", R"({"url": "https://a.example.com/"})", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  daemon->Stop();
}

TEST(DaemonEnrichment, ATakenPortStopsTheStartNamingTheKey) {
  ManualClock clock;
  Harness h(clock);
  httplib::Server blocker;
  const int port = blocker.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  auto config =
      h.Config({{"VMRAY_CONNECTOR_ENRICHMENT_ENABLED", "true"},
                {"VMRAY_CONNECTOR_ENRICHMENT_LISTEN", "127.0.0.1:" + std::to_string(port)},
                {"VMRAY_CONNECTOR_ENRICHMENT_FUNCTION_KEY", kKey}});
  app::Daemon daemon(config, clock);
  auto opened = daemon.Open();
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("enrichment.listen"), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace vc::enrichment
