// kill -9 at arbitrary moments, restart, repeat: every alert still ends with exactly one
// comment, every file with exactly one submission and one Live Response collection.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "core/hash.hpp"
#include "core/random.hpp"
#include "e2e_support.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::AlertJson;
using testing::MachineJson;

TEST(KillRestart, NothingLostNothingDuplicated) {
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary()));
  const std::string dir = TempDir("vc-e2e-kill");

  // 8 unknown files on 8 devices, each behind two alerts, plus 8 alerts on known files.
  Json alerts = Json::array();
  Json machines = Json::array();
  Json samples = Json::array();
  std::vector<std::string> files;
  for (int i = 0; i < 8; ++i) {
    const std::string machine = std::string(39, '0') + std::to_string(i);
    const std::string content =
        "MZ kill-restart sample " + std::to_string(i) + (i % 2 ? testing::kEicar : "");
    files.push_back(Sha256Hex(content));
    machines.push_back(MachineJson(
        machine, {{"C:\\Users\\alice\\Downloads\\f" + std::to_string(i) + ".exe", content}}));
    for (int j = 0; j < 2; ++j) {
      alerts.push_back(AlertJson("u" + std::to_string(i) + "-" + std::to_string(j), machine,
                                 files.back(), "f" + std::to_string(i) + ".exe"));
    }
    const std::string known = Sha256Hex("known " + std::to_string(i));
    samples.push_back({{"sha256", known}, {"verdict", i % 2 ? "malicious" : "clean"}});
    alerts.push_back(AlertJson("k" + std::to_string(i), machine, known, "k.exe"));
  }
  ASSERT_TRUE(app::PostJson(emulators.Url("mde") + "/_emulator/state",
                            {{"alerts", alerts}, {"machines", machines}}));
  ASSERT_TRUE(app::PostJson(emulators.Url("vmray") + "/_emulator/state", {{"samples", samples}}));

  const auto env = ConnectorEnv(emulators, dir);
  auto all_commented = [&](const Json& s) {
    auto c = Comments(s);
    for (const auto& a : alerts) {
      if (c[a["id"].get<std::string>()].empty()) return false;
    }
    return true;
  };
  // Kill at seeded, varied moments: right after start, mid-collection, mid-analysis.
  SeededRandom random(20261123);
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    ConnectorProcess connector;
    ASSERT_TRUE(connector.Start(env));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int>(random.Uniform(150, 1600))));
    connector.Kill(SIGKILL);
    connector.Wait();
    ++kills;
    if (all_commented(MdeState(emulators))) break;
  }
  // The work must have spanned several killed processes, or the test proves nothing.
  ASSERT_GE(kills, 3);
  const size_t commented_before_last = [&] {
    size_t n = 0;
    for (const auto& [_, c] : Comments(MdeState(emulators))) n += c.empty() ? 0 : 1;
    return n;
  }();
  RecordProperty("kills", kills);
  RecordProperty("alerts_commented_before_last_start", static_cast<int>(commented_before_last));
  ConnectorProcess last;
  ASSERT_TRUE(last.Start(env));
  WaitFor(emulators, all_commented, std::chrono::seconds(90));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  last.Kill(SIGTERM);
  last.Wait();

  auto comments = Comments(MdeState(emulators));
  for (const auto& a : alerts) {
    EXPECT_EQ(comments[a["id"].get<std::string>()].size(), 1u)
        << a["id"] << " after " << kills << " kills";
  }
  std::map<std::string, int> submissions_per_file;
  const Json vmray_state = VmrayState(emulators);
  for (const auto& s : vmray_state["submissions"])
    submissions_per_file[s["sha256"].get<std::string>()]++;
  for (const auto& f : files) EXPECT_EQ(submissions_per_file[f], 1) << f;
  auto mde_state = MdeState(emulators);
  std::map<std::string, int> actions_per_machine;
  for (const auto& a : mde_state["machine_actions"])
    actions_per_machine[a["machineId"].get<std::string>()]++;
  for (const auto& [machine, n] : actions_per_machine) EXPECT_EQ(n, 1) << machine;
  auto assertions = app::GetJson(emulators.Url("mde") + "/_emulator/assertions");
  ASSERT_TRUE(assertions);
  EXPECT_TRUE(assertions->empty()) << assertions->dump();
}

}  // namespace
}  // namespace vc::e2e
