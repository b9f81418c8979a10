#include "clients/graph/errors.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/redact.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::graph {

Error MapGraphError(const http::Response& r, const std::string& what,
                    const GraphErrorContext& context) {
  Error e;
  e.service = "graph";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "Graph"); j && j->is_object() && (*j)["error"].is_object()) {
    const Json& err = (*j)["error"];
    e.service_code = err.value("code", "");
    detail = err.value("message", "");
    if (err.contains("innerError") && err["innerError"].is_object() &&
        err["innerError"].value("request-id", "") != "") {
      e.request_id = err["innerError"]["request-id"].get<std::string>();
    }
  } else {
    detail = r.body.substr(0, 200);
  }
  detail = Scrub(detail);
  if (auto ra = r.headers.Get("Retry-After")) {
    if (auto wait = http::ParseRetryAfter(*ra, std::chrono::system_clock::now())) {
      e.retry_after = std::chrono::ceil<std::chrono::seconds>(*wait);
    }
  }
  const std::string code = e.service_code.empty() ? "" : " (" + e.service_code + ")";
  switch (r.status) {
    case 400:
      e.code = ErrorCode::kInvalidArgument;
      e.message = fmt::format("Graph refused to {}{}: {}", what, code, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format("Graph did not accept the token to {}{}: {}", what, code, detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app registration may not {}{}: grant it the Microsoft Graph application "
          "permission {} and admin consent — {}",
          what, code, context.permission, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message =
          fmt::format("Graph does not know {} to {}{}: {}", context.subject, what, code, detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("Graph is throttling requests to {}{}", what, code);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message = fmt::format("Graph answered HTTP {} to {}{}: {}", r.status, what, code, detail);
  }
  return e;
}

}  // namespace vc::graph
