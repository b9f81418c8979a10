#include "support/harness.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"

namespace vc::testing {

Harness::Harness(Clock& clock, emu::EmulatorSetOptions options)
    : clock_(clock), emulators_(std::make_unique<emu::EmulatorSet>(std::move(options), clock)) {
  emulators_->Start();
  dir_ = (std::filesystem::temp_directory_path() / ("vc-harness-" + DefaultRandom().HexToken(6)))
             .string();
  std::filesystem::create_directories(dir_);
}

Harness::~Harness() {
  emulators_->Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

EnvPairs Harness::Environment(const EnvPairs& overrides) const {
  EnvPairs env = {
      {"AzureTenantID", "6f1b2c3d-0000-4000-8000-00000000e1e1"},
      {"AzureClientID", "6f1b2c3d-0000-4000-8000-0000000c1e17"},
      {"AzureClientSecret", "emu-client-secret-DO-NOT-LOG"},
      {"VmrayBaseURL", emulators_->vmray().BaseUrl()},
      {"VmrayAPIKey", "emu-vmray-key-DO-NOT-LOG"},
      {"VMRAY_CONNECTOR_AZURE_AUTHORITY_HOST", emulators_->entra().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_API_BASE_URL", emulators_->mde().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_INCIDENTS_GRAPH_BASE_URL", emulators_->graph().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_STORE_PATH", dir_ + "/store.db"},
      {"VMRAY_CONNECTOR_STORE_SYNCHRONOUS_FULL", "false"},
      {"VMRAY_CONNECTOR_DAEMON_WORKERS", "4"},
      // Tests run in parallel: each daemon's ops listener takes a free port.
      {"VMRAY_CONNECTOR_OPS_LISTEN", "127.0.0.1:0"},
  };
  for (const auto& [k, v] : overrides) {
    bool replaced = false;
    for (auto& [ek, ev] : env) {
      if (ek == k) {
        ev = v;
        replaced = true;
      }
    }
    if (!replaced) env.emplace_back(k, v);
  }
  return env;
}

config::Config Harness::Config(const EnvPairs& overrides) const {
  config::LoadOptions lo;
  lo.environment = Environment(overrides);
  auto loaded = config::LoadConfig(lo);
  for (const auto& p : loaded.problems)
    ADD_FAILURE() << "config problem: " << config::FormatProblem(p);
  return loaded.config.value_or(config::Config{});
}

std::unique_ptr<app::Daemon> Harness::OpenDaemon(const EnvPairs& overrides) {
  auto daemon = std::make_unique<app::Daemon>(Config(overrides), clock_);
  auto s = daemon->Open();
  EXPECT_TRUE(s) << s.error().ToString();
  return daemon;
}

void Harness::Seed(const Json& seed) {
  auto problem = emulators_->Seed(seed);
  ASSERT_FALSE(problem.has_value()) << *problem;
}

bool Harness::Drive(app::Daemon& daemon, Millis budget, Millis tick) {
  auto* manual = dynamic_cast<ManualClock*>(&clock_);
  (void)daemon.PollAlerts();
  const TimePoint end = clock_.Now() + budget;
  while (clock_.Now() < end) {
    daemon.scheduler().RunUntilIdle();
    auto settled = daemon.Settled();
    if (settled && *settled) return true;
    if (manual) {
      manual->Advance(tick);
    } else {
      std::this_thread::sleep_for(tick);
    }
  }
  return false;
}

Json AlertJson(const std::string& id, const std::string& machine_id, const std::string& sha256,
               const std::string& file_name, const std::string& detection_source,
               TimePoint created) {
  if (created == TimePoint{}) created = DefaultClock().Now();
  Json evidence = Json::array();
  if (!sha256.empty()) {
    evidence.push_back({{"entityType", "File"},
                        {"sha256", sha256},
                        {"sha1", Sha1Hex(sha256)},
                        {"fileName", file_name},
                        {"filePath", "C:\\Users\\alice\\Downloads"},
                        {"detectionStatus", "Detected"}});
  }
  const std::string t = FormatIso8601(created);
  return {{"id", id},
          {"incidentId", 4242},
          {"title", "Suspicious file " + file_name},
          {"severity", "High"},
          {"status", "New"},
          {"detectionSource", detection_source},
          {"threatFamilyName", detection_source == "WindowsDefenderAv" ? "Wacatac" : ""},
          {"machineId", machine_id},
          {"computerDnsName", "alice-laptop.contoso.com"},
          {"alertCreationTime", t},
          {"lastUpdateTime", t},
          {"evidence", evidence},
          {"comments", Json::array()}};
}

Json MachineJson(const std::string& id,
                 const std::vector<std::pair<std::string, std::string>>& files, bool offline) {
  Json f = Json::object();
  for (const auto& [path, content] : files) f[path] = Base64Encode(content);
  return {{"id", id},
          {"computerDnsName", "alice-laptop.contoso.com"},
          {"healthStatus", "Active"},
          {"osPlatform", "Windows11"},
          {"offline", offline},
          {"files", f}};
}

}  // namespace vc::testing
