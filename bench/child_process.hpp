// The connector under measurement runs as its own process, so the CPU time and memory figures
// are its own and not the benchmark's or the emulators'. This file starts it with a clean
// environment, reads its counters from /proc while it runs, and collects wait4() usage at exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace vc::bench {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

// What the kernel accounted for a child that has exited (wait4).
struct Usage {
  double user_ms = 0;
  double sys_ms = 0;
  // ru_maxrss. Not the child's own peak when the spawner was bigger: Linux keeps the larger of
  // the pre-exec (spawner's) and post-exec high-water marks. Use ProcSample::hwm_kib for that.
  int64_t max_rss_kib = 0;
  int exit_code = -1;  // -1 when it ended by a signal
  int term_signal = 0;
  double cpu_ms() const { return user_ms + sys_ms; }
};

// A live process as /proc shows it.
struct ProcSample {
  double cpu_ms = 0;    // utime + stime so far
  int64_t rss_kib = 0;  // VmRSS
  int64_t hwm_kib = 0;  // VmHWM: peak RSS so far
  int64_t threads = 0;  // Threads
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `binary args...` with exactly `env` as its environment; stdout and stderr go to
  // `output_path`.
  Status Start(const std::string& binary, const std::vector<std::string>& args, const EnvPairs& env,
               const std::string& output_path);
  pid_t pid() const { return pid_; }
  // False once the process has exited (it is then reaped; Stop() returns its usage).
  bool Running();
  Result<ProcSample> Sample() const;
  // SIGTERM, then waits up to `grace` before SIGKILL; returns the kernel's accounting.
  Result<Usage> Stop(Millis grace = Millis(60'000));

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  Usage usage_;
};

}  // namespace vc::bench
