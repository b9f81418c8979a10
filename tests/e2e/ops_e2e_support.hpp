// Helpers for the end-to-end tests of the ops side: a `vmray-connector` child whose standard
// output and error are kept in files, the ops port read from the connector's log, and plain
// HTTP GETs against the ops listener.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace vc::e2e {

using Env = std::vector<std::pair<std::string, std::string>>;

class CapturedConnector {
 public:
  ~CapturedConnector();
  // `vmray-connector <args...>` with exactly `env` (plus PATH); stdout and stderr go to
  // <dir>/<name>.stdout and <dir>/<name>.stderr.
  bool Start(const std::vector<std::string>& args, const Env& env, const std::string& dir,
             const std::string& name);
  void Signal(int signal);
  // Waits up to `timeout` for the exit; true with the waitpid status when it exited.
  bool WaitExit(std::chrono::milliseconds timeout, int* status);
  std::string Stdout() const;
  std::string Stderr() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string stdout_path_;
  std::string stderr_path_;
};

// The port in the log line "ops listener on http://127.0.0.1:<port>"; 0 when none appeared in
// time.
int WaitForOpsPort(const std::string& log_path, std::chrono::milliseconds timeout);

struct HttpResult {
  int status = -1;  // -1: no answer
  std::string body;
};
HttpResult HttpGet(int port, const std::string& path);

// Polls /readyz until 200; false when the timeout passes first.
bool WaitForReady(int port, std::chrono::milliseconds timeout);

// The value of one Prometheus series in /metrics text ("name{labels}"), -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series);

}  // namespace vc::e2e
