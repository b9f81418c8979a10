#include "core/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>

namespace vc {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Masks the values of sensitive key=value pairs in a '&'-separated list.
std::string RedactPairs(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view pair = text.substr(pos, amp - pos);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSensitiveParam(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out.append(kRedacted);
    } else {
      out.append(pair);
    }
    if (amp < text.size()) out.push_back('&');
    pos = amp + 1;
  }
  return out;
}

}  // namespace

Redactor& Redactor::Global() {
  static Redactor redactor;
  return redactor;
}

void Redactor::Register(std::string_view secret) {
  if (secret.size() < 6) return;
  std::unique_lock lock(mu_);
  if (std::find(values_.begin(), values_.end(), secret) != values_.end()) return;
  values_.emplace_back(secret);
  if (values_.size() > kMaxValues) values_.pop_front();
}

std::string Redactor::Scrub(std::string_view text) const {
  std::string out(text);
  std::shared_lock lock(mu_);
  for (const auto& value : values_) {
    size_t pos = 0;
    while ((pos = out.find(value, pos)) != std::string::npos) {
      out.replace(pos, value.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  return out;
}

void Redactor::ClearForTest() {
  std::unique_lock lock(mu_);
  values_.clear();
}

bool IsSensitiveHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "authorization", "proxy-authorization", "x-functions-key", "cookie",
      "set-cookie",    "x-api-key",           "api-key",         "ocp-apim-subscription-key"};
  return std::any_of(kNames.begin(), kNames.end(),
                     [&](std::string_view n) { return IEquals(n, name); });
}

bool IsSensitiveParam(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "sig",      "code",          "api_key",         "apikey",
      "key",      "client_secret", "access_token",    "refresh_token",
      "password", "assertion",     "client_assertion"};
  return std::any_of(kNames.begin(), kNames.end(),
                     [&](std::string_view n) { return IEquals(n, name); });
}

std::string RedactUrl(std::string_view url) {
  const size_t q = url.find('?');
  if (q == std::string_view::npos) return Scrub(url);
  std::string out(url.substr(0, q + 1));
  std::string_view query = url.substr(q + 1);
  std::string_view fragment;
  if (size_t h = query.find('#'); h != std::string_view::npos) {
    fragment = query.substr(h);
    query = query.substr(0, h);
  }
  out += RedactPairs(query);
  out.append(fragment);
  return Scrub(out);
}

std::string RedactFormBody(std::string_view body) {
  return Scrub(RedactPairs(body));
}

}  // namespace vc
