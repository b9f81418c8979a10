// Stopping the real binary: SIGTERM in the middle of collections and analyses exits 0 within a
// deadline and a restart finishes the work with no duplicate Live Response, submission or
// comment; a second daemon on the same store is refused; a taken ops port stops the start.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "core/hash.hpp"
#include "e2e_support.hpp"
#include "ops_e2e_support.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

size_t CountCalls(const app::EmulatorProcess& e, const std::string& service,
                  const std::string& method, const std::string& path_regex) {
  auto calls = app::GetJson(e.Url(service) + "/_emulator/calls");
  if (!calls) return 0;
  std::regex re(path_regex);
  size_t n = 0;
  for (const auto& c : *calls) {
    if (c["method"] == method && std::regex_search(c["path"].get<std::string>(), re)) ++n;
  }
  return n;
}

double InFlight(int port) {
  const std::string m = HttpGet(port, "/metrics").body;
  double n = 0;
  for (const char* state : {"collection_pending", "downloading", "analysing"}) {
    n += std::max(0.0, MetricValue(m, std::string(R"(vc_jobs{kind="defender_evidence",state=")") +
                                          state + "\"}"));
  }
  return n;
}

TEST(Sigterm, MidWorkStopExitsZeroAndARestartFinishesWithoutDuplicates) {
  const std::string dir = TempDir("vc-e2e-sigterm");
  {
    // Collections and analyses take a few polls each, so SIGTERM lands in the middle of them.
    std::ofstream options(dir + "/emulators.json");
    options << R"({"mde": {"action_polls_to_complete": 3}, "vmray": {"finish_after_polls": 3}})";
  }
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary(), {"--options", dir + "/emulators.json"}));

  constexpr int kFiles = 6;
  Json alerts = Json::array();
  Json machines = Json::array();
  for (int i = 0; i < kFiles; ++i) {
    const std::string machine = std::string(39, 'a') + std::to_string(i);
    const std::string content = "MZ sigterm sample " + std::to_string(i) + testing::kEicar;
    const std::string name = "s" + std::to_string(i) + ".exe";
    machines.push_back(MachineJson(machine, {{"C:\\Users\\alice\\Downloads\\" + name, content}}));
    alerts.push_back(AlertJson("st-" + std::to_string(i), machine, Sha256Hex(content), name));
  }
  ASSERT_TRUE(app::PostJson(emulators.Url("mde") + "/_emulator/state",
                            {{"alerts", alerts}, {"machines", machines}}));

  const auto env = ConnectorEnv(emulators, dir);
  CapturedConnector first;
  ASSERT_TRUE(first.Start({"run"}, env, dir, "first"));
  const int port = WaitForOpsPort(dir + "/connector.log", std::chrono::seconds(20));
  ASSERT_GT(port, 0) << first.Stderr();
  ASSERT_TRUE(WaitForReady(port, std::chrono::seconds(20))) << HttpGet(port, "/readyz").body;

  // A second daemon on the same store is refused, clearly, and leaves the first alone.
  {
    CapturedConnector second;
    ASSERT_TRUE(second.Start({"run"}, env, dir, "second"));
    int status = 0;
    ASSERT_TRUE(second.WaitExit(std::chrono::seconds(10), &status));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(second.Stderr().find("another vmray-connector is already running with this store"),
              std::string::npos)
        << second.Stderr();
  }
  // The ops port taken (by the first daemon): a clear error and nothing started.
  {
    const std::string other = TempDir("vc-e2e-port");
    auto env2 = ConnectorEnv(emulators, other);
    for (auto& [k, v] : env2) {
      if (k == "VMRAY_CONNECTOR_OPS_LISTEN") v = "127.0.0.1:" + std::to_string(port);
    }
    CapturedConnector third;
    ASSERT_TRUE(third.Start({"run"}, env2, other, "third"));
    int status = 0;
    ASSERT_TRUE(third.WaitExit(std::chrono::seconds(10), &status));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(third.Stderr().find("already in use"), std::string::npos) << third.Stderr();
    EXPECT_NE(third.Stderr().find("ops.listen"), std::string::npos) << third.Stderr();
    EXPECT_FALSE(std::filesystem::exists(other + "/store.db")) << "nothing else was started";
  }
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200) << "the first daemon is unharmed";

  // Wait until work is in flight (collections pending, downloads or analyses), then SIGTERM.
  const auto busy_until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < busy_until && InFlight(port) < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(InFlight(port), 1) << HttpGet(port, "/metrics").body;
  const size_t comments_at_stop = [&] {
    size_t n = 0;
    for (const auto& [_, c] : Comments(MdeState(emulators))) n += c.size();
    return n;
  }();
  const auto stop_started = std::chrono::steady_clock::now();
  first.Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(first.WaitExit(std::chrono::seconds(10), &status)) << "no exit within 10 s";
  const auto stop_took = std::chrono::steady_clock::now() - stop_started;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  RecordProperty(
      "stop_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count()));
  EXPECT_LT(comments_at_stop, static_cast<size_t>(kFiles)) << "the stop came mid-work";
  const std::string log = ReadFile(dir + "/connector.log");
  EXPECT_NE(log.find("received signal 15, stopping"), std::string::npos);
  EXPECT_NE(log.find("vmray-connector stopped"), std::string::npos);
  EXPECT_EQ(HttpGet(port, "/healthz").status, -1) << "the ops listener is closed";

  // Restart: everything completes, exactly once.
  CapturedConnector restarted;
  ASSERT_TRUE(restarted.Start({"run"}, env, dir, "restarted"));
  const Json state = WaitFor(
      emulators,
      [&](const Json& s) {
        auto c = Comments(s);
        for (int i = 0; i < kFiles; ++i) {
          if (c["st-" + std::to_string(i)].empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(90));
  auto comments = Comments(state);
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(comments["st-" + std::to_string(i)].size(), 1u) << "alert st-" << i;
  }
  restarted.Signal(SIGTERM);
  ASSERT_TRUE(restarted.WaitExit(std::chrono::seconds(10), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(CountCalls(emulators, "vmray", "POST", "^/rest/sample/submit$"),
            static_cast<size_t>(kFiles))
      << "one submission per file";
  EXPECT_EQ(CountCalls(emulators, "mde", "POST", "/runliveresponse$"), static_cast<size_t>(kFiles))
      << "one Live Response collection per file";
  EXPECT_EQ(CountCalls(emulators, "mde", "PATCH", "^/api/alerts/"), static_cast<size_t>(kFiles))
      << "one comment per alert";
}

}  // namespace
}  // namespace vc::e2e
