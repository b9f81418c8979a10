// The Live Response scheduler against the MDE emulator's documented limits (10 runliveresponse
// calls per minute, 25 concurrent sessions, 100/min and 1,500/h per endpoint): how close to the
// allowed rate the connector starts sessions, whether it is ever answered 429, and how long it
// takes to collect every file compared with the floor the limits set.
//
// Unlike the other benchmarks this one runs in-process on a ManualClock: what it measures is
// simulated tenant time, where an hour of limits costs seconds. The emulators and the daemon
// share that clock; the driver runs every due step, then jumps the clock to the next due one.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "app/daemon.hpp"
#include "cli_options.hpp"
#include "config/config.hpp"
#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "emulator_set.hpp"

namespace vc::bench {
namespace {

constexpr int kRunsPerMinute = 10;  // the runliveresponse quota the emulator enforces

struct Flags {
  int files = 200;
  int devices = 100;
  int poll_seconds = 30;
  int polls_to_complete = 2;
  int workers = 4;
  int files_per_session = 5;  // defender.live_response.max_files_per_session (shipped default)
  int budget_hours = 12;
  std::string log_level = "warn";
};

std::string DeviceId(int i) {
  return Sha1Hex(fmt::format("bench live response device {}", i));
}
std::string FileContent(int i) {
  return fmt::format("MZ bench live response file {} ", i) + std::string(4096, 'A' + i % 26);
}

// An EDR alert about a file in the Downloads folder of device `device`: the GetFile collection
// path, which shares the tenant-wide scheduler with quarantine collection but needs no storage.
Json AlertSeed(int i, int device, TimePoint created) {
  const std::string content = FileContent(i);
  const std::string t = FormatIso8601(created);
  static const char* kSeverities[] = {"High", "Medium", "Low"};
  return {{"id", fmt::format("da{}_{}", 638600000000000000LL + i, 2000000000 + i)},
          {"incidentId", 200000 + i},
          {"title", fmt::format("Suspicious file lr-{}.exe", i)},
          {"severity", kSeverities[i % 3]},
          {"status", "New"},
          {"detectionSource", "WindowsDefenderAtp"},
          {"machineId", DeviceId(device)},
          {"computerDnsName", fmt::format("lr-host-{:03}.contoso.com", device)},
          {"alertCreationTime", t},
          {"lastUpdateTime", t},
          {"evidence", Json::array({{{"entityType", "File"},
                                     {"sha256", Sha256Hex(content)},
                                     {"sha1", Sha1Hex(content)},
                                     {"fileName", fmt::format("lr-{}.exe", i)},
                                     {"filePath", "C:\\Users\\alice\\Downloads"},
                                     {"detectionStatus", "Detected"}}})},
          {"comments", Json::array()}};
}

Json Seed(const Flags& f, TimePoint now) {
  Json alerts = Json::array();
  std::map<int, Json> files;
  for (int i = 0; i < f.files; ++i) {
    const int device = i % f.devices;
    alerts.push_back(AlertSeed(i, device, now - std::chrono::minutes(5)));
    files[device][fmt::format("C:\\Users\\alice\\Downloads\\lr-{}.exe", i)] =
        Base64Encode(FileContent(i));
  }
  Json machines = Json::array();
  for (int d = 0; d < f.devices; ++d) {
    machines.push_back({{"id", DeviceId(d)},
                        {"computerDnsName", fmt::format("lr-host-{:03}.contoso.com", d)},
                        {"healthStatus", "Active"},
                        {"osPlatform", "Windows11"},
                        {"offline", false},
                        {"files", files.count(d) ? files[d] : Json::object()}});
  }
  return {{"mde", {{"alerts", alerts}, {"machines", machines}}}};
}

std::optional<TimePoint> NextDue(app::Daemon& d) {
  std::optional<TimePoint> next;
  auto take = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (auto jobs = d.store().ListJobs({"", "", false, "", 1000000})) {
    for (const auto& j : *jobs) take(j.next_attempt_at);
  }
  if (auto items = d.store().ListOutbox(0)) {
    for (const auto& i : *items) {
      if (i.state == "pending") take(i.next_attempt_at);
    }
  }
  return next;
}

double Minutes(Millis m) {
  return static_cast<double>(m.count()) / 60'000.0;
}

int Run(const Flags& f) {
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  const auto wall_start = std::chrono::steady_clock::now();
  ManualClock clock{std::chrono::floor<Millis>(std::chrono::system_clock::now())};

  emu::EmulatorSetOptions options;
  options.mde.enforce_limits = true;
  options.mde.action_polls_to_complete = f.polls_to_complete;
  emu::EmulatorSet emulators(options, clock);
  emulators.Start();
  if (auto problem = emulators.Seed(Seed(f, clock.Now()))) {
    fmt::print(stderr, "seeding the emulators failed: {}\n", *problem);
    return 2;
  }

  const auto dir = std::filesystem::temp_directory_path() /
                   ("vc-bench-live-response-" + DefaultRandom().HexToken(4));
  std::filesystem::create_directories(dir);
  config::LoadOptions lo;
  lo.environment = {
      {"AzureTenantID", emulators.entra().options().tenant_id},
      {"AzureClientID", emulators.entra().options().client_id},
      {"AzureClientSecret", emulators.entra().options().client_secret},
      {"VmrayBaseURL", emulators.vmray().BaseUrl()},
      {"VmrayAPIKey", std::string(emu::VmrayEmulator::kDefaultApiKey)},
      {"VMRAY_CONNECTOR_AZURE_AUTHORITY_HOST", emulators.entra().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_API_BASE_URL", emulators.mde().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_INCIDENTS_GRAPH_BASE_URL", emulators.graph().BaseUrl()},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS",
       std::to_string(f.poll_seconds)},
      {"VMRAY_CONNECTOR_DEFENDER_ENFORCE_RATE_LIMITS", "true"},
      {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "30"},
      {"VMRAY_CONNECTOR_STORE_PATH", (dir / "store.db").string()},
      {"VMRAY_CONNECTOR_STORE_SYNCHRONOUS_FULL", "false"},
      {"VMRAY_CONNECTOR_DAEMON_WORKERS", std::to_string(f.workers)},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_MAX_FILES_PER_SESSION",
       std::to_string(f.files_per_session)},
      {"VMRAY_CONNECTOR_OPS_ENABLED", "false"},
  };
  auto loaded = config::LoadConfig(lo);
  if (!loaded.config) {
    for (const auto& p : loaded.problems)
      fmt::print(stderr, "config problem: {}\n", config::FormatProblem(p));
    return 2;
  }

  int exit_code = 0;
  {
    app::Daemon daemon(*loaded.config, clock);
    if (auto s = daemon.Open(); !s) {
      fmt::print(stderr, "opening the daemon failed: {}\n", s.error().ToString());
      return 2;
    }
    const TimePoint start = clock.Now();
    if (auto polled = daemon.PollAlerts(); !polled) {
      fmt::print(stderr, "the alert poll failed: {}\n", polled.error().ToString());
      return 2;
    }
    bool settled = false;
    int rounds = 0;
    for (; rounds < 1'000'000; ++rounds) {
      daemon.scheduler().RunUntilIdle();
      auto done = daemon.Settled();
      if (done && *done) {
        settled = true;
        break;
      }
      auto next = NextDue(daemon);
      if (!next || *next - start > std::chrono::hours(f.budget_hours)) break;
      clock.Set(std::max(*next, clock.Now() + Millis(1)));
    }
    const Millis settled_after = std::chrono::duration_cast<Millis>(clock.Now() - start);

    // Sessions the connector started, from the emulator's call log (simulated times).
    std::vector<int64_t> starts;
    std::map<std::string, size_t> throttled;
    size_t refused_busy = 0;
    for (auto* server : std::initializer_list<const emu::EmulatorServer*>{
             &emulators.entra(), &emulators.vmray(), &emulators.mde()}) {
      for (const auto& c : server->Calls()) {
        if (c.status == 429) ++throttled[c.method + " " + c.path];
        if (c.method == "POST" && c.path.ends_with("/runliveresponse")) {
          if (c.status == 201) starts.push_back(c.at_ms);
          if (c.status == 400) ++refused_busy;
        }
      }
    }
    std::sort(starts.begin(), starts.end());
    size_t max_in_window = 0;
    for (size_t i = 0, j = 0; i < starts.size(); ++i) {
      while (starts[i] - starts[j] >= 60'000) ++j;
      max_in_window = std::max(max_in_window, i - j + 1);
    }
    const Json state = emulators.mde().StateJson();
    const int64_t violations = state["limit_violations"].get<int64_t>();

    // When the last collection finished (its action's final update), and the most sessions
    // that were active at once.
    TimePoint last_collected = start;
    std::vector<std::pair<TimePoint, int>> edges;
    size_t succeeded = 0;
    for (const auto& a : state["machine_actions"]) {
      if (a["type"] != "LiveResponse") continue;
      auto created = ParseIso8601(a["creationDateTimeUtc"].get<std::string>());
      auto updated = ParseIso8601(a["lastUpdateDateTimeUtc"].get<std::string>());
      if (!created || !updated) continue;
      if (a["status"] == "Succeeded") {
        ++succeeded;
        last_collected = std::max(last_collected, *updated);
      }
      edges.emplace_back(*created, +1);
      if (a["status"] != "Pending" && a["status"] != "InProgress") edges.emplace_back(*updated, -1);
    }
    std::sort(edges.begin(), edges.end());
    int active = 0;
    int max_active = 0;
    for (const auto& [_, delta] : edges) max_active = std::max(max_active, active += delta);

    size_t done_jobs = 0;
    size_t all_jobs = 0;
    if (auto jobs = daemon.store().ListJobs({"", "", std::nullopt, "", 1000000})) {
      all_jobs = jobs->size();
      for (const auto& j : *jobs) done_jobs += j.state == "done" ? 1 : 0;
    }

    // The floor the limits set: the first 10 sessions at once, then 10 per minute, so the
    // last of N starts (ceil(N/10) - 1) minutes in; the session itself adds its polls.
    const size_t n = starts.size();
    const double span = n > 1 ? static_cast<double>(starts.back() - starts.front()) / 60'000 : 0;
    const double rate =
        span > 0 ? static_cast<double>(n - std::min<size_t>(n, kRunsPerMinute)) / span : 0;
    const double share = rate / kRunsPerMinute;
    const double ideal_span =
        static_cast<double>((static_cast<int>(n) + kRunsPerMinute - 1) / kRunsPerMinute - 1);
    const double session = static_cast<double>(f.polls_to_complete * f.poll_seconds) / 60.0;
    const double collect = Minutes(std::chrono::duration_cast<Millis>(last_collected - start));
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    fmt::print("## Live Response at the tenant limits: {} files on {} devices\n\n", f.files,
               f.devices);
    fmt::print("| Figure | Value |\n|---|---|\n");
    fmt::print("| Sessions started (runliveresponse 201) | {} |\n", n);
    fmt::print("| Files per session (max_files_per_session {}) | {:.2f} |\n", f.files_per_session,
               n > 0 ? static_cast<double>(f.files) / static_cast<double>(n) : 0.0);
    fmt::print("| Sessions succeeded | {} |\n", succeeded);
    fmt::print("| Jobs done / all | {} / {} |\n", done_jobs, all_jobs);
    fmt::print("| Start span, first to last session | {:.2f} min (floor {:.0f} min) |\n", span,
               ideal_span);
    fmt::print("| Achieved runliveresponse rate after the first minute's burst | {:.2f}/min |\n",
               rate);
    fmt::print("| Share of the allowed 10/min | {:.1f} % |\n", share * 100);
    fmt::print("| Most sessions started in any 60 s | {} (limit 10) |\n", max_in_window);
    fmt::print("| Most sessions active at once | {} (limit 25) |\n", max_active);
    fmt::print("| Time to collect all files (simulated) | {:.2f} min |\n", collect);
    fmt::print("| Floor set by the limits (start span + one {:.1f} min session) | {:.2f} min |\n",
               session, ideal_span + session);
    fmt::print("| Collection time / floor | {:.3f} |\n",
               ideal_span + session > 0 ? collect / (ideal_span + session) : 0);
    fmt::print("| Settled (all jobs final, simulated) | {:.2f} min |\n", Minutes(settled_after));
    fmt::print("| 429 answers | {} |\n", throttled.size());
    fmt::print("| Emulator limit violations | {} |\n", violations);
    fmt::print("| runliveresponse refused (device busy) | {} |\n", refused_busy);
    fmt::print("| Scheduler rounds | {} |\n", rounds);
    fmt::print("| Wall time | {:.1f} s |\n\n", wall);
    // Sessions started in each minute of the run: 10 in every full minute is the limit.
    std::map<int64_t, int> per_minute;
    for (int64_t t : starts) ++per_minute[(t - starts.front()) / 60'000];
    fmt::print("Sessions started per minute:");
    for (const auto& [minute, count] : per_minute) fmt::print(" {}:{}", minute, count);
    fmt::print("\n\n");
    for (const auto& [route, count] : throttled) fmt::print("429: {} x{}\n", route, count);

    const bool rate_met = share >= 0.95;
    fmt::print("target achieved rate >= 95 % of 10/min: {}\n", rate_met ? "met" : "NOT MET");
    fmt::print("target zero 429s: {}\n", throttled.empty() && violations == 0 ? "met" : "NOT MET");
    if (!settled) {
      fmt::print(stderr, "the run did not settle within {} simulated hours\n", f.budget_hours);
      exit_code = 1;
    }
    if (!throttled.empty() || violations != 0) exit_code = 1;
    if (done_jobs != static_cast<size_t>(f.files)) exit_code = 1;
  }
  emulators.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return exit_code;
}

}  // namespace
}  // namespace vc::bench

int main(int argc, char** argv) {
  using namespace vc::bench;
  Flags f;
  CLI::App app{"Live Response scheduling against the MDE limits (simulated time)"};
  AddBounded(app, "--files", f.files, "Files to collect (one alert each)", 1, 100000);
  AddBounded(app, "--devices", f.devices, "Devices the files are spread over", 1, 100000);
  AddBounded(app, "--poll-seconds", f.poll_seconds, "defender.live_response.poll_interval_seconds",
             1, 3600);
  AddBounded(app, "--polls-to-complete", f.polls_to_complete,
             "Online polls of an action until the emulator completes it", 1, 100);
  AddBounded(app, "--files-per-session", f.files_per_session,
             "defender.live_response.max_files_per_session (1: one file per session)", 1, 20);
  AddBounded(app, "--workers", f.workers, "daemon.workers", 1, 64);
  AddBounded(app, "--budget-hours", f.budget_hours, "Give up after this much simulated time", 1,
             72);
  app.add_option("--log-level", f.log_level, "Log level of the connector (stderr)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return vc::bench::Run(f);
}
