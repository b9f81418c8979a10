// The value types every client speaks: one Request in, one Response out. Non-2xx answers are
// Responses, not errors; each client maps its own service's error body to vc::Error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace vc::http {

enum class Method { kGet, kPost, kPut, kPatch, kDelete, kHead };
std::string_view MethodName(Method method);

// Header names compare case-insensitively; order of insertion is kept.
class Headers {
 public:
  void Set(std::string name, std::string value);  // replaces every header of that name
  void Add(std::string name, std::string value);
  void Remove(std::string_view name);
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// One part of a multipart/form-data body; the transport encodes it (libcurl's MIME API).
struct FormPart {
  std::string name;
  std::string data;
  std::string filename;      // non-empty: a file part
  std::string content_type;  // empty: libcurl's default
};

struct Request {
  Method method = Method::kGet;
  std::string url;
  Headers headers;
  std::string body;
  std::vector<FormPart> form;  // non-empty: multipart/form-data, `body` is ignored
  Millis timeout{0};           // 0: the transport's default
  // Low-cardinality labels for logs, metrics and rate limiters, e.g. "mde", "alerts.update".
  std::string service;
  std::string operation;
  // A retried non-idempotent request could act twice (two submissions, two comments). The retry
  // policy only repeats it when the failure proves the server never processed it.
  std::optional<bool> idempotent;  // nullopt: by method (GET/HEAD/PUT/DELETE yes)
  // The caller already took this request's token from its operation's limiter
  // (RateLimiter::TryAcquire), so that a scarce slot goes to the job that will use it; the
  // limiter lets the first attempt through and charges any retry as usual.
  bool rate_limit_prepaid = false;
  bool IsIdempotent() const;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

}  // namespace vc::http
