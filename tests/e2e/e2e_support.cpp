#include "e2e_support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/child_process.hpp"
#include "core/random.hpp"

namespace vc::e2e {

std::string ConnectorBinary() {
  return std::string(VC_BINARY_DIR) + "/src/app/vmray-connector";
}
std::string EmulatorsBinary() {
  return std::string(VC_BINARY_DIR) + "/emulators/vmray-emulators";
}

ConnectorProcess::~ConnectorProcess() {
  if (pid_ > 0) {
    Kill(SIGKILL);
    Wait();
  }
}

bool ConnectorProcess::Start(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  env_s.push_back("PATH=/usr/bin:/bin");
  auto pid = SpawnChild({ConnectorBinary(), "run"}, env_s);
  pid_ = pid ? *pid : -1;
  return pid.has_value();
}

void ConnectorProcess::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ConnectorProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::vector<std::pair<std::string, std::string>> ConnectorEnv(const app::EmulatorProcess& emulators,
                                                              const std::string& dir) {
  return {
      {"AzureTenantID", "6f1b2c3d-0000-4000-8000-00000000e1e1"},
      {"AzureClientID", "6f1b2c3d-0000-4000-8000-0000000c1e17"},
      {"AzureClientSecret", "emu-client-secret-DO-NOT-LOG"},
      {"VmrayBaseURL", emulators.Url("vmray")},
      {"VmrayAPIKey", "emu-vmray-key-DO-NOT-LOG"},
      {"VMRAY_CONNECTOR_AZURE_AUTHORITY_HOST", emulators.Url("entra")},
      {"VMRAY_CONNECTOR_DEFENDER_API_BASE_URL", emulators.Url("mde")},
      {"VMRAY_CONNECTOR_DEFENDER_INCIDENTS_GRAPH_BASE_URL", emulators.Url("graph")},
      {"VMRAY_CONNECTOR_DEFENDER_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_STORE_PATH", dir + "/store.db"},
      {"VMRAY_CONNECTOR_LOG_FILE", dir + "/connector.log"},
      {"VMRAY_CONNECTOR_LOG_LEVEL", "debug"},
      // Tests run in parallel: each connector's ops listener takes a free port (it logs it).
      {"VMRAY_CONNECTOR_OPS_LISTEN", "127.0.0.1:0"},
  };
}

Json MdeState(const app::EmulatorProcess& emulators) {
  auto s = app::GetJson(emulators.Url("mde") + "/_emulator/state");
  return s ? *s : Json::object();
}

Json VmrayState(const app::EmulatorProcess& emulators) {
  auto s = app::GetJson(emulators.Url("vmray") + "/_emulator/state");
  return s ? *s : Json::object();
}

std::map<std::string, std::vector<std::string>> Comments(const Json& mde_state) {
  std::map<std::string, std::vector<std::string>> out;
  if (!mde_state.contains("alerts")) return out;
  for (const auto& a : mde_state["alerts"]) {
    auto& list = out[a.value("id", "")];
    for (const auto& c : a.value("comments", Json::array())) list.push_back(c.value("comment", ""));
  }
  return out;
}

Json WaitFor(const app::EmulatorProcess& emulators, const std::function<bool(const Json&)>& done,
             std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  Json state;
  while (std::chrono::steady_clock::now() < end) {
    state = MdeState(emulators);
    if (done(state)) return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return state;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string TempDir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() / (prefix + "-" + DefaultRandom().HexToken(6));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace vc::e2e
