#include "app/emulator_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/child_process.hpp"
#include "http/curl_transport.hpp"

namespace vc::app {

EmulatorProcess::~EmulatorProcess() {
  Stop();
}

Status EmulatorProcess::Start(const std::string& binary, const std::vector<std::string>& args) {
  int out[2];
  // Close-on-exec: the child keeps only its stdout copy of the write end.
  if (pipe2(out, O_CLOEXEC) != 0) return MakeError(ErrorCode::kInternal, "pipe2() failed");
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  auto pid = SpawnChild(argv_s, std::nullopt, ChildIo{.stdout_fd = out[1]});
  close(out[1]);
  if (!pid) {
    close(out[0]);
    pid_ = -1;
    return pid.error();
  }
  pid_ = *pid;
  std::string line;
  char c;
  pollfd pfd{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos) {
    if (poll(&pfd, 1, 10'000) <= 0 || read(out[0], &c, 1) != 1) break;
    line.push_back(c);
  }
  close(out[0]);
  auto j = ParseJson(line, "vmray-emulators");
  if (!j || !j->is_object()) {
    Stop();
    return MakeError(ErrorCode::kUnavailable, "vmray-emulators did not print its endpoints");
  }
  endpoints_ = std::move(*j);
  return Ok();
}

void EmulatorProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string FindEmulatorBinary(const std::string& self_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path self = fs::canonical(self_path, ec);
  if (ec) self = self_path;
  const fs::path dir = self.parent_path();
  for (const fs::path& candidate :
       {dir / "vmray-emulators", dir.parent_path() / "emulators" / "vmray-emulators",
        dir.parent_path().parent_path() / "emulators" / "vmray-emulators"}) {
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "vmray-emulators";
}

namespace {
Result<Json> Exchange(http::Method method, const std::string& url, const std::string& body) {
  static http::CurlTransport transport({});
  http::Request r;
  r.method = method;
  r.url = url;
  r.service = "emulator";
  r.body = body;
  if (!body.empty()) r.headers.Set("Content-Type", "application/json");
  auto resp = transport.Send(r);
  if (!resp) return resp.error();
  if (!resp->ok()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "emulator answered " + std::to_string(resp->status) + ": " + resp->body.substr(0, 300));
  }
  if (resp->body.empty()) return Json::object();
  return ParseJson(resp->body, "emulator");
}
}  // namespace

Result<Json> PostJson(const std::string& url, const Json& body) {
  return Exchange(http::Method::kPost, url, body.dump());
}

Result<Json> GetJson(const std::string& url) {
  return Exchange(http::Method::kGet, url, "");
}

}  // namespace vc::app
