// End-to-end helpers: the real `vmray-emulators` and `vmray-connector` binaries as child
// processes, configured the way a user would (environment variables with the original names).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "app/emulator_process.hpp"
#include "core/json.hpp"

namespace vc::e2e {

std::string ConnectorBinary();
std::string EmulatorsBinary();

// A `vmray-connector run` child process.
class ConnectorProcess {
 public:
  ~ConnectorProcess();
  bool Start(const std::vector<std::pair<std::string, std::string>>& env);
  void Kill(int signal);
  // Waits for exit; returns the exit status as from waitpid (or -1).
  int Wait();
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// Environment for a connector talking to `emulators`, storing under `dir`.
std::vector<std::pair<std::string, std::string>> ConnectorEnv(const app::EmulatorProcess& emulators,
                                                              const std::string& dir);

Json MdeState(const app::EmulatorProcess& emulators);
Json VmrayState(const app::EmulatorProcess& emulators);
// Comments per alert id.
std::map<std::string, std::vector<std::string>> Comments(const Json& mde_state);
// Polls until `done(mde_state)` or the timeout; returns the last state.
Json WaitFor(const app::EmulatorProcess& emulators, const std::function<bool(const Json&)>& done,
             std::chrono::seconds timeout);
std::string ReadFile(const std::string& path);
std::string TempDir(const std::string& prefix);

}  // namespace vc::e2e
