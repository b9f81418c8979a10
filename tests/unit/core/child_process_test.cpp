#include "core/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace vc {
namespace {

// Everything the child wrote to the read end, until it closes.
std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

int WaitFor(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

TEST(ChildProcess, RunsWithTheGivenArgumentsEnvironmentAndStdout) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  auto pid = SpawnChild({"/bin/sh", "-c", "echo \"$1:$GREETING\"", "sh", "argument"},
                        std::vector<std::string>{"GREETING=hello"}, ChildIo{.stdout_fd = out[1]});
  close(out[1]);
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_EQ(ReadAll(out[0]), "argument:hello\n");
  close(out[0]);
  const int status = WaitFor(*pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ChildProcess, OnlyTheGivenEnvironmentReachesTheChild) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  auto pid = SpawnChild({"/usr/bin/env"}, std::vector<std::string>{"ONLY=this"},
                        ChildIo{.stdout_fd = out[1]});
  close(out[1]);
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_EQ(ReadAll(out[0]), "ONLY=this\n");
  close(out[0]);
  WaitFor(*pid);
}

TEST(ChildProcess, AMissingProgramIsAnErrorNamingIt) {
  auto pid = SpawnChild({"/nonexistent/vmray-emulators", "--x"}, std::nullopt);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().code, ErrorCode::kNotFound);
  EXPECT_NE(pid.error().message.find("/nonexistent/vmray-emulators"), std::string::npos);
  EXPECT_NE(pid.error().message.find("No such file"), std::string::npos) << pid.error().message;
}

// The property the end-to-end tests rely on: when the starter goes away without cleaning up, the
// child goes too (here the starting thread ends; a crashed test process is the same signal).
TEST(ChildProcess, TheChildIsKilledWhenItsStarterEnds) {
  pid_t child = -1;
  std::thread starter([&] {
    auto pid = SpawnChild({"/bin/sleep", "60"}, std::nullopt);
    ASSERT_TRUE(pid) << pid.error().message;
    child = *pid;
  });
  starter.join();
  ASSERT_GT(child, 0);
  const auto start = std::chrono::steady_clock::now();
  const int status = WaitFor(child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace vc
