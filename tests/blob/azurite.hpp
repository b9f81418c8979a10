// The real Azurite blob emulator (npm package, installed by scripts/azurite.sh into
// .local/azurite) as a child process of a test, so the Blob client is tested against the
// service's own request checking: Shared Key and SAS signatures, naming, error bodies. One
// instance per test process, started on first use on a port the system picks, state in memory,
// stopped when the process exits (or killed with it, should the test crash).
#pragma once

#include <sys/types.h>

#include <string>

#include "clients/blob/connection_string.hpp"
#include "core/result.hpp"

namespace vc::test {

// The azurite-blob executable, or an error telling to run `scripts/azurite.sh install`.
// VC_AZURITE_BLOB in the environment overrides the project-local installation.
Result<std::string> AzuriteBlobBinary();

class AzuriteProcess {
 public:
  AzuriteProcess() = default;
  ~AzuriteProcess();
  AzuriteProcess(const AzuriteProcess&) = delete;
  AzuriteProcess& operator=(const AzuriteProcess&) = delete;

  // Starts azurite-blob on 127.0.0.1 and returns once it answers HTTP.
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

// The shared instance of this test process, started on the first call. An error (Azurite not
// installed, did not start) is returned to every caller, so each test fails with the reason.
Result<AzuriteProcess*> SharedAzurite();

}  // namespace vc::test
