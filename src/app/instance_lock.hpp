// An exclusive lock on a file next to the store, held for the life of the daemon, so a second
// `vmray-connector run` on the same store refuses to start instead of releasing the first one's
// job leases. The lock is an flock(2): the kernel drops it when the process dies, even on kill -9.
#pragma once

#include <memory>
#include <string>

#include "core/result.hpp"

namespace vc::app {

class InstanceLock {
 public:
  static Result<std::unique_ptr<InstanceLock>> Acquire(const std::string& path);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vc::app
