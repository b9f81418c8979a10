#include "ops_e2e_support.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "core/child_process.hpp"
#include "e2e_support.hpp"

namespace vc::e2e {

CapturedConnector::~CapturedConnector() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

bool CapturedConnector::Start(const std::vector<std::string>& args, const Env& env,
                              const std::string& dir, const std::string& name) {
  stdout_path_ = dir + "/" + name + ".stdout";
  stderr_path_ = dir + "/" + name + ".stderr";
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  env_s.push_back("PATH=/usr/bin:/bin");
  std::vector<std::string> argv{ConnectorBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  const int out = open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto pid = (out >= 0 && err >= 0)
                 ? SpawnChild(argv, env_s, ChildIo{.stdout_fd = out, .stderr_fd = err})
                 : Result<pid_t>(MakeError(ErrorCode::kInternal, "cannot create the output files"));
  if (out >= 0) close(out);
  if (err >= 0) close(err);
  pid_ = pid ? *pid : -1;
  return pid.has_value();
}

void CapturedConnector::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool CapturedConnector::WaitExit(std::chrono::milliseconds timeout, int* status) {
  if (pid_ <= 0) return false;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const pid_t done = waitpid(pid_, status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string CapturedConnector::Stdout() const {
  return ReadFile(stdout_path_);
}
std::string CapturedConnector::Stderr() const {
  return ReadFile(stderr_path_);
}

int WaitForOpsPort(const std::string& log_path, std::chrono::milliseconds timeout) {
  static const std::regex kLine(R"(ops listener on http://127\.0\.0\.1:(\d+))");
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    const std::string log = ReadFile(log_path);
    std::smatch m;
    if (std::regex_search(log, m, kLine)) return std::stoi(m[1].str());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

HttpResult HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

bool WaitForReady(int port, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (HttpGet(port, "/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

}  // namespace vc::e2e
