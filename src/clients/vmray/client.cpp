#include "clients/vmray/client.hpp"

#include <fmt/format.h>

#include <set>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::vmray {
namespace {

constexpr int kMaxPages = 100000;

std::string NormaliseBase(std::string url) {
  if (url.find("://") == std::string::npos) url = "https://" + url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Error MapError(const http::Response& r, const std::string& what) {
  Error e;
  e.service = "vmray";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "VMRay"); j && j->is_object()) {
    detail = j->value("error_msg", "");
  } else {
    detail = r.body.substr(0, 200);
  }
  detail = Scrub(detail);
  if (auto ra = r.headers.Get("Retry-After")) {
    if (auto wait = http::ParseRetryAfter(*ra, std::chrono::system_clock::now())) {
      e.retry_after = std::chrono::ceil<std::chrono::seconds>(*wait);
    }
  }
  switch (r.status) {
    case 400:
      e.code = ErrorCode::kInvalidArgument;
      e.message = fmt::format("VMRay refused {}: {}", what, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message =
          fmt::format("VMRay rejected the API key for {} ({}): check VmrayAPIKey", what, detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format("the VMRay API key may not {} ({}): give the key's user that right",
                              what, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format("VMRay has no such item for {}: {}", what, detail);
      break;
    case 408:
      e.code = ErrorCode::kTimeout;
      e.message = fmt::format("VMRay timed out on {}", what);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("VMRay is throttling {}; waiting as asked", what);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message = fmt::format("VMRay answered HTTP {} to {}: {}", r.status, what, detail);
  }
  return e;
}

bool NeedsB64Name(std::string_view name) {
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return true;
  }
  return false;
}

}  // namespace

std::string SanitizeTag(std::string_view tag) {
  std::string out;
  for (char c : tag) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out;
}

Client::Client(std::string base_url, std::shared_ptr<http::Pipeline> pipeline)
    : base_url_(NormaliseBase(std::move(base_url))), pipeline_(std::move(pipeline)) {}

http::Request Client::Get(const std::string& path, const std::string& operation) const {
  http::Request r;
  r.url = base_url_ + path;
  r.service = "vmray";
  r.operation = operation;
  r.headers.Set("Accept", "application/json");
  return r;
}

Result<Json> Client::Call(http::Request request, const std::string& what) {
  auto resp = pipeline_->Send(std::move(request));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "vmray";
    return e;
  }
  if (!resp->ok()) return MapError(*resp, what);
  auto body = ParseJson(resp->body, "VMRay " + what);
  if (!body) {
    body.error().service = "vmray";
    return body.error();
  }
  if (!body->is_object() || body->value("result", "") != "ok" || !body->contains("data")) {
    Error e = MakeError(
        ErrorCode::kProtocol,
        fmt::format("VMRay answer to {} is not a {{\"result\":\"ok\",\"data\":...}} envelope",
                    what));
    e.service = "vmray";
    return e;
  }
  return body;
}

Result<Json> Client::Data(http::Request request, const std::string& what) {
  auto body = Call(std::move(request), what);
  if (!body) return body.error();
  return std::move((*body)["data"]);
}

Result<std::vector<Json>> Client::List(http::Request request, const std::string& what) {
  std::vector<Json> out;
  auto status = Pages(std::move(request), what, [&](Json& data) -> Status {
    for (auto& item : data) out.push_back(std::move(item));
    return Ok();
  });
  if (!status) return status.error();
  return out;
}

Status Client::Pages(http::Request request, const std::string& what,
                     const std::function<Status(Json& data)>& on_page) {
  std::set<int64_t> seen;
  for (int page = 0; page < kMaxPages; ++page) {
    auto body = Call(request, what);
    if (!body) return body.error();
    Json& data = (*body)["data"];
    if (!data.is_array()) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("VMRay answer to {}: data is not a list", what));
    }
    if (auto status = on_page(data); !status) return status;
    auto it = body->find("continuation_id");
    if (it == body->end() || it->is_null()) return Ok();
    if (!it->is_number_integer() || !seen.insert(it->get<int64_t>()).second) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("VMRay answer to {}: bad or repeated continuation_id", what));
    }
    request = Get(fmt::format("/rest/continuation/{}", it->get<int64_t>()), "continuation");
  }
  return MakeError(ErrorCode::kProtocol, fmt::format("VMRay list {} has too many pages", what));
}

Status Client::FinishedSubmissions(TimePoint from, TimePoint to, const std::string& verdict,
                                   const SubmissionPage& on_page) {
  const std::string path =
      fmt::format("/rest/submission?submission_finish_time={}~{}&submission_verdict={}",
                  http::UrlEncode(FormatVmrayTime(from)), http::UrlEncode(FormatVmrayTime(to)),
                  http::UrlEncode(verdict));
  return Pages(Get(path, "submission.list"), "list the finished submissions",
               [&](Json& data) -> Status {
                 std::vector<Submission> page;
                 page.reserve(data.size());
                 for (size_t i = 0; i < data.size(); ++i) {
                   auto s = ParseSubmission(data[i], fmt::format("data[{}]", i));
                   if (!s) return s.error();
                   page.push_back(std::move(*s));
                 }
                 return on_page(page);
               });
}

Result<Json> Client::SystemInfo() {
  return Data(Get("/rest/system_info", "system_info"), "read system info");
}

Result<ApiKeyQuota> Client::Quota() {
  auto data = Data(Get("/rest/api_key/quota", "api_key_quota"), "read the API key quota");
  if (!data) return data.error();
  if (!data->is_object()) {
    return MakeError(ErrorCode::kProtocol, "VMRay API key quota: data is not an object");
  }
  JsonReader r(*data, "api_key_quota");
  ApiKeyQuota q;
  q.quota_limit = r.Int("quota_limit", 0);
  q.used_quota = r.Int("used_quota", 0);
  if (!r.ok()) return r.status().error();
  return q;
}

Status Client::HealthCheck() {
  auto info = SystemInfo();
  if (!info) return info.error();
  return Ok();
}

std::string HashType(std::string_view hash) {
  if (IsHex(hash, 64)) return "sha256";
  if (IsHex(hash, 40)) return "sha1";
  if (IsHex(hash, 32)) return "md5";
  return "";
}

Result<std::vector<Sample>> Client::SamplesByHash(const std::string& hash) {
  const std::string type = HashType(hash);
  if (type.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an MD5, SHA-1 or SHA-256 hash: " + hash.substr(0, 80));
  auto items = List(Get(fmt::format("/rest/sample/{}/{}", type, hash), "sample.by_hash"),
                    "look up the hash");
  if (!items) return items.error();
  std::vector<Sample> out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto s = ParseSample((*items)[i], fmt::format("data[{}]", i));
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<Sample> Client::GetSample(int64_t sample_id) {
  auto data = Data(Get(fmt::format("/rest/sample/{}", sample_id), "sample.get"), "read the sample");
  if (!data) return data.error();
  return ParseSample(*data, "data");
}

http::Request Client::SubmitHttpRequest(const SubmitRequest& s) const {
  http::Request r = Get("/rest/sample/submit", "sample.submit");
  r.method = http::Method::kPost;
  if (!s.url.empty()) {
    r.form.push_back({"sample_url", s.url, "", ""});
  } else {
    // Names with non-ASCII or quoting characters travel base64-encoded, as VMRay's library does.
    const bool b64 = NeedsB64Name(s.filename);
    r.form.push_back(
        {"sample_file", s.content, b64 ? "sample" : s.filename, "application/octet-stream"});
    if (b64) r.form.push_back({"sample_filename_b64enc", Base64Encode(s.filename), "", ""});
  }
  std::string tags;
  for (const auto& t : s.tags) {
    if (t.empty()) continue;
    if (!tags.empty()) tags += ',';
    tags += SanitizeTag(t);
  }
  if (!tags.empty()) r.form.push_back({"tags", tags, "", ""});
  if (!s.comment.empty()) r.form.push_back({"comment", s.comment, "", ""});
  if (!s.user_config.empty()) r.form.push_back({"user_config", s.user_config.dump(), "", ""});
  if (!s.archive_password.empty())
    r.form.push_back({"archive_password", s.archive_password, "", ""});
  if (!s.document_password.empty())
    r.form.push_back({"document_password", s.document_password, "", ""});
  if (!s.sample_type.empty()) r.form.push_back({"sample_type", s.sample_type, "", ""});
  if (s.shareable) r.form.push_back({"shareable", *s.shareable ? "true" : "false", "", ""});
  if (s.max_jobs) r.form.push_back({"max_jobs", std::to_string(*s.max_jobs), "", ""});
  return r;
}

Result<SubmitResult> Client::Submit(const SubmitRequest& s) {
  auto data = Data(SubmitHttpRequest(s), "submit the sample");
  if (!data) return data.error();
  return ParseSubmitResult(*data);
}

Result<Json> Client::SubmitRaw(const SubmitRequest& s) {
  auto data = Data(SubmitHttpRequest(s), "submit the sample");
  if (!data) return data.error();
  if (!data->is_object()) {
    return MakeError(ErrorCode::kProtocol,
                     "VMRay answer to submit the sample: data is not an object");
  }
  return data;
}

Result<Json> Client::SampleRaw(int64_t sample_id) {
  return Data(Get(fmt::format("/rest/sample/{}", sample_id), "sample.get"), "read the sample");
}

Result<Json> Client::SubmissionRaw(int64_t submission_id) {
  return Data(Get(fmt::format("/rest/submission/{}", submission_id), "submission.get"),
              "read the submission");
}

Result<Json> Client::SamplesByHashRaw(const std::string& hash) {
  const std::string type = HashType(hash);
  if (type.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an MD5, SHA-1 or SHA-256 hash: " + hash.substr(0, 80));
  }
  auto items = List(Get(fmt::format("/rest/sample/{}/{}", type, hash), "sample.by_hash"),
                    "look up the hash");
  if (!items) return items.error();
  return Json(std::move(*items));
}

Result<Json> Client::SubmissionsOfSampleRaw(int64_t sample_id) {
  auto items =
      List(Get(fmt::format("/rest/submission/sample/{}", sample_id), "submission.by_sample"),
           "list the sample's submissions");
  if (!items) return items.error();
  return Json(std::move(*items));
}

Result<Json> Client::VtisRaw(int64_t sample_id) {
  return Data(Get(fmt::format("/rest/sample/{}/vtis", sample_id), "sample.vtis"), "read the VTIs");
}

Result<Json> Client::ThreatIndicatorsRaw(int64_t sample_id) {
  return Data(
      Get(fmt::format("/rest/sample/{}/threat_indicators", sample_id), "sample.threat_indicators"),
      "read the threat indicators");
}

Result<Json> Client::AnalysesOfSampleRaw(int64_t sample_id, std::optional<int64_t> limit) {
  std::string path = fmt::format("/rest/analysis/sample/{}", sample_id);
  if (limit) path += fmt::format("?_limit={}", *limit);
  auto items = List(Get(path, "analysis.by_sample"), "list the sample's analyses");
  if (!items) return items.error();
  return Json(std::move(*items));
}

Result<Submission> Client::GetSubmission(int64_t submission_id) {
  auto data = Data(Get(fmt::format("/rest/submission/{}", submission_id), "submission.get"),
                   "read the submission");
  if (!data) return data.error();
  return ParseSubmission(*data, "data");
}

Result<std::vector<Submission>> Client::SubmissionsOfSample(int64_t sample_id) {
  auto items =
      List(Get(fmt::format("/rest/submission/sample/{}", sample_id), "submission.by_sample"),
           "list the sample's submissions");
  if (!items) return items.error();
  std::vector<Submission> out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto s = ParseSubmission((*items)[i], fmt::format("data[{}]", i));
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::vector<Analysis>> Client::AnalysesOfSubmission(int64_t submission_id) {
  auto items = List(
      Get(fmt::format("/rest/analysis/submission/{}", submission_id), "analysis.by_submission"),
      "list the submission's analyses");
  if (!items) return items.error();
  std::vector<Analysis> out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto a = ParseAnalysis((*items)[i], fmt::format("data[{}]", i));
    if (!a) return a.error();
    out.push_back(std::move(*a));
  }
  return out;
}

Result<std::vector<Vti>> Client::Vtis(int64_t sample_id) {
  auto data =
      Data(Get(fmt::format("/rest/sample/{}/vtis", sample_id), "sample.vtis"), "read the VTIs");
  if (!data) return data.error();
  return ParseVtis(*data);
}

Result<Json> Client::Iocs(int64_t sample_id, const std::string& verdict) {
  const std::string path = verdict.empty() ? fmt::format("/rest/sample/{}/iocs", sample_id)
                                           : fmt::format("/rest/sample/{}/iocs/verdict/{}",
                                                         sample_id, http::UrlEncode(verdict));
  return Data(Get(path, "sample.iocs"), "read the IOCs");
}

}  // namespace vc::vmray
