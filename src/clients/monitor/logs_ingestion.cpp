#include "clients/monitor/logs_ingestion.hpp"

#include <fmt/format.h>

#include "core/redact.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::monitor {
namespace {

// {"error": {"code", "message"}} (code also in x-ms-error-code) as a vc::Error that says what to
// change.
Error MapIngestionError(const http::Response& r, const LogsIngestionOptions& o) {
  Error e;
  e.service = "monitor";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "Logs Ingestion");
      j && j->is_object() && (*j)["error"].is_object()) {
    e.service_code = (*j)["error"].value("code", "");
    detail = (*j)["error"].value("message", "");
  } else {
    detail = r.body.substr(0, 200);
  }
  if (e.service_code.empty()) e.service_code = r.headers.Get("x-ms-error-code").value_or("");
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
      e.message = fmt::format(
          "the Logs Ingestion API refused the rows for stream {}{}: {}; the rows do not match "
          "the stream's columns: redeploy the table and DCR from deploy/ or check the stream "
          "name",
          o.stream, code, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format(
          "the Logs Ingestion API did not accept the token{}: {}; the token must be for {}", code,
          detail, kMonitorResource);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app may not write to data collection rule {}{}: assign it the role Monitoring "
          "Metrics Publisher on that DCR (it can take 30 minutes to apply) — {}",
          o.dcr_immutable_id, code, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format(
          "the data collection endpoint does not know DCR {}{}: {}; check the DCR's immutable "
          "id and that the endpoint is the one the DCR is bound to",
          o.dcr_immutable_id, code, detail);
      break;
    case 413:
      e.code = ErrorCode::kInvalidArgument;
      e.message =
          fmt::format("the Logs Ingestion API found the request too large{}: {}", code, detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("the Logs Ingestion API is throttling requests{}", code);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message =
          fmt::format("the Logs Ingestion API answered HTTP {}{}: {}", r.status, code, detail);
  }
  return e;
}

}  // namespace

LogsIngestionClient::LogsIngestionClient(LogsIngestionOptions options,
                                         std::shared_ptr<http::Pipeline> api)
    : options_(std::move(options)), api_(std::move(api)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
}

Result<std::vector<std::pair<std::string, size_t>>> LogsIngestionClient::Batches(
    const std::vector<Json>& rows, int64_t max_bytes) {
  std::vector<std::pair<std::string, size_t>> out;
  std::string body;
  size_t count = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].is_object()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("row {} is not a JSON object; nothing was sent", i));
    }
    const std::string row = rows[i].dump();
    if (static_cast<int64_t>(row.size() + 2) > max_bytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("row {} alone is {} bytes of JSON, over the {} byte limit of "
                                   "one Logs Ingestion request; nothing was sent (shorten its "
                                   "longest values)",
                                   i, row.size(), max_bytes));
    }
    // "[" + rows joined by "," + "]"
    if (count > 0 && static_cast<int64_t>(body.size() + 1 + row.size() + 1) > max_bytes) {
      out.emplace_back(body + "]", count);
      body.clear();
      count = 0;
    }
    body += count == 0 ? "[" : ",";
    body += row;
    ++count;
  }
  if (count > 0) out.emplace_back(body + "]", count);
  return out;
}

Result<UploadSummary> LogsIngestionClient::Upload(const std::vector<Json>& rows) {
  if (options_.endpoint.empty() || options_.dcr_immutable_id.empty() || options_.stream.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the Logs Ingestion endpoint, DCR immutable id and stream must all be set");
  }
  VC_ASSIGN_OR_RETURN(auto batches, Batches(rows, options_.max_batch_bytes));
  UploadSummary summary;
  for (const auto& [body, count] : batches) {
    if (auto s = Post(body); !s) {
      Error e = s.error();
      if (summary.rows > 0) {
        e.message = fmt::format("{} (the first {} of {} rows were ingested already)", e.message,
                                summary.rows, rows.size());
      }
      return e;
    }
    summary.rows += count;
    ++summary.requests;
  }
  return summary;
}

Status LogsIngestionClient::Post(const std::string& body) {
  http::Request r;
  r.method = http::Method::kPost;
  r.url = fmt::format("{}/dataCollectionRules/{}/streams/{}?{}", options_.endpoint,
                      http::UrlEncode(options_.dcr_immutable_id), http::UrlEncode(options_.stream),
                      http::EncodeQuery({{"api-version", std::string(kLogsIngestionApiVersion)}}));
  r.service = "monitor";
  r.operation = "logs.upload";
  r.headers.Set("Content-Type", "application/json");
  r.body = body;
  auto resp = api_->Send(std::move(r));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "monitor";
    return e;
  }
  if (!resp->ok()) return MapIngestionError(*resp, options_);
  return Ok();
}

}  // namespace vc::monitor
