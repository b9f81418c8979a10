// The ops listener as the daemon runs it, against in-process emulators on a manual clock:
// readiness follows the poller and the store, a taken port stops the start, and log lines written
// by a job's steps carry its alert id.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "core/log.hpp"
#include "store/sqlite_store.hpp"
#include "support/harness.hpp"

namespace vc::server {
namespace {

using testing::AlertJson;
using testing::Harness;

Json Readyz(int port, int* status) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/readyz");
  if (!res) {
    *status = -1;
    return Json();
  }
  *status = res->status;
  return Json::parse(res->body);
}

const Json* Check(const Json& body, const std::string& name) {
  for (const auto& c : body["checks"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

TEST(DaemonOps, ReadinessFollowsThePollerAndTheStoreWithoutCrashing) {
  ManualClock clock;
  Harness h(clock);
  auto daemon = h.OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_POLL_INTERVAL_SECONDS", "60"}});
  const int port = daemon->ops_port();
  ASSERT_GT(port, 0);
  httplib::Client c("127.0.0.1", port);
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  int status = 0;
  Json body = Readyz(port, &status);
  EXPECT_EQ(status, 503) << body.dump();
  ASSERT_NE(Check(body, "poller:defender_evidence"), nullptr) << body.dump();
  EXPECT_FALSE((*Check(body, "poller:defender_evidence"))["ok"].get<bool>());
  EXPECT_TRUE((*Check(body, "store"))["ok"].get<bool>());
  EXPECT_TRUE((*Check(body, "config"))["ok"].get<bool>());

  ASSERT_TRUE(daemon->PollAlerts());
  body = Readyz(port, &status);
  EXPECT_EQ(status, 200) << body.dump();

  // Three polls missed (plus slack): not ready until the next success.
  clock.Advance(Millis(211'000));
  body = Readyz(port, &status);
  EXPECT_EQ(status, 503);
  EXPECT_NE((*Check(body, "poller:defender_evidence"))["detail"].get<std::string>().find(
                "longer than the 210 s window"),
            std::string::npos)
      << body.dump();
  ASSERT_TRUE(daemon->PollAlerts());
  Readyz(port, &status);
  EXPECT_EQ(status, 200);

  // The wall clock jumps back a day: still ready.
  clock.Set(clock.Now() - std::chrono::hours(24));
  Readyz(port, &status);
  EXPECT_EQ(status, 200);

  // The store stops taking writes at run time (read-only file, full disk).
  auto& sqlite = dynamic_cast<store::SqliteStore&>(daemon->store());
  ASSERT_TRUE(sqlite.ExecForTest("PRAGMA query_only = 1"));
  body = Readyz(port, &status);
  EXPECT_EQ(status, 503);
  EXPECT_FALSE((*Check(body, "store"))["ok"].get<bool>()) << body.dump();
  EXPECT_NE((*Check(body, "store"))["action"].get<std::string>().find("writable"),
            std::string::npos);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("\nvc_ready 0"), std::string::npos);
  auto page = c.Get("/status");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("cannot write to the store"), std::string::npos);
  ASSERT_TRUE(sqlite.ExecForTest("PRAGMA query_only = 0"));
  Readyz(port, &status);
  EXPECT_EQ(status, 200) << "ready again once the store is writable";
}

TEST(DaemonOps, ATakenOpsPortStopsTheStartBeforeTheStoreIsOpened) {
  ManualClock clock;
  Harness h(clock);
  auto first = h.OpenDaemon();
  ASSERT_GT(first->ops_port(), 0);
  const std::string other_store = h.dir() + "/other/store.db";
  std::filesystem::create_directories(h.dir() + "/other");
  app::Daemon second(
      h.Config({{"VMRAY_CONNECTOR_OPS_LISTEN", "127.0.0.1:" + std::to_string(first->ops_port())},
                {"VMRAY_CONNECTOR_STORE_PATH", other_store}}),
      clock);
  auto opened = second.Open();
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("already in use"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("VMRAY_CONNECTOR_OPS_LISTEN"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(other_store)) << "nothing else was started";

  app::Daemon bad(h.Config({{"VMRAY_CONNECTOR_OPS_LISTEN", "localhost"},
                            {"VMRAY_CONNECTOR_STORE_PATH", h.dir() + "/other/bad.db"}}),
                  clock);
  auto refused = bad.Open();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("has no port"), std::string::npos);

  app::Daemon off(h.Config({{"VMRAY_CONNECTOR_OPS_ENABLED", "false"},
                            {"VMRAY_CONNECTOR_STORE_PATH", h.dir() + "/other/off.db"}}),
                  clock);
  ASSERT_TRUE(off.Open());
  EXPECT_EQ(off.ops_port(), 0);
}

TEST(DaemonOps, LogLinesAboutAJobCarryItsAlertId) {
  ManualClock clock;
  Harness h(clock);
  const std::string log = h.dir() + "/connector.log";
  InitLogging({LogFormat::kJson, "debug", log});
  const std::string known = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  h.Seed({{"mde", {{"alerts", Json::array({AlertJson("da-log-1", testing::kMachineId, known)})}}},
          {"vmray", {{"samples", Json::array({{{"sha256", known}, {"verdict", "malicious"}}})}}}});
  auto daemon = h.OpenDaemon();
  ASSERT_TRUE(h.Drive(*daemon));
  spdlog::default_logger()->flush();
  InitLogging({LogFormat::kText, "warn", ""});

  std::ifstream in(log);
  std::string line;
  int job_lines = 0;
  int with_alert = 0;
  std::string missing;
  while (std::getline(in, line)) {
    auto j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("job")) continue;
    // The scheduler's own transition line ("job 1 new -> looking_up: ...") is written outside
    // the step, with the job id only (the reason it quotes names the step's calls).
    if (j.value("msg", "").rfind("job " + j.value("job", "") + " ", 0) == 0) continue;
    ++job_lines;
    if (j.value("alert", "") == "da-log-1") {
      ++with_alert;
    } else {
      missing += line + "\n";
    }
  }
  EXPECT_GT(job_lines, 0);
  EXPECT_EQ(with_alert, job_lines) << "every line about the job names its alert:\n" << missing;
}

}  // namespace
}  // namespace vc::server
