#include "bench_setup.hpp"
#include "cli_options.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "cli_options.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"

namespace vc::bench {

std::string BuildTreeConnector() {
  return VC_BENCH_CONNECTOR;
}
std::string BuildTreeEmulators() {
  return VC_BENCH_EMULATORS;
}

void CommonFlags::Add(CLI::App& app) {
  app.add_option("--connector", connector, "vmray-connector binary")->capture_default_str();
  app.add_option("--emulators", emulators, "vmray-emulators binary")->capture_default_str();
  app.add_option("--work-root", work_root, "Where the scratch directories go")
      ->capture_default_str();
  AddBounded(app, "--workers", workers, "daemon.workers of the connector", 1, 64);
  app.add_option("--synchronous-full", synchronous_full,
                 "store.synchronous_full (true: fsync every commit, the shipped default)")
      ->capture_default_str();
  AddBounded(app, "--page-size", page_size, "defender.page_size (alerts per MDE page)", 1, 10000);
  AddBounded(app, "--vmray-page-size", vmray_page_size, "VMRay emulator list page size", 1, 1000);
  AddBounded(app, "--alert-poll-seconds", alert_poll_seconds,
             "defender.poll_interval_seconds (the first poll is at start)", 1, 86400);
  app.add_option("--log-level", log_level, "log.level of the connector (its log goes to a file)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_flag("--keep", keep, "Keep the scratch directories (store, logs) for inspection");
}

WorkDir::WorkDir(const std::string& root, const std::string& name, bool keep) : keep_(keep) {
  namespace fs = std::filesystem;
  const fs::path base = root.empty() ? fs::temp_directory_path() : fs::path(root);
  path_ = (base / ("vc-bench-" + name + "-" + DefaultRandom().HexToken(4))).string();
  fs::create_directories(path_);
}

WorkDir::~WorkDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Result<std::unique_ptr<app::EmulatorProcess>> StartEmulators(const std::string& binary,
                                                             const WorkDir& dir,
                                                             const Json& options) {
  const std::string options_file = dir.File("emulator-options.json");
  {
    std::ofstream out(options_file);
    out << options.dump();
    if (!out) return MakeError(ErrorCode::kUnavailable, "cannot write " + options_file);
  }
  auto process = std::make_unique<app::EmulatorProcess>();
  VC_RETURN_IF_ERROR(process->Start(binary, {"--options", options_file}));
  return process;
}

Status Seed(const std::string& base_url, const Json& seed) {
  auto r = app::PostJson(base_url + "/_emulator/state", seed);
  if (!r) return r.error();
  return Ok();
}

std::string BenchAlertId(int i) {
  return fmt::format("da{}_{}", 638500000000000000LL + i, 1000000000 + i);
}

std::string BenchMachineId(int i) {
  return Sha1Hex(fmt::format("bench machine {}", i));
}

Json BenchAlert(int i, const std::string& machine_id, const std::string& sha256,
                const std::string& file_name, const std::string& dir, TimePoint created) {
  const std::string t = FormatIso8601(created);
  Json evidence = Json::array({{{"entityType", "User"},
                                {"accountName", fmt::format("user{}", i % 97)},
                                {"domainName", "CONTOSO"}},
                               {{"entityType", "File"},
                                {"sha256", sha256},
                                {"sha1", Sha1Hex(sha256)},
                                {"fileName", file_name},
                                {"filePath", dir},
                                {"detectionStatus", "Detected"}}});
  return {{"id", BenchAlertId(i)},
          {"incidentId", 100000 + i},
          {"title", "Suspicious file " + file_name},
          {"severity", "High"},
          {"status", "New"},
          {"detectionSource", "WindowsDefenderAtp"},
          {"machineId", machine_id},
          {"computerDnsName", fmt::format("host-{}.contoso.com", machine_id.substr(0, 8))},
          {"alertCreationTime", t},
          {"lastUpdateTime", t},
          {"evidence", evidence},
          {"comments", Json::array()}};
}

Json BenchMachine(const std::string& id, const Json& files) {
  return {{"id", id},
          {"computerDnsName", fmt::format("host-{}.contoso.com", id.substr(0, 8))},
          {"healthStatus", "Active"},
          {"osPlatform", "Windows11"},
          {"files", files}};
}

EnvPairs ConnectorEnvironment(const app::EmulatorProcess& emulators, const CommonFlags& flags,
                              const WorkDir& dir, const EnvPairs& extra) {
  EnvPairs env = {
      {"AzureTenantID", "6f1b2c3d-0000-4000-8000-00000000e1e1"},
      {"AzureClientID", "6f1b2c3d-0000-4000-8000-0000000c1e17"},
      {"AzureClientSecret", "emu-client-secret-DO-NOT-LOG"},
      {"VmrayBaseURL", emulators.Url("vmray")},
      {"VmrayAPIKey", "emu-vmray-key-DO-NOT-LOG"},
      {"VMRAY_CONNECTOR_AZURE_AUTHORITY_HOST", emulators.Url("entra")},
      {"VMRAY_CONNECTOR_DEFENDER_API_BASE_URL", emulators.Url("mde")},
      {"VMRAY_CONNECTOR_DEFENDER_INCIDENTS_GRAPH_BASE_URL", emulators.Url("graph")},
      {"VMRAY_CONNECTOR_DEFENDER_ENFORCE_RATE_LIMITS", "false"},
      {"VMRAY_CONNECTOR_DEFENDER_POLL_INTERVAL_SECONDS", std::to_string(flags.alert_poll_seconds)},
      {"VMRAY_CONNECTOR_DEFENDER_INITIAL_LOOKBACK_MINUTES", "60"},
      {"VMRAY_CONNECTOR_DEFENDER_PAGE_SIZE", std::to_string(flags.page_size)},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_STORE_PATH", dir.File("store.db")},
      {"VMRAY_CONNECTOR_STORE_SYNCHRONOUS_FULL", flags.synchronous_full ? "true" : "false"},
      {"VMRAY_CONNECTOR_DAEMON_WORKERS", std::to_string(flags.workers)},
      {"VMRAY_CONNECTOR_LOG_LEVEL", flags.log_level},
      {"VMRAY_CONNECTOR_LOG_FILE", dir.File("connector.log")},
      {"VMRAY_CONNECTOR_OPS_LISTEN", "127.0.0.1:0"},
  };
  for (const auto& [k, v] : extra) {
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

Table& Table::Row(std::string name, std::string value) {
  rows_.emplace_back(std::move(name), std::move(value));
  return *this;
}

void Table::Print(std::ostream& out) const {
  size_t w0 = 6, w1 = 5;
  for (const auto& [n, v] : rows_) {
    w0 = std::max(w0, n.size());
    w1 = std::max(w1, v.size());
  }
  out << "\n### " << title_ << "\n\n";
  out << fmt::format("| {:<{}} | {:>{}} |\n", "metric", w0, "value", w1);
  out << fmt::format("|{:-<{}}|{:->{}}:|\n", "", w0 + 2, "", w1 + 1);
  for (const auto& [n, v] : rows_) out << fmt::format("| {:<{}} | {:>{}} |\n", n, w0, v, w1);
}

std::string TargetLine(bool met, const std::string& what) {
  return fmt::format("- target {}: {}", met ? "met" : "NOT MET", what);
}

std::string Mib(int64_t kib) {
  return fmt::format("{:.1f} MiB", static_cast<double>(kib) / 1024.0);
}

std::string MachineLine() {
  std::string model = "unknown CPU";
  {
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
      if (line.rfind("model name", 0) == 0) {
        model = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  int64_t mem_kib = 0;
  {
    std::ifstream mem("/proc/meminfo");
    std::string key;
    mem >> key >> mem_kib;
  }
  utsname u{};
  uname(&u);
  // The machine is shared: the load at the start says how much the figures may be disturbed.
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  return fmt::format("{}, {} cores, {:.1f} GiB RAM, Linux {}; load average at start {:.2f}", model,
                     sysconf(_SC_NPROCESSORS_ONLN), static_cast<double>(mem_kib) / 1024.0 / 1024.0,
                     u.release, load[0]);
}

std::string Now() {
  return FormatIso8601(std::chrono::system_clock::now());
}

}  // namespace vc::bench
