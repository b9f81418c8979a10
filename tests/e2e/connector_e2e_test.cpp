// The real `vmray-connector run` against the real `vmray-emulators`, configured by environment
// variables: asserts what each emulator received and the comments the alerts end with.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <regex>

#include "core/hash.hpp"
#include "e2e_support.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

size_t Count(const Json& calls, const std::string& method, const std::string& path_regex) {
  std::regex re(path_regex);
  size_t n = 0;
  for (const auto& c : calls) {
    if ((method.empty() || c["method"] == method) &&
        std::regex_search(c["path"].get<std::string>(), re))
      ++n;
  }
  return n;
}

Json Calls(const app::EmulatorProcess& e, const std::string& service) {
  auto calls = app::GetJson(e.Url(service) + "/_emulator/calls");
  return calls ? *calls : Json::array();
}

TEST(EndToEnd, AlertsToVerdictsToCommentsThroughTheRealBinaries) {
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary()));
  const std::string dir = TempDir("vc-e2e");

  const std::string known = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  const std::string evil = std::string("MZ e2e ") + testing::kEicar;
  const std::string clean = "just a spreadsheet";
  const std::string m1 = "1111111111111111111111111111111111111111";
  const std::string m2 = "2222222222222222222222222222222222222222";
  const std::string av_sha = Sha256Hex("only in quarantine");
  Json alerts = Json::array(
      {AlertJson("k1", m1, known, "known.exe"), AlertJson("u1", m1, Sha256Hex(evil), "evil.exe"),
       AlertJson("u2", m1, Sha256Hex(evil), "evil.exe"),
       AlertJson("c1", m2, Sha256Hex(clean), "sheet.xlsx"), AlertJson("n1", m1, ""),
       AlertJson("q1", m2, av_sha, "q.exe", "WindowsDefenderAv")});
  Json machines =
      Json::array({MachineJson(m1, {{"C:\\Users\\alice\\Downloads\\evil.exe", evil}}),
                   MachineJson(m2, {{"C:\\Users\\alice\\Downloads\\sheet.xlsx", clean}})});
  ASSERT_TRUE(app::PostJson(emulators.Url("mde") + "/_emulator/state",
                            {{"alerts", alerts}, {"machines", machines}}));
  ASSERT_TRUE(
      app::PostJson(emulators.Url("vmray") + "/_emulator/state",
                    {{"samples", Json::array({{{"sha256", known}, {"verdict", "malicious"}}})}}));

  ConnectorProcess connector;
  ASSERT_TRUE(connector.Start(ConnectorEnv(emulators, dir)));
  const Json state = WaitFor(
      emulators,
      [](const Json& s) {
        auto c = Comments(s);
        return c["k1"].size() == 1 && c["u1"].size() == 1 && c["u2"].size() == 1 &&
               c["c1"].size() == 1;
      },
      std::chrono::seconds(60));
  // Give the connector a moment to finish anything in flight, then stop it gracefully.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  connector.Kill(SIGTERM);
  const int status = connector.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "graceful stop, status " << status;

  auto comments = Comments(MdeState(emulators));
  for (const char* id : {"k1", "u1", "u2", "c1"}) EXPECT_EQ(comments[id].size(), 1u) << id;
  EXPECT_TRUE(comments["n1"].empty());
  EXPECT_TRUE(comments["q1"].empty());
  ASSERT_EQ(comments["k1"].size(), 1u);
  EXPECT_NE(comments["k1"][0].find("Evidence SHA256:\n" + known), std::string::npos)
      << comments["k1"][0];
  EXPECT_NE(comments["k1"][0].find("VMRAY Analyzer Verdict: MALICIOUS"), std::string::npos);
  EXPECT_NE(comments["k1"][0].find("Sample Url:\nhttp://127.0.0.1:"), std::string::npos);
  ASSERT_EQ(comments["c1"].size(), 1u);
  EXPECT_NE(comments["c1"][0].find("VMRAY Analyzer Verdict: CLEAN"), std::string::npos);
  EXPECT_EQ(comments["u1"], comments["u2"]) << "two alerts, one analysis, the same text";

  // What each service was asked.
  const Json entra = Calls(emulators, "entra");
  const Json mde = Calls(emulators, "mde");
  const Json vmray = Calls(emulators, "vmray");
  EXPECT_EQ(Count(entra, "POST", "/oauth2/v2.0/token$"), 2u)
      << "one token per resource (MDE, Graph for the incident tags), cached for the run";
  EXPECT_EQ(Count(mde, "POST", "/runliveresponse$"), 2u) << "one collection per unknown file";
  EXPECT_EQ(Count(mde, "GET", "^/_lr/download/"), 2u);
  EXPECT_EQ(Count(mde, "PATCH", "^/api/alerts/"), 4u) << "one comment per analysed alert";
  EXPECT_EQ(Count(vmray, "POST", "^/rest/sample/submit$"), 2u);
  for (const auto& c : mde) {
    const std::string path = c["path"];
    if (path.rfind("/_lr/download/", 0) == 0) {
      EXPECT_EQ(c["auth"], "none") << "no token may go to a storage link";
    } else if (path.rfind("/api/", 0) == 0) {
      EXPECT_EQ(c["auth"], "Bearer");
    }
  }
  for (const auto& c : vmray) EXPECT_EQ(c["auth"], "api_key");
  const Json submissions = VmrayState(emulators)["submissions"];
  ASSERT_EQ(submissions.size(), 3u);  // the seeded one and our two
  for (const auto& s : submissions) {
    if (s["sha256"] == known) continue;
    EXPECT_EQ(s["tags"], Json::array({"EDR_alert"}));
    EXPECT_EQ(s["user_config"], Json({{"timeout", 120}}));
    EXPECT_EQ(s["comment"],
              "Sample from VMRay Analyzer - Microsoft Defender for Endpoint Connector");
  }
  for (const char* service : {"entra", "mde", "vmray"}) {
    auto assertions = app::GetJson(emulators.Url(service) + "/_emulator/assertions");
    ASSERT_TRUE(assertions);
    EXPECT_TRUE(assertions->empty()) << service << ": " << assertions->dump();
  }

  // Secrets stay out of the log and the store; the log names what happened.
  const std::string log = ReadFile(dir + "/connector.log");
  EXPECT_EQ(log.find("DO-NOT-LOG"), std::string::npos);
  EXPECT_NE(log.find("-> done"), std::string::npos);
  EXPECT_EQ(ReadFile(dir + "/store.db").find("DO-NOT-LOG"), std::string::npos);
  EXPECT_EQ(ReadFile(dir + "/store.db-wal").find("DO-NOT-LOG"), std::string::npos);
  (void)state;
}

TEST(EndToEnd, BadConfigurationStopsTheStartWithEveryProblem) {
  const std::string dir = TempDir("vc-e2e-config");
  ConnectorProcess connector;
  ASSERT_TRUE(connector.Start({{"VmrayApiMaxRetry", "3"},
                               {"VmrayBaseURL", "http://vmray.example.com"},
                               {"VMRAY_CONNECTOR_STORE_PATH", dir + "/store.db"},
                               {"AzureClientSecret", "DO-NOT-LOG-secret-value"}}));
  const int status = connector.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/store.db")) << "nothing starts on a bad config";
}

}  // namespace
}  // namespace vc::e2e
