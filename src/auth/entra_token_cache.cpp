#include "auth/entra_token_cache.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/json.hpp"
#include "core/metrics.hpp"
#include "http/curl_transport.hpp"

namespace vc::auth {
namespace {

constexpr auto kRefreshAhead = std::chrono::minutes(5);

std::string TrimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

Error TokenError(const http::Response& r, const std::string& resource) {
  Error e;
  e.service = "entra";
  e.http_status = r.status;
  std::string code, description;
  if (auto j = ParseJson(r.body, "Entra token endpoint")) {
    code = j->value("error", "");
    description = j->value("error_description", "");
    if (j->contains("correlation_id") && (*j)["correlation_id"].is_string()) {
      e.request_id = (*j)["correlation_id"].get<std::string>();
    }
  }
  // Keep the AADSTS code and its first sentence; the rest is trace noise.
  description = description.substr(0, description.find_first_of("\r\n"));
  e.service_code = code;
  if (r.status >= 500 || r.status == 429) {
    e.code = r.status == 429 ? ErrorCode::kRateLimited : ErrorCode::kUnavailable;
    e.message =
        fmt::format("Entra token endpoint answered {} for {}; will retry", r.status, resource);
  } else if (code == "invalid_client" || code == "unauthorized_client") {
    e.code = ErrorCode::kUnauthenticated;
    e.message = fmt::format(
        "Entra rejected the app credentials ({}): check AzureClientID and AzureClientSecret "
        "(secrets expire) — {}",
        code, description);
  } else if (code == "invalid_scope" || code == "invalid_resource") {
    e.code = ErrorCode::kInvalidArgument;
    e.message =
        fmt::format("Entra does not know the resource {} ({}): {}", resource, code, description);
  } else {
    e.code = ErrorCode::kInvalidArgument;
    e.message = fmt::format(
        "Entra refused the token request ({} {}): check AzureTenantID and "
        "azure.authority_host — {}",
        r.status, code.empty() ? "no error code" : code, description);
  }
  return e;
}

}  // namespace

EntraTokenCache::EntraTokenCache(EntraOptions options, std::shared_ptr<http::Pipeline> pipeline,
                                 Clock& clock)
    : options_(std::move(options)), pipeline_(std::move(pipeline)), clock_(clock) {}

EntraTokenCache::Entry& EntraTokenCache::EntryFor(const std::string& resource) {
  std::lock_guard lock(map_mu_);
  auto& slot = entries_[resource];
  if (!slot) slot = std::make_unique<Entry>();
  return *slot;
}

Result<std::string> EntraTokenCache::Token(const std::string& resource) {
  Entry& entry = EntryFor(resource);
  std::lock_guard lock(entry.mu);
  if (!entry.token.empty() && clock_.Now() < entry.expires_at - kRefreshAhead) return entry.token;
  return Fetch(resource, entry, entry.token.empty() ? "first" : "expiring");
}

Result<std::string> EntraTokenCache::Refresh(const std::string& resource,
                                             const std::string& rejected) {
  Entry& entry = EntryFor(resource);
  std::lock_guard lock(entry.mu);
  if (!entry.token.empty() && entry.token != rejected) return entry.token;
  return Fetch(resource, entry, "rejected");
}

Result<std::string> EntraTokenCache::Fetch(const std::string& resource, Entry& entry,
                                           const char* reason) {
  http::Request req;
  req.method = http::Method::kPost;
  req.service = "entra";
  req.operation = "token";
  req.idempotent = true;  // asking twice for a token is harmless
  std::vector<std::pair<std::string, std::string>> form = {
      {"grant_type", "client_credentials"},
      {"client_id", options_.client_id},
      {"client_secret", options_.client_secret.Reveal()}};
  const std::string base =
      TrimSlash(options_.authority_host) + "/" + http::UrlEncode(options_.tenant_id);
  if (options_.token_version == "v1") {
    req.url = base + "/oauth2/token";
    form.emplace_back("resource", resource);
  } else {
    req.url = base + "/oauth2/v2.0/token";
    form.emplace_back("scope", TrimSlash(resource) + "/.default");
  }
  req.body = http::EncodeQuery(form);
  req.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  req.headers.Set("Accept", "application/json");

  auto resp = pipeline_->Send(std::move(req));
  if (!resp) {
    Error e = resp.error();
    e.message = "cannot reach the Entra token endpoint: " + e.message;
    return e;
  }
  if (!resp->ok()) return TokenError(*resp, resource);
  auto body = ParseJson(resp->body, "Entra token endpoint");
  if (!body) return body.error();
  JsonReader r(*body, "token");
  std::string token = r.Str("access_token");
  // v1 answers expires_in as a string, v2 as a number.
  int64_t expires_in = 0;
  if (body->contains("expires_in") && (*body)["expires_in"].is_string()) {
    expires_in = std::strtoll((*body)["expires_in"].get<std::string>().c_str(), nullptr, 10);
  } else {
    expires_in = r.Int("expires_in", 1, 7 * 24 * 3600);
  }
  if (!r.ok()) return r.status().error();
  if (token.empty() || expires_in <= 0) {
    return MakeError(ErrorCode::kProtocol,
                     "Entra token response has no usable access_token/expires_in");
  }
  Redactor::Global().Register(token);
  const TimePoint now = clock_.Now();
  entry.token = std::move(token);
  entry.fetched_at = now;
  // Short-lived tokens: refresh at 90% of their life instead of 5 minutes before the end.
  const auto life = std::chrono::seconds(expires_in);
  entry.expires_at = now + (life > 2 * kRefreshAhead ? life : life * 9 / 10 + kRefreshAhead);
  Metrics::Global().Inc("vc_token_refreshes_total", {{"reason", reason}});
  spdlog::debug("fetched Entra token for {} ({}; valid {} s)", resource, reason, expires_in);
  return entry.token;
}

Result<std::string> EntraCredential::AuthorizationHeader() {
  auto token = cache_->Token(resource_);
  if (!token) return token.error();
  return "Bearer " + *token;
}

Result<std::string> EntraCredential::AfterRejection(const std::string& rejected) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string token =
      rejected.rfind(kBearer, 0) == 0 ? rejected.substr(kBearer.size()) : rejected;
  auto fresh = cache_->Refresh(resource_, token);
  if (!fresh) return fresh.error();
  return "Bearer " + *fresh;
}

}  // namespace vc::auth
