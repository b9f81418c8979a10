#include "smtp_test_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vc::mail::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";  // where Debian's python3-aiosmtpd lives

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

SmtpTestServer::SmtpTestServer(const std::string& mode, const std::string& password) {
  char tmpl[] = "/tmp/vc-mail-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  int out[2];
  if (pipe(out) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // a crashed test must not leave a server behind
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(kPython, kPython, VC_MAIL_SERVER_SCRIPT, mode.c_str(), dir_.c_str(), password.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  pollfd pfd{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&pfd, 1, 15'000) > 0) {
    char buf[256];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  if (line.rfind("READY ", 0) == 0) {
    port_ = std::atoi(line.c_str() + 6);
    return;
  }
  if (line.rfind("MISSING-AIOSMTPD", 0) == 0 || access(kPython, X_OK) != 0) {
    ADD_FAILURE() << "python3-aiosmtpd is not installed for " << kPython
                  << ": run scripts/setup.sh (it installs the SMTP server these tests use)";
  } else {
    ADD_FAILURE() << "the test SMTP server (" << VC_MAIL_SERVER_SCRIPT << " " << mode
                  << ") did not start; it printed: " << line;
  }
}

SmtpTestServer::~SmtpTestServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SmtpTestServer::url() const {
  return "smtp://127.0.0.1:" + std::to_string(port_);
}

std::vector<nlohmann::json> SmtpTestServer::Messages() const {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<nlohmann::json> out;
  for (const auto& f : files) out.push_back(nlohmann::json::parse(ReadFile(f)));
  return out;
}

std::string SmtpTestServer::AuthLog() const {
  return ReadFile(std::filesystem::path(dir_) / "auth.log");
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace vc::mail::testing
