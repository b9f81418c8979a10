#include "pipelines/defender_alerts/library_sync.hpp"

#include <spdlog/spdlog.h>

#include "core/hash.hpp"

namespace vc::defender {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Shown in the portal's library view next to the script.
constexpr const char* kDescription =
    "VMRay Connector: hands one quarantined file to VMRay through a write-only upload link. "
    "Managed by vmray-connector; edits are replaced.";
constexpr const char* kParametersDescription =
    "One base64 JSON argument written by vmray-connector (threat name, expected SHA-256, upload "
    "link, size limit).";

}  // namespace

LibrarySync::LibrarySync(mde::Client& mde, std::string file_name, std::string_view content)
    : mde_(mde), file_name_(std::move(file_name)), content_(content), sha256_(Sha256Hex(content)) {}

Status LibrarySync::Ensure() {
  std::lock_guard lock(mu_);
  if (verified_) return Ok();
  auto files = mde_.ListLibraryFiles();
  if (!files) return files.error();
  for (const auto& f : *files) {
    if (SameName(f.file_name, file_name_) && f.sha256 == sha256_) {
      verified_ = true;
      return Ok();
    }
  }
  auto uploaded = mde_.UploadLibraryFile(file_name_, content_, kDescription, kParametersDescription,
                                         /*replace=*/true);
  if (!uploaded) return uploaded.error();
  if (!uploaded->sha256.empty() && uploaded->sha256 != sha256_) {
    return MakeError(ErrorCode::kProtocol,
                     "the Live Response library stored " + file_name_ +
                         " with a different SHA-256 than was uploaded; check for a proxy that "
                         "rewrites uploads");
  }
  ++uploads_;
  verified_ = true;
  spdlog::info("uploaded {} (sha256 {}) to the Live Response library", file_name_, sha256_);
  return Ok();
}

void LibrarySync::Invalidate() {
  std::lock_guard lock(mu_);
  verified_ = false;
}

int LibrarySync::uploads() const {
  std::lock_guard lock(mu_);
  return uploads_;
}

}  // namespace vc::defender
