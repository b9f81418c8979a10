#include "http/policies.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "http/retry_after.hpp"

namespace vc::http {

Result<Response> RequestIdPolicy::Send(Request& request, const NextPolicy& next) {
  if (!request.headers.Has(header_)) request.headers.Set(header_, random_.Uuid4());
  return next(request);
}

Result<Response> UserAgentPolicy::Send(Request& request, const NextPolicy& next) {
  if (!request.headers.Has("User-Agent")) request.headers.Set("User-Agent", user_agent_);
  return next(request);
}

Result<Response> RetryPolicy::Send(Request& request, const NextPolicy& next) {
  const TimePoint start = clock_.Now();
  for (int attempt = 0;; ++attempt) {
    Request copy = request;  // policies below may change headers (auth); start clean each time
    Result<Response> result = next(copy);
    request.rate_limit_prepaid = false;  // the caller's limiter token paid for the first attempt

    std::string reason;
    std::optional<Millis> asked;
    bool may_retry = false;
    if (!result) {
      const Error& e = result.error();
      // Errors raised by inner policies (limiter, token) carry their own timing: pass them on.
      const bool transport = e.service_code.rfind("transport:", 0) == 0;
      if (!transport || !e.IsTransient()) return result;
      reason = std::string(e.service_code);
      may_retry = request.IsIdempotent() || e.service_code == kTransportConnect;
    } else {
      Response& r = *result;
      if (!options_.retry_statuses.count(r.status)) return result;
      reason = fmt::format("http {}", r.status);
      if (r.status == 429)
        Metrics::Global().Inc("vc_http_throttled_total", {{"service", request.service}});
      if (auto ra = r.headers.Get("Retry-After")) {
        asked = ParseRetryAfter(*ra, clock_.Now());
        // Handed on as delta-seconds measured on this pipeline's clock: a client that maps the
        // answer to Error::retry_after has no clock, and reading an HTTP-date against another
        // one (the system clock under a test's ManualClock) gave a wrong wait.
        if (asked) r.headers.Set("Retry-After", std::to_string((asked->count() + 999) / 1000));
      }
      may_retry = request.IsIdempotent() || r.status == 429;
    }
    if (!may_retry || attempt >= options_.max_retries) return result;

    Millis delay = asked.value_or(Millis(0));
    if (!asked) {
      const double cap = std::min<double>(
          static_cast<double>(options_.max_delay.count()),
          static_cast<double>(options_.base_delay.count()) * std::pow(2.0, attempt));
      delay = Millis(static_cast<int64_t>(random_.Uniform(0, cap)));
    }
    const auto elapsed = std::chrono::duration_cast<Millis>(clock_.Now() - start);
    if (delay > options_.max_inline_wait || elapsed + delay > options_.total_budget) {
      // Out of patience for this step; the caller schedules the next attempt from Retry-After.
      return result;
    }
    Metrics::Global().Inc("vc_http_retries_total",
                          {{"service", request.service},
                           {"reason", reason.rfind("http", 0) == 0 ? reason : "transport"}});
    spdlog::info("retrying {} {} {} after {} ms ({}; attempt {} of {})", request.service,
                 request.operation, RedactUrl(request.url), delay.count(), reason, attempt + 1,
                 options_.max_retries);
    clock_.SleepFor(delay);
  }
}

Result<Response> RateLimitPolicy::Send(Request& request, const NextPolicy& next) {
  RateLimiter* limiter =
      limiters_ ? limiters_->Find(request.service + "." + request.operation) : nullptr;
  if (limiter && request.rate_limit_prepaid) {
    request.rate_limit_prepaid = false;  // paid once; the retry policy clears its own copy
  } else if (limiter) {
    for (;;) {
      const Millis wait = limiter->TryAcquire();
      if (wait.count() == 0) break;
      if (wait > max_inline_wait_) {
        Error e = MakeError(ErrorCode::kRateLimited,
                            fmt::format("local rate limit {} reached; next slot in {} s",
                                        limiter->name(), (wait.count() + 999) / 1000));
        e.service = request.service;
        e.service_code = std::string(kLocalRateLimitCode);
        e.retry_after = std::chrono::ceil<std::chrono::seconds>(wait);
        return e;
      }
      Metrics::Global().Inc("vc_rate_limiter_waits_total", {{"limiter", limiter->name()}});
      clock_.SleepFor(wait);
    }
    Metrics::Global().Set("vc_rate_limiter_utilisation", {{"limiter", limiter->name()}},
                          limiter->Utilisation());
  }
  return next(request);
}

Result<Response> AuthPolicy::Send(Request& request, const NextPolicy& next) {
  auto header = credential_->AuthorizationHeader();
  if (!header) return header.error();
  request.headers.Set("Authorization", *header);
  Result<Response> result = next(request);
  if (!result || result->status != 401 || !credential_->CanRefresh()) return result;
  // The token may have been revoked or expired early: refresh once and try once more.
  auto fresh = credential_->AfterRejection(*header);
  if (!fresh) return fresh.error();
  request.headers.Set("Authorization", *fresh);
  return next(request);
}

std::string ServiceRequestId(const Response& response) {
  for (const char* name : {"x-ms-request-id", "request-id", "x-request-id", "client-request-id"}) {
    if (auto v = response.headers.Get(name)) return *v;
  }
  return {};
}

Result<Response> LoggingPolicy::Send(Request& request, const NextPolicy& next) {
  const TimePoint start = clock_.Now();
  Result<Response> result = next(request);
  const auto ms = std::chrono::duration_cast<Millis>(clock_.Now() - start).count();
  if (result) {
    spdlog::debug("http {} {} {} -> {} in {} ms{}", request.service, MethodName(request.method),
                  RedactUrl(request.url), result->status, ms, [&] {
                    auto id = ServiceRequestId(*result);
                    return id.empty() ? std::string() : " request-id=" + id;
                  }());
  } else {
    spdlog::debug("http {} {} {} failed in {} ms: {}", request.service, MethodName(request.method),
                  RedactUrl(request.url), ms, result.error().message);
  }
  return result;
}

Result<Response> MetricsPolicy::Send(Request& request, const NextPolicy& next) {
  const TimePoint start = clock_.Now();
  Result<Response> result = next(request);
  const double seconds = std::chrono::duration<double>(clock_.Now() - start).count();
  std::string status_class = "error";
  if (result) status_class = fmt::format("{}xx", result->status / 100);
  auto& m = Metrics::Global();
  m.Inc("vc_http_requests_total", {{"service", request.service},
                                   {"operation", request.operation},
                                   {"status_class", status_class}});
  m.Observe("vc_http_request_seconds", {{"service", request.service}}, seconds);
  return result;
}

}  // namespace vc::http
