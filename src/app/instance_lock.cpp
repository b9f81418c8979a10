#include "app/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vc::app {

Result<std::unique_ptr<InstanceLock>> InstanceLock::Acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "cannot open the lock file " + path + ": " + std::strerror(errno) +
                         "; check that store.path points at a writable directory");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return MakeError(ErrorCode::kConflict,
                       "another vmray-connector is already running with this store (" + path +
                           " is locked); stop it first, or give this one its own store.path");
    }
    return MakeError(ErrorCode::kInternal, "cannot lock " + path + ": " + std::strerror(err));
  }
  // Record who holds it, for the operator who wonders.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::write(fd, pid.data(), pid.size());
  return std::unique_ptr<InstanceLock>(new InstanceLock(fd));
}

InstanceLock::~InstanceLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace vc::app
