#include "clients/sentinel/ti_upload.hpp"

#include <fmt/format.h>

#include <regex>

#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::sentinel {
namespace {

Error MapError(const http::Response& r) {
  Error e;
  e.service = "sentinel";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail = r.body.substr(0, 300);
  if (auto j = ParseJson(r.body, "Sentinel"); j && j->is_object()) {
    if ((*j)["message"].is_string()) detail = (*j)["message"].get<std::string>();
    if ((*j)["error"].is_object()) {
      e.service_code = (*j)["error"].value("code", "");
      detail = (*j)["error"].value("message", detail);
    }
  }
  detail = Scrub(detail);
  switch (r.status) {
    case 400:
      e.code = ErrorCode::kInvalidArgument;
      e.message = fmt::format("Sentinel refused the STIX upload request: {}", detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format(
          "Sentinel did not accept the token (resource https://management.azure.com): {}", detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app registration may not upload threat intelligence: give it the role "
          "'Microsoft Sentinel Contributor' on the workspace — {}",
          detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format(
          "Sentinel does not know the workspace: set AzureWorkspaceID to the Log Analytics "
          "workspace GUID (not its resource id) — {}",
          detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("Sentinel is throttling the STIX uploads: {}", detail);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message = fmt::format("Sentinel answered HTTP {} to the STIX upload: {}", r.status, detail);
  }
  if (auto wait = ThrottleWait(r, std::chrono::system_clock::now())) {
    e.retry_after = std::chrono::ceil<std::chrono::seconds>(*wait);
  }
  return e;
}

}  // namespace

std::optional<Millis> ThrottleWait(const http::Response& response, TimePoint now) {
  if (auto header = response.headers.Get("Retry-After")) {
    if (auto wait = http::ParseRetryAfter(*header, now)) return wait;
  }
  static const std::regex kText(R"(try again in (\d{1,6}) second)", std::regex::icase);
  std::smatch m;
  const std::string head = response.body.substr(0, 1000);
  if (std::regex_search(head, m, kText)) return Millis(std::stoll(m[1].str()) * 1000);
  return std::nullopt;
}

Result<std::vector<RejectedObject>> ParseRecordErrors(const std::string& body,
                                                      const std::vector<Json>& batch) {
  std::vector<RejectedObject> out;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  auto j = ParseJson(body, "Sentinel STIX upload answer");
  if (!j) return j.error();
  if (!j->is_object()) {
    return MakeError(ErrorCode::kProtocol, "the Sentinel STIX upload answer is not an object");
  }
  auto errors = j->find("errors");
  if (errors == j->end() || errors->is_null()) return out;
  if (!errors->is_array()) {
    return MakeError(ErrorCode::kProtocol,
                     "errors[] of the Sentinel STIX upload answer is not an array");
  }
  for (const auto& e : *errors) {
    if (!e.is_object() || !e.contains("recordIndex") || !e["recordIndex"].is_number_integer()) {
      return MakeError(ErrorCode::kProtocol,
                       "an entry of errors[] in the Sentinel answer has no recordIndex");
    }
    const int64_t index = e["recordIndex"].get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(batch.size())) {
      return MakeError(
          ErrorCode::kProtocol,
          fmt::format("Sentinel named record {} of a batch of {}", index, batch.size()));
    }
    std::string reason;
    if (auto m = e.find("errorMessages"); m != e.end() && m->is_array()) {
      for (const auto& msg : *m) {
        if (!msg.is_string()) continue;
        if (!reason.empty()) reason += "; ";
        reason += msg.get<std::string>();
      }
    }
    if (reason.empty()) reason = "rejected without a reason";
    const Json& object = batch[static_cast<size_t>(index)];
    out.push_back({object.is_object() ? object.value("id", "") : "", Scrub(reason)});
  }
  return out;
}

TiUploader::TiUploader(TiUploadOptions options, std::shared_ptr<http::Pipeline> pipeline,
                       Clock& clock)
    : options_(std::move(options)), pipeline_(std::move(pipeline)), clock_(clock) {
  if (options_.requests_per_minute < 1) options_.requests_per_minute = 1;
  std::string base = options_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  url_ = fmt::format("{}/workspaces/{}/threat-intelligence-stix-objects:upload?api-version={}",
                     base, http::UrlEncode(options_.workspace_id), kStixApiVersion);
}

void TiUploader::RequestStop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
}

Status TiUploader::Wait(Millis wait) {
  const Error stopped =
      MakeError(ErrorCode::kCancelled, "the STIX upload stopped: the connector is shutting down");
  if (dynamic_cast<SystemClock*>(&clock_) != nullptr) {
    std::unique_lock lock(stop_mu_);
    if (stop_cv_.wait_for(lock, wait, [&] { return stop_; })) return stopped;
    return Ok();
  }
  // A test clock moves on its own when slept on; nothing blocks.
  {
    std::lock_guard lock(stop_mu_);
    if (stop_) return stopped;
  }
  clock_.SleepFor(wait);
  return Ok();
}

Millis TiUploader::TakeSlot() {
  std::lock_guard lock(pace_mu_);
  const TimePoint now = clock_.Now();
  while (!answered_.empty() && answered_.front() + options_.window <= now) answered_.pop_front();
  const int used = static_cast<int>(answered_.size()) + in_flight_;
  if (used < options_.requests_per_minute) {
    ++in_flight_;
    Metrics::Global().Set("vc_rate_limiter_utilisation", {{"limiter", "sentinel.ti_upload"}},
                          static_cast<double>(used + 1) / options_.requests_per_minute);
    return Millis{0};
  }
  if (answered_.empty()) return Millis{10};  // every slot is in flight: wait for an answer
  return std::max(Millis{1}, std::chrono::ceil<Millis>(answered_.front() + options_.window - now));
}

void TiUploader::AnswerArrived() {
  std::lock_guard lock(pace_mu_);
  --in_flight_;
  answered_.push_back(clock_.Now());
}

Result<http::Response> TiUploader::SendPaced(const std::string& body) {
  // Wait for our own slot first: a backfill runs at the limit, and the only waiting it does is
  // here, never in a 429.
  for (Millis wait = TakeSlot(); wait.count() > 0; wait = TakeSlot()) {
    VC_RETURN_IF_ERROR(Wait(wait));
  }
  {
    std::lock_guard lock(stop_mu_);
    if (stop_) {
      AnswerArrived();
      return MakeError(ErrorCode::kCancelled,
                       "the STIX upload stopped: the connector is shutting down");
    }
  }
  http::Request request;
  request.method = http::Method::kPost;
  request.url = url_;
  request.service = "sentinel";
  request.operation = "ti_upload";
  // Deterministic ids make a repeated upload an update, so 5xx may be retried like a PUT.
  request.idempotent = true;
  request.headers.Set("Content-Type", "application/json");
  request.body = body;
  auto response = pipeline_->Send(std::move(request));
  AnswerArrived();
  return response;
}

Result<UploadResult> TiUploader::UploadBatch(const std::vector<Json>& batch) {
  if (batch.empty()) return UploadResult{};
  if (batch.size() > static_cast<size_t>(kMaxObjectsPerRequest)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("a STIX upload batch holds at most {} objects, not {}",
                                 kMaxObjectsPerRequest, batch.size()));
  }
  const std::string body =
      Json{{"sourcesystem", options_.source_system}, {"stixobjects", batch}}.dump(
          -1, ' ', false, Json::error_handler_t::replace);
  UploadResult result;
  for (int attempt = 0;; ++attempt) {
    auto response = SendPaced(body);
    ++result.requests;
    if (!response) return response.error();
    if (response->status == 429 && attempt < options_.max_throttle_waits) {
      const Millis wait = ThrottleWait(*response, clock_.Now()).value_or(Millis(60'000));
      if (wait <= options_.max_throttle_wait) {
        ++result.throttled;
        Metrics::Global().Inc("vc_sentinel_ti_throttled_total");
        VC_RETURN_IF_ERROR(Wait(wait));
        continue;
      }
    }
    if (!response->ok()) return MapError(*response);
    auto rejected = ParseRecordErrors(response->body, batch);
    if (!rejected) return rejected.error();
    result.rejected = std::move(*rejected);
    result.accepted = batch.size() - result.rejected.size();
    return result;
  }
}

Result<UploadResult> TiUploader::Upload(const std::vector<Json>& objects) {
  UploadResult total;
  for (size_t i = 0; i < objects.size(); i += kMaxObjectsPerRequest) {
    const size_t end = std::min(objects.size(), i + kMaxObjectsPerRequest);
    auto one = UploadBatch(std::vector<Json>(objects.begin() + static_cast<long>(i),
                                             objects.begin() + static_cast<long>(end)));
    if (!one) return one.error();
    total.accepted += one->accepted;
    total.requests += one->requests;
    total.throttled += one->throttled;
    for (auto& r : one->rejected) total.rejected.push_back(std::move(r));
  }
  return total;
}

}  // namespace vc::sentinel
