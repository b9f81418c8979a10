#include "azurite.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#ifndef VC_SOURCE_DIR
#error "VC_SOURCE_DIR must name the source tree (where scripts/azurite.sh installs Azurite)"
#endif

namespace vc::test {

Result<std::string> AzuriteBlobBinary() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("VC_AZURITE_BLOB"); env && *env) {
    if (access(env, X_OK) == 0) return std::string(env);
    return MakeError(ErrorCode::kNotFound,
                     std::string("VC_AZURITE_BLOB names ") + env + ", which is not executable");
  }
  const fs::path bin =
      fs::path(VC_SOURCE_DIR) / ".local" / "azurite" / "node_modules" / ".bin" / "azurite-blob";
  if (access(bin.c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kNotFound,
                     "Azurite is not installed (" + bin.string() +
                         " is missing): run scripts/azurite.sh install (it needs node and npm, "
                         "which scripts/setup.sh installs)");
  }
  return bin.string();
}

Result<AzuriteProcess*> SharedAzurite() {
  static std::mutex mu;
  static std::unique_ptr<AzuriteProcess> instance;  // stopped by its destructor at exit
  static std::optional<Error> failure;
  std::lock_guard lock(mu);
  if (instance) return instance.get();
  if (failure) return *failure;
  auto binary = AzuriteBlobBinary();
  if (!binary) {
    failure = binary.error();
    return *failure;
  }
  auto process = std::make_unique<AzuriteProcess>();
  if (Status started = process->Start(*binary); !started) {
    failure = started.error();
    return *failure;
  }
  instance = std::move(process);
  return instance.get();
}

}  // namespace vc::test
