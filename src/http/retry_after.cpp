#include "http/retry_after.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace vc::http {

std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now) {
  constexpr Millis kCap{24 * 3600 * 1000};
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return kCap;
    return std::min(kCap, Millis(std::stoll(std::string(value)) * 1000));
  }
  // curl_getdate understands RFC 1123, RFC 850 and asctime forms.
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when < 0) return std::nullopt;
  const auto wait =
      std::chrono::duration_cast<Millis>(std::chrono::system_clock::from_time_t(when) - now);
  return std::clamp(wait, Millis(0), kCap);
}

}  // namespace vc::http
