// Keeps the collection script in the tenant's Live Response library at this build's version.
// Checked once per process (and again after MDE says the script is missing): GET the library,
// compare the script's sha256, upload with OverrideIfExists only when it differs, so a restart
// never rewrites the library and an analyst's edit is replaced by the shipped script.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "clients/defender/client.hpp"
#include "core/result.hpp"

namespace vc::defender {

class LibrarySync {
 public:
  LibrarySync(mde::Client& mde, std::string file_name, std::string_view content);

  // Ok once the library holds exactly `content` under `file_name`. Concurrent callers wait for
  // one check instead of uploading in parallel.
  Status Ensure();
  // The next Ensure checks the library again (a session reported the script missing).
  void Invalidate();

  int uploads() const;  // uploads this process made (for tests and logs)

 private:
  mde::Client& mde_;
  const std::string file_name_;
  const std::string content_;
  const std::string sha256_;
  mutable std::mutex mu_;
  bool verified_ = false;
  int uploads_ = 0;
};

}  // namespace vc::defender
