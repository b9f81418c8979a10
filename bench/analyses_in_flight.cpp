// bench-analyses-in-flight: what 10,000 analyses in flight cost the connector while it waits.
// VMRay is seeded with one running ("pending") submission per file, so on hash lookup the
// connector adopts it instead of collecting, and every job sits in state `analysing`, polling
// its submission at vmray.analysis_poll_interval_seconds. The emulator never finishes them.
// Prints the ramp to that state, then the connector's RSS and CPU over a waiting window.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "bench_setup.hpp"
#include "cli_options.hpp"
#include "connector_watch.hpp"
#include "core/hash.hpp"
#include "emulator_stats.hpp"

namespace vc::bench {
namespace {

constexpr int64_t kMaxInFlightRssKib = 100 * 1024;
// Far more polls than any run makes: the analyses stay running.
constexpr int kNeverFinish = 1'000'000;

struct Flags {
  CommonFlags common;
  int analyses = 10'000;
  int alerts_per_machine = 10;
  int analysis_poll_seconds = 30;  // the shipped default
  int window_seconds = 60;
  int timeout_seconds = 1800;
};

int Run(const Flags& flags) {
  const CommonFlags& common = flags.common;
  const int n = flags.analyses;
  std::cout << "# bench-analyses-in-flight\n\n"
            << "- when: " << Now() << "\n- machine: " << MachineLine() << "\n";

  WorkDir dir(common.work_root, "in-flight", common.keep);
  const Json emulator_options = {
      {"vmray", {{"finish_after_polls", kNeverFinish}, {"page_size", common.vmray_page_size}}},
      {"mde", {{"enforce_limits", false}}}};
  auto emulators = StartEmulators(common.emulators, dir, emulator_options);
  if (!emulators) {
    std::cerr << "cannot start the emulators: " << emulators.error().message << "\n";
    return 1;
  }

  const int machines = (n + flags.alerts_per_machine - 1) / flags.alerts_per_machine;
  const TimePoint now = std::chrono::system_clock::now();
  const auto step = std::chrono::duration_cast<Millis>(std::chrono::minutes(30)) / n;
  Json alerts = Json::array();
  Json samples = Json::array();
  for (int i = 0; i < n; ++i) {
    const std::string sha256 = Sha256Hex(fmt::format("vc-bench in-flight file {}", i));
    const std::string file_name = fmt::format("payload-{}.exe", i);
    samples.push_back(
        {{"sha256", sha256}, {"filename", file_name}, {"verdict", "malicious"}, {"pending", true}});
    alerts.push_back(BenchAlert(i, BenchMachineId(i / flags.alerts_per_machine), sha256, file_name,
                                "C:\\Users\\bench\\Downloads",
                                now - std::chrono::minutes(40) + step * i));
  }
  Json machine_list = Json::array();
  for (int m = 0; m < machines; ++m) {
    machine_list.push_back(BenchMachine(BenchMachineId(m), Json::object()));
  }
  for (auto [service, seed] :
       {std::pair{"mde", Json{{"alerts", std::move(alerts)}, {"machines", machine_list}}},
        std::pair{"vmray", Json{{"samples", std::move(samples)}}}}) {
    if (auto s = Seed((*emulators)->Url(service), seed); !s) {
      std::cerr << "seeding the " << service << " emulator failed: " << s.error().message << "\n";
      return 1;
    }
  }

  auto before = FetchCallCounts((*emulators)->endpoints());
  if (!before) {
    std::cerr << before.error().message << "\n";
    return 1;
  }
  StoreProbe probe(dir.File("store.db"));
  ChildProcess connector;
  const EnvPairs env =
      ConnectorEnvironment(**emulators, common, dir,
                           {{"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS",
                             std::to_string(flags.analysis_poll_seconds)}});
  const auto start = std::chrono::steady_clock::now();
  if (auto s = connector.Start(common.connector, {"run"}, env, dir.File("connector.out")); !s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  std::cerr << "  connector pid " << connector.pid() << " (attach a profiler here)\n";
  auto ramp = WatchJobs(
      connector, probe,
      [&](const JobTally& t) { return t.total >= n && t.InState("analysing") >= n; }, start,
      Millis(flags.timeout_seconds * 1000LL));
  if (!ramp.reached) {
    std::cout << "\nThe jobs did not all reach `analysing`: " << ramp.problem
              << "\nLast lines of the log:\n"
              << TailOf(dir.File("connector.log"), 15);
    (void)connector.Stop();
    return 1;
  }
  auto ramp_end = connector.Sample();
  auto window_calls_before = FetchCallCounts((*emulators)->endpoints());
  if (!ramp_end || !window_calls_before) {
    std::cerr << "cannot read the connector's figures after the ramp\n";
    return 1;
  }

  // The waiting window: nothing to do but poll VMRay for 10,000 running submissions.
  const auto window_start = std::chrono::steady_clock::now();
  int64_t window_max_rss = ramp_end->rss_kib;
  while (SecondsSince(window_start) < flags.window_seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (!connector.Running()) break;
    if (auto s = connector.Sample()) window_max_rss = std::max(window_max_rss, s->rss_kib);
  }
  const double window = SecondsSince(window_start);
  auto window_end = connector.Sample();
  auto window_calls_after = FetchCallCounts((*emulators)->endpoints());
  auto tally = probe.Tally();
  auto usage = connector.Stop();
  if (!window_end || !window_calls_after || !tally || !usage) {
    std::cerr << "the connector stopped during the waiting window; its log:\n"
              << TailOf(dir.File("connector.log"), 15);
    return 1;
  }
  const CallCounts ramp_calls = window_calls_before->Since(*before);
  const CallCounts window_calls = window_calls_after->Since(*window_calls_before);
  const int64_t polls = window_calls.Route("vmray GET /rest/submission/{id}");
  const double window_cpu = window_end->cpu_ms - ramp_end->cpu_ms;
  const int64_t still_analysing = tally->InState("analysing");

  Table table(
      fmt::format("{} analyses in flight ({} workers, analysis poll every {} s, alert poll "
                  "every {} s, synchronous_full={})",
                  n, common.workers, flags.analysis_poll_seconds, common.alert_poll_seconds,
                  common.synchronous_full));
  table.Row("jobs in `analysing` at window start / end", fmt::format("{} / {}", n, still_analysing))
      .Row("ramp: connector start to all in `analysing`", fmt::format("{:.2f} s", ramp.seconds))
      .Row("ramp: connector CPU (per alert)",
           fmt::format("{:.0f} ms ({:.2f} ms)", ramp_end->cpu_ms, ramp_end->cpu_ms / n))
      .Row("ramp: API calls per alert",
           fmt::format("{:.2f}", static_cast<double>(ramp_calls.total) / n))
      .Row("RSS at window start", Mib(ramp_end->rss_kib))
      .Row("waiting window", fmt::format("{:.1f} s", window))
      .Row("waiting: connector CPU", fmt::format("{:.0f} ms ({:.1f} % of one core)", window_cpu,
                                                 100.0 * window_cpu / (window * 1000.0)))
      .Row("waiting: VMRay submission polls (per s)",
           fmt::format("{} ({:.0f}/s; {} in flight / {} s = {:.0f}/s expected)", polls,
                       static_cast<double>(polls) / window, n, flags.analysis_poll_seconds,
                       static_cast<double>(n) / flags.analysis_poll_seconds))
      .Row("waiting: CPU per submission poll",
           polls > 0 ? fmt::format("{:.3f} ms", window_cpu / static_cast<double>(polls)) : "-")
      .Row("waiting: all API calls (mde + vmray)",
           fmt::format("{} + {}", window_calls.Service("mde"), window_calls.Service("vmray")))
      .Row("RSS at window end / max sampled in window",
           fmt::format("{} / {}", Mib(window_end->rss_kib), Mib(window_max_rss)))
      .Row("connector threads", std::to_string(window_end->threads))
      .Row("peak RSS, whole run (VmHWM just before SIGTERM)", Mib(window_end->hwm_kib))
      .Row("connector CPU, whole run (user + sys)",
           fmt::format("{:.0f} ms ({:.0f} + {:.0f})", usage->cpu_ms(), usage->user_ms,
                       usage->sys_ms))
      .Row("requests the emulators rejected",
           std::to_string(window_calls_after->assertions - before->assertions));
  table.Print(std::cout);
  std::cout << "\n| API route (waiting window) | calls |\n|---|---:|\n";
  for (const auto& [route, count] : window_calls.routes) {
    std::cout << fmt::format("| {} | {} |\n", route, count);
  }
  std::cout << "\n"
            << TargetLine(
                   window_end->hwm_kib <= kMaxInFlightRssKib,
                   fmt::format("peak RSS with {} analyses in flight <= 100 MiB (measured {})", n,
                               Mib(window_end->hwm_kib)))
            << "\n";
  if (common.keep) std::cout << "\nScratch directory kept: " << dir.path() << "\n";
  (*emulators)->Stop();
  const bool held = still_analysing == n && window_calls_after->assertions == before->assertions;
  if (!held) std::cout << "\nCHECK FAILED: jobs left `analysing` or requests were rejected.\n";
  return held ? 0 : 1;
}

}  // namespace
}  // namespace vc::bench

int main(int argc, char** argv) {
  using namespace vc::bench;
  CLI::App app{
      "RSS and CPU of vmray-connector while analyses are in flight (jobs waiting in state "
      "analysing), against vmray-emulators"};
  Flags flags;
  flags.common.Add(app);
  AddBounded(app, "--analyses", flags.analyses, "Analyses in flight (one alert and file each)", 1,
             1'000'000);
  AddBounded(app, "--alerts-per-machine", flags.alerts_per_machine, "Alerts per device", 1,
             1'000'000);
  AddBounded(app, "--analysis-poll-seconds", flags.analysis_poll_seconds,
             "vmray.analysis_poll_interval_seconds", 1, 3600);
  AddBounded(app, "--window-seconds", flags.window_seconds, "How long to measure the waiting", 1,
             86'400);
  AddBounded(app, "--timeout-seconds", flags.timeout_seconds,
             "Give up when the jobs are not all analysing after this", 1, 86'400);
  CLI11_PARSE(app, argc, argv);
  return Run(flags);
}
