#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace vc::bench {
namespace {

double TimevalMs(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
}

Usage FromRusage(int status, const rusage& ru) {
  Usage u;
  u.user_ms = TimevalMs(ru.ru_utime);
  u.sys_ms = TimevalMs(ru.ru_stime);
  u.max_rss_kib = ru.ru_maxrss;  // Linux reports kilobytes
  if (WIFEXITED(status)) u.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) u.term_signal = WTERMSIG(status);
  return u;
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) (void)Stop(Millis(5'000));
}

Status ChildProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                           const EnvPairs& env, const std::string& output_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return MakeError(ErrorCode::kNotFound,
                     "cannot start " + binary + ": " + std::strerror(rc) +
                         " (build it first, or pass its path with --connector/--emulators)");
  }
  exited_ = false;
  return Ok();
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  rusage ru{};
  const pid_t r = wait4(pid_, &status, WNOHANG, &ru);
  if (r == pid_) {
    exited_ = true;
    usage_ = FromRusage(status, ru);
    return false;
  }
  return true;
}

Result<ProcSample> ChildProcess::Sample() const {
  if (pid_ <= 0 || exited_) return MakeError(ErrorCode::kNotFound, "the process is not running");
  ProcSample s;
  {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const size_t close = text.rfind(')');
    if (close == std::string::npos) {
      return MakeError(ErrorCode::kNotFound, "cannot read /proc/<pid>/stat");
    }
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    // After the name: state(3) ... utime(14) stime(15); the stream starts at field 3.
    double utime = 0, stime = 0;
    for (int index = 3; index <= 15 && fields >> field; ++index) {
      if (index == 14) utime = std::stod(field);
      if (index == 15) stime = std::stod(field);
    }
    const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_ms = (utime + stime) * tick_ms;
  }
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    auto value = [&](const char* key) -> std::optional<int64_t> {
      const size_t n = std::strlen(key);
      if (line.compare(0, n, key) != 0) return std::nullopt;
      return std::stoll(line.substr(n));
    };
    if (auto v = value("VmRSS:")) s.rss_kib = *v;
    if (auto v = value("VmHWM:")) s.hwm_kib = *v;
    if (auto v = value("Threads:")) s.threads = *v;
  }
  return s;
}

Result<Usage> ChildProcess::Stop(Millis grace) {
  if (pid_ <= 0) return MakeError(ErrorCode::kNotFound, "the process was never started");
  if (exited_) return usage_;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  rusage ru{};
  for (;;) {
    const pid_t r = wait4(pid_, &status, WNOHANG, &ru);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      return MakeError(ErrorCode::kInternal, std::string("wait4 failed: ") + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      wait4(pid_, &status, 0, &ru);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  exited_ = true;
  usage_ = FromRusage(status, ru);
  return usage_;
}

}  // namespace vc::bench
