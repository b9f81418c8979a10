// The standard policies, in the order a client pipeline stacks them:
//   request id -> user agent -> retry -> rate limit -> auth -> logging -> metrics -> transport
// Retry sits outside auth and the limiter, so every attempt takes a fresh token and a fresh
// rate-limit slot; logging and metrics sit inside, so every attempt is seen.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "core/clock.hpp"
#include "core/random.hpp"
#include "http/pipeline.hpp"
#include "http/rate_limiter.hpp"

namespace vc::http {

// Sets a client request id (for the service's logs and support) unless one is set.
class RequestIdPolicy final : public Policy {
 public:
  explicit RequestIdPolicy(Random& random, std::string header = "client-request-id")
      : random_(random), header_(std::move(header)) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  Random& random_;
  std::string header_;
};

class UserAgentPolicy final : public Policy {
 public:
  explicit UserAgentPolicy(std::string user_agent) : user_agent_(std::move(user_agent)) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  std::string user_agent_;
};

struct RetryOptions {
  int max_retries = 3;              // VmrayAPIMaxRetry / DefenderApiMaxRetry
  Millis total_budget{5 * 60'000};  // VmrayAPIRetryTimeout / DefenderApiRetryTimeout
  Millis base_delay{1'000};
  Millis max_delay{60'000};
  // Waits longer than this are not slept inside a job step: the last answer goes back to the
  // caller (with its Retry-After) and the job is rescheduled, so no worker thread idles.
  Millis max_inline_wait{30'000};
  std::set<int> retry_statuses{408, 429, 500, 502, 503, 504};
};

// Exponential back-off with full jitter, honouring Retry-After (seconds or HTTP-date), bounded
// by a retry count and a total time budget. Non-idempotent requests are repeated only after
// 429 or a failed connect, the two answers that prove the server did not act on them.
class RetryPolicy final : public Policy {
 public:
  RetryPolicy(RetryOptions options, Clock& clock, Random& random)
      : options_(std::move(options)), clock_(clock), random_(random) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  RetryOptions options_;
  Clock& clock_;
  Random& random_;
};

// Takes a token from the operation's limiter ("<service>.<operation>"); waits inline when the
// wait is short, otherwise answers RateLimited with retry_after so the job comes back later.
class RateLimitPolicy final : public Policy {
 public:
  RateLimitPolicy(std::shared_ptr<RateLimiterRegistry> limiters, Clock& clock,
                  Millis max_inline_wait = Millis(30'000))
      : limiters_(std::move(limiters)), clock_(clock), max_inline_wait_(max_inline_wait) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  std::shared_ptr<RateLimiterRegistry> limiters_;
  Clock& clock_;
  Millis max_inline_wait_;
};

// Supplies the Authorization header value ("Bearer ...", "api_key ...").
class Credential {
 public:
  virtual ~Credential() = default;
  virtual Result<std::string> AuthorizationHeader() = 0;
  // After a 401 answered to `rejected` (the header that was sent): a header worth one more try.
  // A credential refreshed meanwhile by another caller returns that instead of fetching again.
  virtual Result<std::string> AfterRejection(const std::string& rejected) = 0;
  // Whether a 401 can be cured by a new credential (tokens yes, API keys no).
  virtual bool CanRefresh() const = 0;
};

// Adds the credential to every attempt. A 401 forces one refresh and one retry, never a loop.
class AuthPolicy final : public Policy {
 public:
  explicit AuthPolicy(std::shared_ptr<Credential> credential)
      : credential_(std::move(credential)) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  std::shared_ptr<Credential> credential_;
};

// Debug line per attempt (method, redacted URL, status, time, service request id).
class LoggingPolicy final : public Policy {
 public:
  explicit LoggingPolicy(Clock& clock) : clock_(clock) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  Clock& clock_;
};

class MetricsPolicy final : public Policy {
 public:
  explicit MetricsPolicy(Clock& clock) : clock_(clock) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  Clock& clock_;
};

// The request id a service put in its answer (x-ms-request-id, request-id, ...), if any.
std::string ServiceRequestId(const Response& response);

}  // namespace vc::http
