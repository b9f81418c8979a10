// bench-ops-endpoints: what the ops side costs. (1) The daemon idle against the emulators with
// nothing to do: start-up time to ready (/readyz 200), then CPU and RSS over a quiet window.
// (2) A store seeded with 100,000 jobs through the Store API before the daemon starts: start-up
// to ready, and the latency and size of /metrics and /status, each requested many times.
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <thread>

#include "bench_setup.hpp"
#include "core/json.hpp"
#include "store/store.hpp"

namespace vc::bench {
namespace {

constexpr double kIdleCpuTargetPercent = 1.0;
constexpr int64_t kIdleRssTargetKib = 32 * 1024;
constexpr double kReadyTargetMs = 200;

struct Flags {
  CommonFlags common;
  int jobs = 100'000;
  int idle_window_seconds = 60;
  int settle_seconds = 5;
  int requests = 100;
};

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

// A port free right now (the kernel's pick), so the benchmark knows it before the daemon logs.
int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(s);
  return port;
}

// Milliseconds from `start` until /readyz answers 200 (polled every millisecond); -1 on timeout.
double TimeToReady(ChildProcess& child, int port, Steady::time_point start, Millis timeout) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(0, 200'000);
  while (MsSince(start) < static_cast<double>(timeout.count())) {
    if (!child.Running()) return -1;
    auto res = client.Get("/readyz");
    if (res && res->status == 200) return MsSince(start);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return -1;
}

struct Latency {
  double p50 = 0, p95 = 0, max = 0;
  size_t bytes = 0;
  int failures = 0;
};

Latency Measure(int port, const std::string& path, int requests) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  std::vector<double> ms;
  Latency l;
  for (int i = 0; i < requests; ++i) {
    const auto t = Steady::now();
    auto res = client.Get(path.c_str());
    ms.push_back(MsSince(t));
    if (!res || res->status != 200) {
      ++l.failures;
      continue;
    }
    l.bytes = res->body.size();
  }
  std::sort(ms.begin(), ms.end());
  l.p50 = ms[ms.size() / 2];
  l.p95 = ms[std::min(ms.size() - 1, ms.size() * 95 / 100)];
  l.max = ms.back();
  return l;
}

std::string Payload(int i, const std::string& sha256) {
  return Json{{"alert_id", fmt::format("da63800{:013d}_{}", i, i % 7)},
              {"alert_title", "Suspicious file downloaded"},
              {"file_name", fmt::format("invoice-{}.exe", i)},
              {"file_path", "C:\\Users\\alice\\Downloads"},
              {"machine_id", BenchMachineId(i % 1000)},
              {"sha256", sha256}}
      .dump();
}

// 100,000 jobs as a long-running connector would leave them: most done, some failed with a
// reason, the rest waiting (analyses, devices, shared files) with their next attempt a day away,
// so the daemon under measurement has nothing due.
Status SeedStore(const std::string& path, int jobs) {
  ManualClock clock(std::chrono::system_clock::now() - std::chrono::hours(1));
  VC_ASSIGN_OR_RETURN(auto store, store::OpenSqliteStore({path, false}, clock));
  const TimePoint now = clock.Now();
  const TimePoint later = now + std::chrono::hours(25);
  constexpr int kBatch = 5'000;
  for (int first = 0; first < jobs; first += kBatch) {
    std::vector<store::NewJob> batch;
    for (int i = first; i < std::min(jobs, first + kBatch); ++i) {
      const std::string sha = fmt::format("{:064x}", i);
      const int slot = i % 10;  // 0-6 done, 7 failed, 8 analysing, 9 collection_pending
      batch.push_back({"defender_evidence", fmt::format("mde:alert-{}:{}", i, sha),
                       slot == 8   ? "analysing"
                       : slot == 9 ? "collection_pending"
                                   : "new",
                       Payload(i, sha), sha, slot >= 8 ? later : now});
    }
    auto inserted = store->InsertJobs(batch);
    if (!inserted) return inserted.error();
    // The "new" ones are due now: lease them and write their final state.
    while (true) {
      VC_ASSIGN_OR_RETURN(auto leased,
                          store->LeaseDueJobs(now, "bench-seed", Millis(60'000), 1000));
      if (leased.empty()) break;
      for (const auto& j : leased) {
        const bool failed = j.id % 10 == 8;  // ids start at 1: id % 10 == 8 is i % 10 == 7
        VC_RETURN_IF_ERROR(store->UpdateJob(
            {j.id, "bench-seed", failed ? "failed" : "done",
             failed ? "running Live Response failed 5 times, giving up: Unavailable [mde http=503 "
                      "request-id=4c1d2e0f]: the device did not answer"
                    : "comment written",
             std::nullopt, failed ? 5 : 0, true, now}));
      }
    }
    for (int i = first; i < std::min(jobs, first + kBatch); i += 3) {
      store::Sample s;
      s.sha256 = fmt::format("{:064x}", i);
      s.state = "finished";
      s.verdict = i % 2 ? "malicious" : "clean";
      s.updated_at = now;
      VC_RETURN_IF_ERROR(store->PutSample(s));
    }
  }
  return Ok();
}

int Run(const Flags& flags) {
  std::cout << "# bench-ops-endpoints\n\n" << MachineLine() << "\n" << Now() << "\n\n";
  WorkDir idle_dir(flags.common.work_root, "ops-idle", flags.common.keep);
  auto emulators = StartEmulators(flags.common.emulators, idle_dir, Json::object());
  if (!emulators) {
    std::cerr << emulators.error().message << "\n";
    return 1;
  }
  bool ok = true;

  // (1) Idle.
  double ready_ms = -1;
  double idle_cpu_percent = 0;
  ProcSample idle_sample;
  {
    const int port = FreePort();
    ChildProcess connector;
    const auto env =
        ConnectorEnvironment(**emulators, flags.common, idle_dir,
                             {{"VMRAY_CONNECTOR_OPS_LISTEN", fmt::format("127.0.0.1:{}", port)}});
    const auto start = Steady::now();
    if (auto s = connector.Start(flags.common.connector, {"run"}, env, idle_dir.File("out.txt"));
        !s) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
    ready_ms = TimeToReady(connector, port, start, Millis(30'000));
    if (ready_ms < 0) {
      std::cerr << "the idle connector never became ready\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(flags.settle_seconds));
    auto before = connector.Sample();
    std::this_thread::sleep_for(std::chrono::seconds(flags.idle_window_seconds));
    auto after = connector.Sample();
    if (!before || !after) {
      std::cerr << "cannot read /proc for the connector\n";
      return 1;
    }
    idle_cpu_percent =
        (after->cpu_ms - before->cpu_ms) / (flags.idle_window_seconds * 1000.0) * 100.0;
    idle_sample = *after;
    (void)connector.Stop();
  }
  Table idle("Idle daemon (emulators up, no alerts, shipped defaults)");
  idle.Row("start-up to /readyz 200", fmt::format("{:.0f} ms", ready_ms))
      .Row(fmt::format("CPU over {} s idle", flags.idle_window_seconds),
           fmt::format("{:.3f} % of one core", idle_cpu_percent))
      .Row("RSS (VmRSS) at the end", Mib(idle_sample.rss_kib))
      .Row("peak RSS (VmHWM)", Mib(idle_sample.hwm_kib))
      .Row("threads", std::to_string(idle_sample.threads));
  idle.Print(std::cout);

  // (2) 100,000 jobs.
  WorkDir big_dir(flags.common.work_root, "ops-100k", flags.common.keep);
  const auto seed_start = Steady::now();
  if (auto s = SeedStore(big_dir.File("store.db"), flags.jobs); !s) {
    std::cerr << "seeding the store failed: " << s.error().ToString() << "\n";
    return 1;
  }
  const double seed_s = MsSince(seed_start) / 1000;
  Latency metrics, status;
  double big_ready_ms = -1;
  ProcSample big_sample;
  {
    const int port = FreePort();
    ChildProcess connector;
    const auto env =
        ConnectorEnvironment(**emulators, flags.common, big_dir,
                             {{"VMRAY_CONNECTOR_OPS_LISTEN", fmt::format("127.0.0.1:{}", port)}});
    const auto start = Steady::now();
    if (auto s = connector.Start(flags.common.connector, {"run"}, env, big_dir.File("out.txt"));
        !s) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
    big_ready_ms = TimeToReady(connector, port, start, Millis(60'000));
    if (big_ready_ms < 0) {
      std::cerr << "the connector with 100,000 jobs never became ready\n";
      return 1;
    }
    metrics = Measure(port, "/metrics", flags.requests);
    status = Measure(port, "/status", flags.requests);
    if (auto s = connector.Sample()) big_sample = *s;
    (void)connector.Stop();
  }
  Table big(fmt::format("{} jobs in the store ({:.0f} s to seed through the Store API)", flags.jobs,
                        seed_s));
  big.Row("start-up to /readyz 200", fmt::format("{:.0f} ms", big_ready_ms))
      .Row(fmt::format("/metrics latency p50 / p95 / max ({} requests)", flags.requests),
           fmt::format("{:.1f} / {:.1f} / {:.1f} ms", metrics.p50, metrics.p95, metrics.max))
      .Row("/metrics size", fmt::format("{:.1f} KiB", metrics.bytes / 1024.0))
      .Row(fmt::format("/status latency p50 / p95 / max ({} requests)", flags.requests),
           fmt::format("{:.1f} / {:.1f} / {:.1f} ms", status.p50, status.p95, status.max))
      .Row("/status size", fmt::format("{:.1f} KiB", status.bytes / 1024.0))
      .Row("RSS after the requests", Mib(big_sample.rss_kib))
      .Row("failed requests", std::to_string(metrics.failures + status.failures));
  big.Print(std::cout);
  ok = ok && metrics.failures == 0 && status.failures == 0;

  std::cout << TargetLine(idle_cpu_percent < kIdleCpuTargetPercent,
                          fmt::format("idle CPU under {} % of one core", kIdleCpuTargetPercent))
            << "\n"
            << TargetLine(idle_sample.hwm_kib <= kIdleRssTargetKib, "idle peak RSS at most 32 MiB")
            << "\n"
            << TargetLine(ready_ms < kReadyTargetMs, "start-up to ready under 200 ms") << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace vc::bench

int main(int argc, char** argv) {
  vc::bench::Flags flags;
  flags.common.workers = 8;  // the shipped default: this measures the daemon as installed
  CLI::App app{"bench-ops-endpoints: idle cost, start-up to ready, /metrics and /status latency"};
  flags.common.Add(app);
  app.add_option("--jobs", flags.jobs, "Jobs seeded into the store for the latency runs");
  app.add_option("--idle-window", flags.idle_window_seconds, "Seconds of idle CPU measurement");
  app.add_option("--requests", flags.requests, "Requests per endpoint");
  CLI11_PARSE(app, argc, argv);
  return vc::bench::Run(flags);
}
