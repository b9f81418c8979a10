// A value that must never be printed. Reading it takes an explicit Reveal(); streaming or
// formatting it prints "[redacted]". Constructing a string secret registers the value with the
// global Redactor, so even a careless copy into a log line is scrubbed on the way out.
#pragma once

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "core/redact.hpp"

namespace vc {

template <class T = std::string>
class Secret {
 public:
  Secret() = default;
  explicit Secret(T value) : value_(std::move(value)) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      Redactor::Global().Register(value_);
    }
  }
  const T& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  bool operator==(const Secret& other) const = default;

 private:
  T value_{};
};

template <class T>
std::ostream& operator<<(std::ostream& os, const Secret<T>&) {
  return os << kRedacted;
}

}  // namespace vc

template <class T>
struct fmt::formatter<vc::Secret<T>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const vc::Secret<T>&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(vc::kRedacted, ctx);
  }
};
