// Starts the `vmray-emulators` binary as a child process and reads the JSON line with its base
// URLs. Used by `vmray-connector demo` and by the end-to-end tests.
#pragma once

#include <sys/types.h>
#include <string>

#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::app {

class EmulatorProcess {
 public:
  EmulatorProcess() = default;
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  Status Start(const std::string& binary, const std::vector<std::string>& args = {});
  void Stop();
  const Json& endpoints() const { return endpoints_; }
  std::string Url(const std::string& service) const { return endpoints_.value(service, ""); }

 private:
  pid_t pid_ = -1;
  Json endpoints_;
};

// `vmray-emulators` next to this executable (installed) or in the build tree.
std::string FindEmulatorBinary(const std::string& self_path);

// POST a JSON body to http://127.0.0.1... (control routes of the emulators).
Result<Json> PostJson(const std::string& url, const Json& body);
Result<Json> GetJson(const std::string& url);

}  // namespace vc::app
