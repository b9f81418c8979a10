#include "clients/blob/shared_key.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <vector>

#include "core/base64.hpp"
#include "http/curl_transport.hpp"

namespace vc::blob {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool HasBody(http::Method method) {
  return method != http::Method::kGet && method != http::Method::kHead;
}

// The encoded path and the raw query of an absolute URL.
std::pair<std::string_view, std::string_view> PathAndQuery(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  const size_t path = url.find('/', start);
  const size_t query = url.find('?', start);
  if (path == std::string_view::npos || (query != std::string_view::npos && query < path)) {
    return {"/", query == std::string_view::npos ? std::string_view() : url.substr(query + 1)};
  }
  if (query == std::string_view::npos) return {url.substr(path), {}};
  return {url.substr(path, query - path), url.substr(query + 1)};
}

std::string CanonicalizedResource(std::string_view url, std::string_view account) {
  auto [path, query] = PathAndQuery(url);
  std::string out = fmt::format("/{}{}", account, path);
  std::map<std::string, std::vector<std::string>> params;  // sorted by lower-case name
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const std::string name = Lower(http::UrlDecode(pair.substr(0, eq)));
      params[name].push_back(eq == std::string_view::npos ? std::string()
                                                          : http::UrlDecode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += fmt::format("\n{}:{}", name, fmt::join(values, ","));
  }
  return out;
}

}  // namespace

std::string HmacSha256Base64(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string FormatRfc1123(TimePoint t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // Spelled out rather than strftime("%a %b"): the names must not follow the process locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string SharedKeyStringToSign(const http::Request& request, std::string_view account) {
  const auto header = [&](std::string_view name) {
    return std::string(Trim(request.headers.Get(name).value_or("")));
  };
  std::string length;
  if (HasBody(request.method) && !request.body.empty()) {
    length = std::to_string(request.body.size());
  }
  std::string out = fmt::format("{}\n", http::MethodName(request.method));
  for (const std::string& value :
       {header("Content-Encoding"), header("Content-Language"), length, header("Content-MD5"),
        header("Content-Type"), header("Date"), header("If-Modified-Since"), header("If-Match"),
        header("If-None-Match"), header("If-Unmodified-Since"), header("Range")}) {
    out += value;
    out += '\n';
  }
  std::map<std::string, std::vector<std::string>> ms;
  for (const auto& [name, value] : request.headers.items()) {
    std::string lower = Lower(Trim(name));
    if (lower.rfind("x-ms-", 0) == 0) ms[lower].emplace_back(Trim(value));
  }
  for (const auto& [name, values] : ms) out += fmt::format("{}:{}\n", name, fmt::join(values, ","));
  out += CanonicalizedResource(request.url, account);
  return out;
}

void SignSharedKey(http::Request& request, std::string_view account, std::string_view raw_key,
                   TimePoint now) {
  request.headers.Set("x-ms-date", FormatRfc1123(now));
  if (!request.headers.Has("x-ms-version")) {
    request.headers.Set("x-ms-version", std::string(kStorageApiVersion));
  }
  const std::string signature = HmacSha256Base64(raw_key, SharedKeyStringToSign(request, account));
  request.headers.Set("Authorization", fmt::format("SharedKey {}:{}", account, signature));
}

SharedKeyTransport::SharedKeyTransport(std::string account, Secret<std::string> raw_key,
                                       std::shared_ptr<http::Transport> inner, Clock& clock)
    : account_(std::move(account)),
      raw_key_(std::move(raw_key)),
      inner_(std::move(inner)),
      clock_(clock) {}

Result<http::Response> SharedKeyTransport::Send(const http::Request& request) {
  http::Request signed_request = request;
  // libcurl adds "Content-Type: application/x-www-form-urlencoded" to any request with a body
  // that names none; Content-Type is signed, so the signature must see the header that is sent.
  if (HasBody(signed_request.method) && !signed_request.headers.Has("Content-Type")) {
    signed_request.headers.Set("Content-Type", "application/octet-stream");
  }
  SignSharedKey(signed_request, account_, raw_key_.Reveal(), clock_.Now());
  return inner_->Send(signed_request);
}

}  // namespace vc::blob
