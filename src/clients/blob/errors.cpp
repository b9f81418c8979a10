#include "clients/blob/errors.hpp"

#include <fmt/format.h>

#include <charconv>

#include "clients/blob/xml.hpp"
#include "core/redact.hpp"
#include "http/policies.hpp"

namespace vc::blob {

Error MapBlobError(const http::Response& r, std::string_view what, std::string_view container) {
  Error e;
  e.service = "blob";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  e.service_code = r.headers.Get("x-ms-error-code").value_or("");
  std::string detail;
  if (!r.body.empty()) {
    if (e.service_code.empty()) e.service_code = XmlFirstText(r.body, "Code").value_or("");
    // Only the first line of <Message>: the rest is "RequestId:...\nTime:...", and
    // <AuthenticationErrorDetail> (never read) quotes the signature and the signed text.
    detail = XmlFirstText(r.body, "Message").value_or("");
    detail = detail.substr(0, detail.find_first_of("\r\n"));
    if (detail.size() > 300) detail.resize(300);
    detail = Scrub(detail);
  }
  if (e.service_code.size() > 100) e.service_code.resize(100);
  if (auto ra = r.headers.Get("Retry-After")) {
    // The pipeline's retry policy rewrites Retry-After to delta-seconds on its own clock.
    int seconds = -1;
    std::from_chars(ra->data(), ra->data() + ra->size(), seconds);
    if (seconds >= 0) {
      e.retry_after = std::chrono::seconds(seconds);
    }
  }
  const std::string code = e.service_code.empty() ? "" : " (" + e.service_code + ")";
  const std::string tail = detail.empty() ? "" : ": " + detail;
  const std::string& sc = e.service_code;
  if (sc == "ContainerNotFound") {
    e.code = ErrorCode::kNotFound;
    e.message = fmt::format(
        "cannot {}: container '{}' does not exist in the storage account; it is created at "
        "start, so it was deleted or the connection string names another account{}",
        what, container, code);
  } else if (sc == "BlobNotFound" || (r.status == 404 && sc.empty())) {
    e.code = ErrorCode::kNotFound;
    e.message = fmt::format("cannot {}: the blob does not exist{}", what, code);
  } else if (r.status == 403 || r.status == 401 || sc.rfind("Authentication", 0) == 0 ||
             sc.rfind("Authorization", 0) == 0) {
    e.code = ErrorCode::kPermissionDenied;
    e.message = fmt::format(
        "Azure Storage refused the credentials to {}{}: check the AccountKey in "
        "AzureStorageConnectionString (or, for a SAS, its permissions and expiry){}",
        what, code, tail);
  } else if (r.status == 404) {
    e.code = ErrorCode::kNotFound;
    e.message = fmt::format("cannot {}: not found{}{}", what, code, tail);
  } else if (r.status == 409 || r.status == 412) {
    e.code = ErrorCode::kConflict;
    e.message = fmt::format("cannot {}: conflict{}{}", what, code, tail);
  } else if (r.status == 429) {
    e.code = ErrorCode::kRateLimited;
    e.message = fmt::format("Azure Storage is throttling requests to {}{}", what, code);
  } else if (r.status >= 500) {
    e.code = ErrorCode::kUnavailable;
    e.message = fmt::format("Azure Storage failed to {}: HTTP {}{}{}", what, r.status, code, tail);
  } else if (r.status >= 400) {
    e.code = ErrorCode::kInvalidArgument;
    e.message = fmt::format("Azure Storage refused to {}: HTTP {}{}{}", what, r.status, code, tail);
  } else {
    e.code = ErrorCode::kProtocol;
    e.message = fmt::format("unexpected answer to {}: HTTP {}{}", what, r.status, code);
  }
  return e;
}

}  // namespace vc::blob
