#pragma once
// Starting helper processes (the emulators and Azurite of `demo`, the binaries the end-to-end
// tests drive) so that they never outlive the process that started them.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace vc {

struct ChildIo {
  int stdin_fd = -1;   // -1: inherited
  int stdout_fd = -1;  // -1: inherited
  int stderr_fd = -1;  // -1: inherited
};

// Starts argv[0] (a path, not searched in PATH) with `argv` and `env` (nullopt: this process's
// environment). The child gets SIGKILL when the thread that started it ends, so a crashed or
// killed parent (a test that aborts, a `demo` that is killed) leaves nothing running that would
// hold ports, files or a test runner's output pipe. Call it from a thread that lives as long as
// the child should. The descriptors in `io` stay open in the caller.
Result<pid_t> SpawnChild(const std::vector<std::string>& argv,
                         const std::optional<std::vector<std::string>>& env, ChildIo io = {});

}  // namespace vc
