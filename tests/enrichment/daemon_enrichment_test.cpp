// The enrichment listener as the daemon runs it: off by default, started with the daemon when
// enabled, on the daemon's own VMRay client, and a taken port stops the start.
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/time.hpp"
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

// GetVMRayIOCs with submission_id and sample_verdict answers {api_resp, custom_resp}: the feed's
// STIX mapping with the enrichment app's labels, only the asked verdicts, the allow-list applied,
// and a fresh list per call (the original's list kept indicators of earlier calls).
TEST(DaemonEnrichment, IocsWithCustomRespAreTheFeedsStixObjectsPerCall) {
  ManualClock clock;
  Harness h(clock);
  h.Seed({{"vmray",
           {{"samples",
             Json::array(
                 {{{"sha256", std::string(64, 'a')},
                   {"verdict", "malicious"},
                   {"iocs",
                    {{"domains",
                      {{{"domain", "evil.example"},
                        {"verdict", "malicious"},
                        {"threat_names", {"Emotet", "Loader"}},
                        {"classifications", {"Dropper", "Spyware"}}},
                       {{"domain", "meh.example"}, {"verdict", "suspicious"}},
                       {{"domain", "login.microsoftonline.com"}, {"verdict", "malicious"}}}}}}},
                  {{"sha256", std::string(64, 'b')},
                   {"verdict", "malicious"},
                   {"iocs",
                    {{"domains",
                      {{{"domain", "other.example"}, {"verdict", "malicious"}}}}}}}})}}}});
  std::map<std::string, int64_t> ids;
  const Json state = h.emulators().vmray().StateJson();
  for (const auto& s : state["samples"]) {
    ids[s["sha256"].get<std::string>().substr(0, 1)] = s["id"].get<int64_t>();
  }
  ASSERT_EQ(ids.size(), 2u) << state.dump();
  auto daemon = h.OpenDaemon({{"VMRAY_CONNECTOR_ENRICHMENT_ENABLED", "true"},
                              {"VMRAY_CONNECTOR_ENRICHMENT_LISTEN", "127.0.0.1:0"},
                              {"VMRAY_CONNECTOR_ENRICHMENT_FUNCTION_KEY", kKey}});
  ASSERT_TRUE(daemon);
  daemon->Start();
  httplib::Client c(daemon->enrichment_url());
  auto ask = [&](int64_t sample_id, const std::string& extra) {
    const std::string body = "{\"sample_id\": " + std::to_string(sample_id) +
                             ", \"submission_id\": 77, \"sample_verdict\": [\"malicious\"]" +
                             extra + "}";
    auto r = c.Post("/api/GetVMRayIOCs", {{"x-functions-key", kKey}}, body, "application/json");
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << r->body;
    return Json::parse(r->body, nullptr, false);
  };
  const Json first = ask(ids["a"], R"(, "incident_id": "4711", "valid_until": 7)");
  ASSERT_TRUE(first.contains("api_resp")) << first.dump();
  const Json& stix = first["custom_resp"];
  ASSERT_EQ(stix.size(), 1u) << "only malicious, allow-listed Microsoft domain left out: "
                             << stix.dump(2);
  EXPECT_EQ(stix[0]["pattern"], "[domain-name:value = 'evil.example']");
  EXPECT_EQ(stix[0]["labels"],
            Json::array({"sample_id: " + std::to_string(ids["a"]), "submission_id: 77",
                         "incident_id: 4711", "threat_names: Emotet,Loader", "Dropper",
                         "Spyware"}));
  EXPECT_EQ(stix[0]["confidence"], 100);
  EXPECT_EQ(stix[0]["valid_until"], FormatIso8601(clock.Now() + std::chrono::hours(24 * 7)));

  const Json second = ask(ids["b"], "");
  ASSERT_EQ(second["custom_resp"].size(), 1u) << "nothing from the first call: "
                                              << second["custom_resp"].dump(2);
  EXPECT_EQ(second["custom_resp"][0]["pattern"], "[domain-name:value = 'other.example']");
  EXPECT_EQ(second["custom_resp"][0]["labels"][2], "incident_id: None");
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
