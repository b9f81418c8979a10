// Keeps secrets out of every output. Two layers: known secret *values* (API keys, client
// secrets, tokens, SAS signatures) are registered once and scrubbed from any text that leaves
// the process (logs, error messages, the status page); and known secret *places* (headers, query
// parameters, form and JSON fields) are masked before a request is ever described.
#pragma once

#include <deque>
#include <shared_mutex>
#include <string>
#include <string_view>

namespace vc {

inline constexpr std::string_view kRedacted = "[redacted]";

class Redactor {
 public:
  static Redactor& Global();
  // Values shorter than 6 characters are ignored: scrubbing "true" or "1" everywhere would
  // mangle ordinary text and protects nothing.
  void Register(std::string_view secret);
  std::string Scrub(std::string_view text) const;
  void ClearForTest();

 private:
  static constexpr size_t kMaxValues = 512;
  mutable std::shared_mutex mu_;
  std::deque<std::string> values_;
};

inline std::string Scrub(std::string_view text) {
  return Redactor::Global().Scrub(text);
}

bool IsSensitiveHeader(std::string_view name);
bool IsSensitiveParam(std::string_view name);
// Masks sensitive query parameters (sig, code, api_key, ...) of a URL.
std::string RedactUrl(std::string_view url);
// Masks sensitive fields of an application/x-www-form-urlencoded body.
std::string RedactFormBody(std::string_view body);

}  // namespace vc
