// bench-alert-throughput: the real vmray-connector binary against the real vmray-emulators
// binary (MDE limits off), each its own process, on two workloads:
//   known-hash  VMRay already knows every file: hash lookup, cached verdict, alert comment;
//   collection  every file is new: Live Response GetFile on the device, download, submit,
//               analysis polls, verdict, alert comment.
// It prints alerts/s, connector CPU per alert, API calls per alert and peak RSS, and whether the
// targets of the issue are met. Completion is read from the connector's store (read-only).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "bench_setup.hpp"
#include "cli_options.hpp"
#include "connector_watch.hpp"
#include "core/base64.hpp"
#include "core/hash.hpp"
#include "emulator_stats.hpp"

namespace vc::bench {
namespace {

// Targets of the issue ("Speed is measured"), for this 2-core machine.
constexpr double kMinKnownAlertsPerSecond = 300;
constexpr double kMaxCpuMsPerAlert = 3;
constexpr int64_t kMaxPeakRssKib = 64 * 1024;

constexpr std::string_view kEicar =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct Flags {
  CommonFlags common;
  int known = 10'000;
  int collect = 1'000;
  std::string only = "both";
  int known_alerts_per_machine = 10;
  int collect_alerts_per_machine = 1;
  int file_bytes = 4096;
  int finish_after_polls = 2;
  int timeout_seconds = 3600;
};

struct Outcome {
  std::string name;
  int alerts = 0;
  bool settled = false;
  bool correct = false;
  double seconds = 0;
  double cpu_ms = 0;
  int64_t peak_rss_kib = 0;
  double calls_per_alert = 0;
};

// The content of collected file i: unique, `size` bytes; every tenth one carries the EICAR
// string so the verdicts are a mix of malicious and clean.
std::string CollectedFile(int i, int size) {
  std::string content = fmt::format("MZ vc-bench collected file {}\n", i);
  if (i % 10 == 0) content += std::string(kEicar) + "\n";
  const size_t header = content.size();
  while (content.size() < static_cast<size_t>(size)) {
    content += fmt::format("{:08x}", static_cast<uint32_t>(content.size() * 2654435761u + i));
  }
  content.resize(std::max(header, static_cast<size_t>(size)));
  return content;
}

Outcome RunScenario(const std::string& name, int alerts, bool collect, const Flags& flags) {
  Outcome o;
  o.name = name;
  o.alerts = alerts;
  const CommonFlags& common = flags.common;
  std::cout << fmt::format("\n## {}: {} alerts\n", name, alerts) << std::flush;

  WorkDir dir(common.work_root, name, common.keep);
  const Json emulator_options = {
      {"vmray",
       {{"finish_after_polls", flags.finish_after_polls}, {"page_size", common.vmray_page_size}}},
      {"mde", {{"enforce_limits", false}}}};
  auto emulators = StartEmulators(common.emulators, dir, emulator_options);
  if (!emulators) {
    std::cerr << "cannot start the emulators: " << emulators.error().message << "\n";
    return o;
  }

  // Seeds: alerts created over the 30 minutes up to 10 minutes ago (inside the first poll's
  // 60-minute lookback), one file each, spread over machines.
  const int per_machine =
      collect ? flags.collect_alerts_per_machine : flags.known_alerts_per_machine;
  const int machines = (alerts + per_machine - 1) / per_machine;
  const TimePoint now = std::chrono::system_clock::now();
  const auto step = std::chrono::duration_cast<Millis>(std::chrono::minutes(30)) / alerts;
  Json mde_alerts = Json::array();
  std::vector<Json> machine_files(machines, Json::object());
  Json vmray_samples = Json::array();
  const std::string dir_path = "C:\\Users\\bench\\Downloads";
  for (int i = 0; i < alerts; ++i) {
    const int m = i / per_machine;
    const std::string file_name = fmt::format("payload-{}.exe", i);
    std::string sha256;
    if (collect) {
      const std::string content = CollectedFile(i, flags.file_bytes);
      sha256 = Sha256Hex(content);
      machine_files[m][dir_path + "\\" + file_name] = Base64Encode(content);
    } else {
      sha256 = Sha256Hex(fmt::format("vc-bench known file {}", i));
      static const char* kVerdicts[] = {"malicious", "suspicious", "clean"};
      vmray_samples.push_back(
          {{"sha256", sha256}, {"filename", file_name}, {"verdict", kVerdicts[i % 3]}});
    }
    const TimePoint created = now - std::chrono::minutes(40) + step * i;
    mde_alerts.push_back(BenchAlert(i, BenchMachineId(m), sha256, file_name, dir_path, created));
  }
  Json mde_machines = Json::array();
  for (int m = 0; m < machines; ++m) {
    mde_machines.push_back(BenchMachine(BenchMachineId(m), machine_files[m]));
  }
  const auto seed_start = std::chrono::steady_clock::now();
  for (auto [service, seed] :
       {std::pair{"mde", Json{{"alerts", std::move(mde_alerts)}, {"machines", mde_machines}}},
        std::pair{"vmray", Json{{"samples", std::move(vmray_samples)}}}}) {
    if (auto s = Seed((*emulators)->Url(service), seed); !s) {
      std::cerr << "seeding the " << service << " emulator failed: " << s.error().message << "\n";
      return o;
    }
  }
  std::cerr << fmt::format("  seeded {} alerts on {} machines in {:.1f} s\n", alerts, machines,
                           SecondsSince(seed_start));

  auto before = FetchCallCounts((*emulators)->endpoints());
  if (!before) {
    std::cerr << before.error().message << "\n";
    return o;
  }

  StoreProbe probe(dir.File("store.db"));
  ChildProcess connector;
  const EnvPairs env = ConnectorEnvironment(**emulators, common, dir, {});
  const auto start = std::chrono::steady_clock::now();
  if (auto s = connector.Start(common.connector, {"run"}, env, dir.File("connector.out")); !s) {
    std::cerr << s.error().message << "\n";
    return o;
  }
  std::cerr << "  connector pid " << connector.pid() << " (attach a profiler here)\n";
  double admitted_at = 0;
  auto watch = WatchJobs(
      connector, probe,
      [&](const JobTally& t) {
        if (admitted_at == 0 && t.total >= alerts) admitted_at = SecondsSince(start);
        return t.total >= alerts && t.open == 0;
      },
      start, Millis(flags.timeout_seconds * 1000LL));
  int64_t hwm_kib = 0;
  if (auto s = connector.Sample()) hwm_kib = s->hwm_kib;
  auto usage = connector.Stop();
  auto after = FetchCallCounts((*emulators)->endpoints());
  if (!usage || !after) {
    std::cerr << "cannot collect the figures: "
              << (!usage ? usage.error().message : after.error().message) << "\n";
    return o;
  }
  const CallCounts calls = after->Since(*before);
  o.settled = watch.reached;
  o.seconds = watch.seconds;
  o.cpu_ms = usage->cpu_ms();
  // VmHWM, not ru_maxrss: Linux carries the spawning process's peak over exec into ru_maxrss,
  // and this process holds the whole seed when it spawns the connector.
  o.peak_rss_kib = hwm_kib;
  o.calls_per_alert = static_cast<double>(calls.total) / alerts;

  const int64_t done = watch.tally.InState("done");
  const int64_t submits = calls.Route("vmray POST /rest/sample/submit");
  const int64_t sessions = calls.Route("mde POST /api/machines/{id}/runliveresponse");
  const int64_t comments = calls.Route("mde PATCH /api/alerts/{id}");
  o.correct = o.settled && done == alerts && comments == alerts && calls.assertions == 0 &&
              submits == (collect ? alerts : 0) && (collect || sessions == 0);

  std::string states;
  for (const auto& [state, n] : watch.tally.by_state) {
    states += fmt::format("{}{} {}", states.empty() ? "" : ", ", n, state);
  }
  const double per_alert = static_cast<double>(alerts);
  Table table(fmt::format("{} ({} alerts, {} workers, synchronous_full={}, page_size={})", name,
                          alerts, common.workers, common.synchronous_full, common.page_size));
  table.Row("alerts (one file each) / machines", fmt::format("{} / {}", alerts, machines))
      .Row("jobs at the end", states.empty() ? "none" : states)
      .Row("wall time, connector start to all settled",
           fmt::format("{:.2f} s{}", o.seconds, o.settled ? "" : " (NOT SETTLED)"))
      .Row("  of which first poll admitted every alert", fmt::format("{:.2f} s", admitted_at))
      .Row("alerts/s", fmt::format("{:.1f}", per_alert / o.seconds))
      .Row("connector CPU, user + sys (whole run)",
           fmt::format("{:.0f} ms ({:.0f} + {:.0f})", o.cpu_ms, usage->user_ms, usage->sys_ms))
      .Row("connector CPU per alert", fmt::format("{:.2f} ms", o.cpu_ms / per_alert))
      .Row("connector CPU use over the run",
           fmt::format("{:.0f} % of one core", 100.0 * o.cpu_ms / (o.seconds * 1000.0)))
      .Row("peak RSS (VmHWM just before SIGTERM)", Mib(o.peak_rss_kib))
      .Row("max VmRSS sampled every 100 ms", Mib(watch.max_rss_kib))
      .Row("API calls (entra + mde + vmray)",
           fmt::format("{} ({} + {} + {})", calls.total, calls.Service("entra"),
                       calls.Service("mde"), calls.Service("vmray")))
      .Row("API calls per alert", fmt::format("{:.2f}", o.calls_per_alert))
      .Row("VMRay submissions / Live Response sessions / comments",
           fmt::format("{} / {} / {}", submits, sessions, comments))
      .Row("requests the emulators rejected", std::to_string(calls.assertions))
      .Row("connector exit", usage->term_signal ? fmt::format("signal {}", usage->term_signal)
                                                : fmt::format("code {}", usage->exit_code));
  table.Print(std::cout);

  std::cout << "\n| API route | calls | per alert |\n|---|---:|---:|\n";
  for (const auto& [route, n] : calls.routes) {
    std::cout << fmt::format("| {} | {} | {:.2f} |\n", route, n, n / per_alert);
  }
  if (!watch.reached) {
    std::cout << "\nThe run did not settle: " << watch.problem << "\nLast lines of the log:\n"
              << TailOf(dir.File("connector.log"), 15) << TailOf(dir.File("connector.out"), 5);
  } else if (!o.correct) {
    std::cout << "\nCHECK FAILED: expected every job done, one comment per alert, "
              << (collect ? "one submission per file" : "no submission and no Live Response")
              << " and no rejected request.\n";
  }
  std::cout << "\n";
  if (!collect) {
    std::cout << TargetLine(per_alert / o.seconds >= kMinKnownAlertsPerSecond,
                            fmt::format("known-hash alerts/s >= {:.0f} (measured {:.1f})",
                                        kMinKnownAlertsPerSecond, per_alert / o.seconds))
              << "\n";
  }
  std::cout << TargetLine(o.cpu_ms / per_alert <= kMaxCpuMsPerAlert,
                          fmt::format("connector CPU per alert <= {:.0f} ms (measured {:.2f} ms)",
                                      kMaxCpuMsPerAlert, o.cpu_ms / per_alert))
            << "\n"
            << TargetLine(o.peak_rss_kib <= kMaxPeakRssKib,
                          fmt::format("peak RSS <= 64 MiB (measured {})", Mib(o.peak_rss_kib)))
            << "\n";
  if (common.keep) std::cout << "\nScratch directory kept: " << dir.path() << "\n";
  std::cout << std::flush;
  (*emulators)->Stop();
  return o;
}

}  // namespace
}  // namespace vc::bench

int main(int argc, char** argv) {
  using namespace vc::bench;
  CLI::App app{
      "Alert throughput of vmray-connector against vmray-emulators: known-hash and collection "
      "workloads; prints alerts/s, CPU per alert, API calls per alert and peak RSS"};
  Flags flags;
  flags.common.Add(app);
  AddBounded(app, "--known", flags.known, "Alerts on the known-hash path", 1, 1'000'000);
  AddBounded(app, "--collect", flags.collect, "Alerts that need collection and submission", 1,
             1'000'000);
  app.add_option("--only", flags.only, "Which workload to run")
      ->check(CLI::IsMember({"both", "known", "collect"}))
      ->capture_default_str();
  AddBounded(app, "--known-alerts-per-machine", flags.known_alerts_per_machine,
             "Known-hash alerts per device", 1, 1'000'000);
  AddBounded(app, "--collect-alerts-per-machine", flags.collect_alerts_per_machine,
             "Collection alerts per device (MDE runs one Live Response per device at a time)", 1,
             1'000'000);
  AddBounded(app, "--file-bytes", flags.file_bytes, "Size of each collected file", 64, 100'000'000);
  AddBounded(app, "--finish-after-polls", flags.finish_after_polls,
             "VMRay emulator: submission polls until an analysis finishes", 1, 1'000'000);
  AddBounded(app, "--timeout-seconds", flags.timeout_seconds, "Give up on a workload after this", 1,
             86'400);
  CLI11_PARSE(app, argc, argv);

  std::cout << "# bench-alert-throughput\n\n"
            << "- when: " << Now() << "\n- machine: " << MachineLine() << "\n";
  std::vector<Outcome> outcomes;
  if (flags.only != "collect") {
    outcomes.push_back(RunScenario("known-hash", flags.known, false, flags));
  }
  if (flags.only != "known") {
    outcomes.push_back(RunScenario("collection", flags.collect, true, flags));
  }
  bool ok = true;
  for (const auto& o : outcomes) ok = ok && o.settled && o.correct;
  return ok ? 0 : 1;
}
