// Azurite, the Azure Storage emulator (npm package, installed by scripts/azurite.sh into
// .local/azurite), as a child process: the demo and the tests hand quarantined files over
// through it instead of a real storage account. Listens on 127.0.0.1 on a port the system
// picks, keeps its state in memory, and dies with its parent even if that one crashes.
#pragma once

#include <sys/types.h>

#include <string>

#include "clients/blob/connection_string.hpp"
#include "core/result.hpp"

namespace vc::app {

class AzuriteProcess {
 public:
  AzuriteProcess() = default;
  ~AzuriteProcess();
  AzuriteProcess(const AzuriteProcess&) = delete;
  AzuriteProcess& operator=(const AzuriteProcess&) = delete;

  // Starts azurite-blob and returns once it answers HTTP.
  Status Start(const std::string& binary);
  void Stop();

  int port() const { return port_; }
  // http://127.0.0.1:<port>/devstoreaccount1 (Azurite's path-style account URL).
  std::string BlobEndpoint() const;
  // A connection string for the well-known development account on this instance.
  std::string ConnectionString() const;
  blob::StorageAccount Account() const;
  // What Azurite printed so far (for failure messages).
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

}  // namespace vc::app
