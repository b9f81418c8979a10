// Canary secrets (DO-NOT-LOG) through a whole run of the real binaries: no canary may appear in
// the log file, /metrics, /status, /readyz, the store files (db, -wal) or the process's
// standard output and error, and the run must really have used them (tokens, API key).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "core/hash.hpp"
#include "e2e_support.hpp"
#include "ops_e2e_support.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

constexpr const char* kClientSecret = "canary-client-secret-DO-NOT-LOG-QuokkaZebra";
constexpr const char* kApiKey = "canary-vmray-api-key-DO-NOT-LOG-WombatYak";

void ExpectNoCanary(const std::string& where, const std::string& text) {
  EXPECT_EQ(text.find("DO-NOT-LOG"), std::string::npos) << where;
  EXPECT_EQ(text.find(kClientSecret), std::string::npos) << where;
  EXPECT_EQ(text.find(kApiKey), std::string::npos) << where;
  // A part of a secret is a leak too (a truncated or split value).
  EXPECT_EQ(text.find("QuokkaZebra"), std::string::npos) << where;
  EXPECT_EQ(text.find("WombatYak"), std::string::npos) << where;
}

TEST(Canary, NoSecretInLogsMetricsStatusStoreOrOutput) {
  const std::string dir = TempDir("vc-e2e-canary");
  {
    std::ofstream options(dir + "/emulators.json");
    options << Json{{"entra", {{"client_secret", kClientSecret}}},
                    {"vmray", {{"api_key", kApiKey}}}}
                   .dump();
  }
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary(), {"--options", dir + "/emulators.json"}));

  const std::string known = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  const std::string evil = std::string("MZ canary ") + testing::kEicar;
  const std::string m1 = "3333333333333333333333333333333333333333";
  Json alerts = Json::array({AlertJson("cn-known", m1, known, "known.exe"),
                             AlertJson("cn-collect", m1, Sha256Hex(evil), "evil.exe"),
                             AlertJson("cn-nofile", m1, "")});
  ASSERT_TRUE(app::PostJson(
      emulators.Url("mde") + "/_emulator/state",
      {{"alerts", alerts},
       {"machines",
        Json::array({MachineJson(m1, {{"C:\\Users\\alice\\Downloads\\evil.exe", evil}})})}}));
  ASSERT_TRUE(
      app::PostJson(emulators.Url("vmray") + "/_emulator/state",
                    {{"samples", Json::array({{{"sha256", known}, {"verdict", "malicious"}}})}}));

  auto env = ConnectorEnv(emulators, dir);
  for (auto& [k, v] : env) {
    if (k == "AzureClientSecret") v = kClientSecret;
    if (k == "VmrayAPIKey") v = kApiKey;
  }
  CapturedConnector connector;
  ASSERT_TRUE(connector.Start({"run"}, env, dir, "connector"));
  const int port = WaitForOpsPort(dir + "/connector.log", std::chrono::seconds(20));
  ASSERT_GT(port, 0) << connector.Stderr();
  WaitFor(
      emulators,
      [](const Json& s) {
        auto c = Comments(s);
        return c["cn-known"].size() == 1 && c["cn-collect"].size() == 1;
      },
      std::chrono::seconds(60));
  auto comments = Comments(MdeState(emulators));
  ASSERT_EQ(comments["cn-known"].size(), 1u) << "the canary credentials were used for real";
  ASSERT_EQ(comments["cn-collect"].size(), 1u);

  const HttpResult metrics = HttpGet(port, "/metrics");
  const HttpResult status = HttpGet(port, "/status");
  const HttpResult ready = HttpGet(port, "/readyz");
  ASSERT_EQ(metrics.status, 200);
  ASSERT_EQ(status.status, 200);
  EXPECT_NE(metrics.body.find("vc_http_requests_total"), std::string::npos);
  EXPECT_NE(status.body.find("cn-collect"), std::string::npos);
  connector.Signal(SIGTERM);
  int exit_status = 0;
  ASSERT_TRUE(connector.WaitExit(std::chrono::seconds(10), &exit_status));
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << exit_status;

  ExpectNoCanary("/metrics", metrics.body);
  ExpectNoCanary("/status", status.body);
  ExpectNoCanary("/readyz", ready.body);
  const std::string log = ReadFile(dir + "/connector.log");
  EXPECT_NE(log.find("-> done"), std::string::npos) << "the log is the debug log of a real run";
  ExpectNoCanary("connector.log", log);
  ExpectNoCanary("stdout", connector.Stdout());
  ExpectNoCanary("stderr", connector.Stderr());
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("store.db", 0) == 0) ExpectNoCanary(name, ReadFile(entry.path().string()));
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/store.db"));
}

}  // namespace
}  // namespace vc::e2e
