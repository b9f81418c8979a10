#include "app/azurite_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "core/child_process.hpp"
#include "http/curl_transport.hpp"

namespace vc::app {
namespace {

constexpr std::string_view kListenLine = "successfully listens on http://127.0.0.1:";
// Node starts in under a second on an idle machine; parallel test runs on two shared cores are
// far slower, so the limit is generous (it only matters when something is broken).
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(10);

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<int> ListenPort(const std::string& output) {
  const size_t at = output.find(kListenLine);
  if (at == std::string::npos) return std::nullopt;
  size_t pos = at + kListenLine.size();
  int port = 0;
  size_t digits = 0;
  while (pos < output.size() && output[pos] >= '0' && output[pos] <= '9' && digits < 6) {
    port = port * 10 + (output[pos] - '0');
    ++pos;
    ++digits;
  }
  // The line must be complete, or a port still being written could be read half.
  if (digits == 0 || pos >= output.size() || (output[pos] != '\n' && output[pos] != '\r')) {
    return std::nullopt;
  }
  return port;
}

Error Failure(std::string message) {
  return MakeError(ErrorCode::kUnavailable, std::move(message));
}

}  // namespace

AzuriteProcess::~AzuriteProcess() {
  Stop();
}

Status AzuriteProcess::Start(const std::string& binary) {
  if (pid_ > 0) return MakeError(ErrorCode::kInternal, "Azurite is already running");
  char path_template[] = "/tmp/vc-azurite-XXXXXX";
  const int log_fd = mkstemp(path_template);
  if (log_fd < 0) return Failure("cannot create a log file for Azurite in /tmp");
  log_path_ = path_template;

  std::vector<std::string> args = {
      binary, "--blobHost", "127.0.0.1",
      // 0: the system picks a free port and Azurite prints it, so parallel tests never collide.
      "--blobPort", "0",
      // Nothing on disk: every test process starts from an empty account.
      "--inMemoryPersistence", "--extentMemoryLimit", "256",
      // Azurite otherwise sends usage telemetry to Application Insights; tests stay local.
      "--disableTelemetry",
      // No access log: the output is read only for the listening line and failure messages.
      "--silent"};
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto pid = SpawnChild(args, std::nullopt,
                        ChildIo{.stdin_fd = null_fd, .stdout_fd = log_fd, .stderr_fd = log_fd});
  if (null_fd >= 0) close(null_fd);
  if (!pid) {
    close(log_fd);
    return Failure("cannot start Azurite: " + pid.error().message);
  }
  close(log_fd);
  pid_ = *pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Failure("Azurite (" + binary + ") exited during start-up; its output:\n" + Output());
    }
    if (auto port = ListenPort(Output())) {
      port_ = *port;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string output = Output();
      Stop();
      return Failure("Azurite did not report a listening port within 60 s; its output:\n" + output);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // Listening is announced after bind; one answered request proves the HTTP stack is up too.
  http::CurlTransport transport({});
  http::Request probe;
  probe.url = BlobEndpoint() + "?comp=list";
  probe.service = "azurite";
  while (true) {
    auto answer = transport.Send(probe);
    if (answer && answer->status > 0) return Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string output = Output();
      Stop();
      return Failure("Azurite listens on port " + std::to_string(port_) +
                     " but does not answer HTTP; its output:\n" + output);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void AzuriteProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }
  if (!log_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(log_path_, ec);
    log_path_.clear();
  }
}

std::string AzuriteProcess::BlobEndpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" +
         std::string(blob::kDevStoreAccountName);
}

std::string AzuriteProcess::ConnectionString() const {
  return "DefaultEndpointsProtocol=http;AccountName=" + std::string(blob::kDevStoreAccountName) +
         ";AccountKey=" + std::string(blob::kDevStoreAccountKey) +
         ";BlobEndpoint=" + BlobEndpoint() + ";";
}

blob::StorageAccount AzuriteProcess::Account() const {
  blob::StorageAccount account;
  account.name = std::string(blob::kDevStoreAccountName);
  account.key = Secret<std::string>(std::string(blob::kDevStoreAccountKey));
  account.blob_endpoint = BlobEndpoint();
  return account;
}

std::string AzuriteProcess::Output() const {
  return log_path_.empty() ? std::string() : ReadWhole(log_path_);
}

}  // namespace vc::app
