#include "core/result.hpp"

#include <fmt/format.h>

namespace vc {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kUnauthenticated:
      return "Unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kRateLimited:
      return "RateLimited";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kCancelled:
      return "Cancelled";
    case ErrorCode::kProtocol:
      return "Protocol";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

bool Error::IsTransient() const {
  switch (code) {
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      return true;
    default:
      return false;
  }
}

std::string Error::ToString() const {
  std::string out(ErrorCodeName(code));
  std::string detail;
  auto add = [&detail](std::string_view part) {
    if (!detail.empty()) detail += ' ';
    detail += part;
  };
  if (!service.empty()) add(service);
  if (http_status != 0) add(fmt::format("http={}", http_status));
  if (!service_code.empty()) add(fmt::format("code={}", service_code));
  if (!request_id.empty()) add(fmt::format("request-id={}", request_id));
  if (retry_after) add(fmt::format("retry-after={}s", retry_after->count()));
  if (!detail.empty()) out += " [" + detail + "]";
  out += ": ";
  out += message;
  return out;
}

Error MakeError(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

}  // namespace vc
