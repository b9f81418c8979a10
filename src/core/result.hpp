// Errors as values. Result<T> is shaped like std::expected (which g++ 12 lacks): a value or an
// Error, never both. External failures travel up as Error so one job step fails, not the process.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vc {

// Error::service_code of a call our own rate limiter held back before sending it (the HTTP
// pipeline's rate-limit policy): a wait for the next slot, not a failure of the service.
inline constexpr std::string_view kLocalRateLimitCode = "LocalRateLimit";

enum class ErrorCode {
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kConflict,
  kRateLimited,
  kUnavailable,
  kTimeout,
  kCancelled,
  kProtocol,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  // Human-actionable and already redacted: it may end up in a comment or on the status page.
  std::string message;
  int http_status = 0;       // 0 when no HTTP response was received
  std::string service;       // "vmray", "mde", "entra", ...
  std::string service_code;  // the service's own error code, e.g. "ActiveRequestAlreadyExists"
  std::string request_id;    // the service's request/correlation id, for support tickets
  std::optional<std::chrono::seconds> retry_after;  // when the service told us how long to wait

  // Transient errors are worth another attempt later; the others need a human or new input.
  bool IsTransient() const;
  // One line: "<code> [service http=... code=... request-id=...]: message".
  std::string ToString() const;
};

Error MakeError(ErrorCode code, std::string message);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}      // NOLINT implicit
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  const Error& error() const { return std::get<1>(data_); }
  Error& error() { return std::get<1>(data_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return has_value() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT implicit

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *error_; }
  Error& error() { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status Ok() {
  return {};
}

}  // namespace vc

// Propagates the error of an expression returning Result<...>.
#define VC_RETURN_IF_ERROR(expr)                \
  do {                                          \
    auto vc_status_ = (expr);                   \
    if (!vc_status_) return vc_status_.error(); \
  } while (false)

#define VC_CONCAT_INNER(a, b) a##b
#define VC_CONCAT(a, b) VC_CONCAT_INNER(a, b)
#define VC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp) return tmp.error();                  \
  lhs = std::move(tmp).value()
// VC_ASSIGN_OR_RETURN(auto x, Foo()); assigns the value or returns the error.
#define VC_ASSIGN_OR_RETURN(lhs, expr) \
  VC_ASSIGN_OR_RETURN_IMPL(VC_CONCAT(vc_r_, __LINE__), lhs, expr)
