// The command line run in-process through RunCli: exit codes (0 ok, 1 runtime, 2 config, 3
// usage), --version and --help, `status`, `alert` and `replay` beside an open daemon, `config
// print` with sources and masked secrets, and `submit` against the VMRay emulator.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/cli.hpp"
#include "core/hash.hpp"
#include "support/harness.hpp"
#include "version.hpp"

namespace vc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Outcome {
  int code = 0;
  std::string out;
  std::string err;
};

class Cli : public ::testing::Test {
 protected:
  ManualClock clock_{std::chrono::system_clock::now()};
  Harness h_{clock_};

  Outcome Run(const std::vector<std::string>& args, const EnvPairs& overrides = {}) {
    return RunWith(args, h_.Environment(overrides));
  }
  Outcome RunWith(const std::vector<std::string>& args, const app::Environment& env) {
    std::ostringstream out;
    std::ostringstream err;
    Outcome o;
    o.code = app::RunCli(args, env, out, err, clock_);
    o.out = out.str();
    o.err = err.str();
    EXPECT_THAT(o.out, Not(HasSubstr("DO-NOT-LOG")));
    EXPECT_THAT(o.err, Not(HasSubstr("DO-NOT-LOG")));
    return o;
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = h_.dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(Cli, VersionAndHelp) {
  const std::string version = "vmray-connector " + std::string(kVersion) + "\n";
  for (const auto& args : {std::vector<std::string>{"--version"}, {"version"}}) {
    auto r = Run(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, version);
  }
  auto help = Run({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* text : {"doctor", "status", "alert", "replay", "submit", "config",
                           "Exit codes:", "2  configuration problem", "3  usage error"}) {
    EXPECT_THAT(help.out, HasSubstr(text));
  }
  auto sub = Run({"submit", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_THAT(sub.out, HasSubstr("A file path or an http(s):// URL"));
}

TEST_F(Cli, UsageErrorsAreExit3) {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"bogus"},
                                                                {"--nope"},
                                                                {"alert"},
                                                                {"status", "--failures", "-1"},
                                                                {"config"},
                                                                {"jobs", "--limit", "zero"}}) {
    auto r = Run(args);
    EXPECT_EQ(r.code, app::kExitUsage) << ::testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(Cli, ConfigurationProblemsAreExit2) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"validate"},
                                                                {"status"},
                                                                {"alert", "a1"},
                                                                {"jobs"},
                                                                {"config", "print"},
                                                                {"submit", "x"},
                                                                {"run", "--once"}}) {
    auto r = Run(args, {{"VmrayAPIMaxRetry", "many"}});
    EXPECT_EQ(r.code, app::kExitConfig) << ::testing::PrintToString(args) << r.out << r.err;
  }
  auto ok = Run({"validate"});
  EXPECT_EQ(ok.code, 0) << ok.out;
  // A missing configuration file is a configuration problem too.
  auto missing = Run({"--config", h_.dir() + "/nope.toml", "status"});
  EXPECT_EQ(missing.code, app::kExitConfig);
}

TEST_F(Cli, ConfigPrintShowsSourcesAndMasksSecrets) {
  const std::string file = WriteFile("vc.toml",
                                     "[vmray]\n"
                                     "api_max_retry = 4\n"
                                     "\n"
                                     "[defender]\n"
                                     "page_size = 250\n");
  auto r = Run({"--config", file, "config", "print"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("api_max_retry = 4  # " + file + ":2"));
  EXPECT_THAT(r.out, HasSubstr("page_size = 250  # " + file + ":5"));
  EXPECT_THAT(r.out, HasSubstr("api_key = \"********\"  # env VmrayAPIKey"));
  EXPECT_THAT(r.out, HasSubstr("client_secret = \"********\"  # env AzureClientSecret"));
  EXPECT_THAT(r.out, HasSubstr("workers = 4  # env VMRAY_CONNECTOR_DAEMON_WORKERS"));
  EXPECT_THAT(r.out, HasSubstr("resubmit_after_days = 7  # default"));
  EXPECT_THAT(r.out, HasSubstr("[defender.live_response]"));

  // The environment wins over the file, and says so.
  auto env = Run({"--config", file, "config", "print"}, {{"VmrayAPIMaxRetry", "6"}});
  EXPECT_THAT(env.out, HasSubstr("api_max_retry = 6  # env VmrayAPIMaxRetry"));
  // The file can also come from VMRAY_CONNECTOR_CONFIG.
  auto via_env = Run({"config", "print"}, {{"VMRAY_CONNECTOR_CONFIG", file}});
  EXPECT_THAT(via_env.out, HasSubstr("api_max_retry = 4  # " + file + ":2"));
}

class CliWithStore : public Cli {
 protected:
  const std::string sha_ = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";

  void SetUp() override {
    h_.Seed({{"vmray", {{"samples", Json::array({{{"sha256", sha_}, {"verdict", "malicious"}}})}}},
             {"mde",
              {{"alerts", Json::array({AlertJson("da_1-2", kMachineId, sha_),
                                       AlertJson("da_3", kMachineId, "")})},
               {"machines", Json::array({MachineJson(kMachineId, {})})}}}});
    daemon_ = h_.OpenDaemon();
    ASSERT_TRUE(h_.Drive(*daemon_));
  }

  std::unique_ptr<app::Daemon> daemon_;
};

TEST_F(CliWithStore, StatusReadsTheStoreWhileTheDaemonHoldsIt) {
  // A failed job whose reason carries a secret: listed, and scrubbed.
  auto& store = daemon_->store();
  ASSERT_TRUE(store.InsertJob(
      {"defender_evidence", "mde:da_9:" + std::string(64, 'b'), "failed", "{}", "", clock_.Now()}));
  auto failed = store.GetJobByKey("mde:da_9:" + std::string(64, 'b'));
  ASSERT_TRUE(failed && *failed);
  ASSERT_TRUE(store.SetJobReason((*failed)->id, "VMRay refused key emu-vmray-key-DO-NOT-LOG"));

  auto r = Run({"status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 jobs"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("defender_evidence +done +1\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("defender_evidence +skipped +1\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("defender_evidence +failed +1\n"));
  // The comment, the malicious file's MDE indicators and the incident's tags.
  EXPECT_THAT(r.out, HasSubstr("write-backs (newest 1000): done 3"));
  EXPECT_THAT(r.out, HasSubstr("mde:da_9:bbbb"));
  EXPECT_THAT(r.out, HasSubstr("VMRay refused key "));

  auto none = Run({"status", "--failures", "0"});
  EXPECT_THAT(none.out, Not(HasSubstr("recent failed jobs")));
}

TEST_F(CliWithStore, AlertShowsJobsSampleAndWriteBacks) {
  auto r = Run({"alert", "da_1-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("alert da_1-2: 1 job\n"));
  EXPECT_THAT(r.out, HasSubstr("mde:da_1-2:" + sha_));
  EXPECT_THAT(r.out, HasSubstr("state:      done (final)"));
  EXPECT_THAT(r.out, HasSubstr("sample.exe (sha256 " + sha_ + ")"));
  EXPECT_THAT(r.out, HasSubstr("verdict malicious"));
  EXPECT_THAT(r.out, HasSubstr("alert_comment -> da_1-2: done"));

  auto no_evidence = Run({"alert", "da_3"});
  ASSERT_EQ(no_evidence.code, 0);
  EXPECT_THAT(no_evidence.out, HasSubstr("state:      skipped (final)"));
  EXPECT_THAT(no_evidence.out, HasSubstr("skipped:    the alert has no file evidence"));

  // '_' is not a wildcard: "da_" matches no alert.
  auto prefix = Run({"alert", "da_"});
  EXPECT_EQ(prefix.code, app::kExitRuntime);
  EXPECT_THAT(prefix.err, HasSubstr("no job for alert da_"));
}

TEST_F(CliWithStore, JobsListsNewestFirst) {
  auto r = Run({"jobs", "--state", "done"});
  ASSERT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("mde:da_1-2:"));
  EXPECT_THAT(r.out, Not(HasSubstr("mde:da_3")));
}

TEST_F(CliWithStore, ReplayQueuesTheAlertForTheRunningConnector) {
  auto r = Run({"replay", "da_1-2"});
  ASSERT_EQ(r.code, app::kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("mde:da_1-2:" + sha_ + ": replay 1 queued (was done)"));
  EXPECT_THAT(r.out, HasSubstr("1 job queued for a replay. The running connector carries it out"));
  // The daemon reads VMRay again; the verdict did not change, so nothing is written twice.
  ASSERT_TRUE(h_.Drive(*daemon_));
  auto job = daemon_->store().GetJobByKey("mde:da_1-2:" + sha_);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done");
  EXPECT_THAT((*job)->reason, HasSubstr("replay 1: the alert comment is unchanged"));

  auto unknown = Run({"replay", "da_77"});
  EXPECT_EQ(unknown.code, app::kExitRuntime);
  EXPECT_THAT(unknown.err, HasSubstr("no job for alert da_77"));
  EXPECT_EQ(Run({"replay"}).code, app::kExitUsage);

  // Without a running connector the command says how to carry the replay out.
  daemon_.reset();
  auto idle = Run({"replay", "da_1-2"});
  ASSERT_EQ(idle.code, app::kExitOk) << idle.err;
  EXPECT_THAT(idle.out, HasSubstr("replay 2 queued"));
  EXPECT_THAT(idle.out, HasSubstr("No connector is running on this store"));
}

TEST_F(Cli, RunOnceAndASecondDaemonOnTheSameStore) {
  h_.Seed({{"mde", {{"alerts", Json::array({AlertJson("ro1", kMachineId, "")})}}}});
  auto once = Run({"run", "--once"});
  EXPECT_EQ(once.code, app::kExitOk) << once.err;
  // The poll ran: the alert became a job.
  auto status = Run({"alert", "ro1"});
  EXPECT_EQ(status.code, app::kExitOk) << status.err;

  auto daemon = h_.OpenDaemon();
  auto second = Run({"run", "--once"});
  EXPECT_EQ(second.code, app::kExitRuntime);
  EXPECT_THAT(second.err, HasSubstr("cannot start"));
  // Readers are not refused.
  EXPECT_EQ(Run({"status"}).code, app::kExitOk);
}

TEST_F(Cli, UnopenableStoreIsARuntimeProblem) {
  auto r = Run({"status"}, {{"VMRAY_CONNECTOR_STORE_PATH", h_.dir() + "/missing/dir/store.db"}});
  EXPECT_EQ(r.code, app::kExitRuntime);
  EXPECT_THAT(r.err, HasSubstr("store.db"));
}

TEST_F(Cli, SubmitFileAndUrl) {
  const std::string file = WriteFile("dropper.exe", std::string("MZ submit ") + kEicar);
  auto r = Run({"submit", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("submission [0-9]+ \\(sample [0-9]+\\)"));
  EXPECT_THAT(r.out, HasSubstr("sha256 " + Sha256Hex(std::string("MZ submit ") + kEicar)));
  EXPECT_THAT(r.out, HasSubstr("report: http://127.0.0.1:"));
  EXPECT_THAT(r.err, HasSubstr("submitting " + file));
  const Json subs = h_.emulators().vmray().StateJson()["submissions"];
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["filename"], "dropper.exe");

  auto url = Run({"submit", "https://example.com/payload.js"});
  ASSERT_EQ(url.code, 0) << url.err;
  EXPECT_EQ(h_.emulators().vmray().StateJson()["submissions"].size(), 2u);
}

TEST_F(Cli, SubmitRefusesMissingAndOversizedFilesWithoutCallingVmray) {
  auto missing = Run({"submit", h_.dir() + "/nope.exe"});
  EXPECT_EQ(missing.code, app::kExitRuntime);
  EXPECT_THAT(missing.err, HasSubstr("cannot read the file"));

  const std::string big = WriteFile("big.bin", std::string(2048, 'x'));
  auto r = Run({"submit", big}, {{"VMRAY_CONNECTOR_VMRAY_MAX_FILE_SIZE_BYTES", "1024"}});
  EXPECT_EQ(r.code, app::kExitRuntime);
  EXPECT_THAT(r.err, HasSubstr("more than vmray.max_file_size_bytes (1024)"));
  EXPECT_EQ(h_.emulators().vmray().CountCalls("POST", ".*"), 0u);

  auto bad_key = Run({"submit", WriteFile("s.bin", "MZ")}, {{"VmrayAPIKey", "bad-DO-NOT-LOG"}});
  EXPECT_EQ(bad_key.code, app::kExitRuntime);
  EXPECT_THAT(bad_key.err, HasSubstr("the submission failed"));
}

}  // namespace
}  // namespace vc::testing
