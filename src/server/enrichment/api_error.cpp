#include "server/enrichment/api_error.hpp"

#include <fmt/format.h>

#include "core/redact.hpp"

namespace vc::enrichment {

ApiError MissingParameter(const std::string& name) {
  return {400, "missing_parameter", fmt::format("the parameter '{}' is required", name), name};
}

ApiError InvalidParameter(const std::string& name, const std::string& message) {
  return {400, "invalid_parameter", fmt::format("parameter '{}': {}", name, message), name};
}

std::string OriginalMissingText(const std::string& name) {
  return fmt::format("Invalid Request. Missing '{}' parameter.", name);
}

ApiError FromVmrayError(const Error& error) {
  ApiError out;
  const std::string detail = Scrub(error.message);
  switch (error.code) {
    case ErrorCode::kNotFound:
      out = {404, "not_found", detail + " (check the id or hash)"};
      break;
    case ErrorCode::kInvalidArgument:
      out = {400, "vmray_rejected", detail};
      break;
    case ErrorCode::kRateLimited:
      out = {503, "vmray_throttled", "VMRay is throttling requests; retry later"};
      out.retry_after_seconds =
          error.retry_after ? static_cast<int>(error.retry_after->count()) : 60;
      break;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      out = {502, "vmray_auth",
             detail + " (the connector's vmray.api_key is at fault, not the caller)"};
      break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      out = {502, "vmray_unavailable", detail + " (retry later)"};
      break;
    default:
      out = {502, "vmray_error", detail};
  }
  return out;
}

}  // namespace vc::enrichment
