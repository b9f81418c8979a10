#include "core/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace vc {
namespace {

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> SpawnChild(const std::vector<std::string>& argv,
                         const std::optional<std::vector<std::string>>& env, ChildIo io) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "no program to start");
  // Everything the child needs is built before fork: in a multi-threaded parent the child may
  // only make async-signal-safe calls until execve.
  std::vector<std::string> argv_copy = argv;
  std::vector<std::string> env_copy = env.value_or(std::vector<std::string>{});
  std::vector<char*> argv_p = Pointers(argv_copy);
  std::vector<char*> env_p = Pointers(env_copy);
  char** envp = env ? env_p.data() : environ;
  // The child reports a failed execve through this close-on-exec pipe, so a wrong path is an
  // error here rather than a child that exits with 127 later.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, std::string("pipe2() failed: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(report[0]);
    close(report[1]);
    return MakeError(ErrorCode::kInternal, std::string("fork() failed: ") + std::strerror(err));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork and prctl; then no signal would ever come.
    if (getppid() != parent) _exit(127);
    if (io.stdin_fd >= 0) dup2(io.stdin_fd, STDIN_FILENO);
    if (io.stdout_fd >= 0) dup2(io.stdout_fd, STDOUT_FILENO);
    if (io.stderr_fd >= 0) dup2(io.stderr_fd, STDERR_FILENO);
    execve(argv_p[0], argv_p.data(), envp);
    const int err = errno;
    (void)!write(report[1], &err, sizeof err);
    _exit(127);
  }
  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return MakeError(ErrorCode::kNotFound,
                     "cannot start " + argv[0] + ": " + std::strerror(child_errno));
  }
  return pid;
}

}  // namespace vc
