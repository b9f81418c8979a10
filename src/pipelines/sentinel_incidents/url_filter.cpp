#include "pipelines/sentinel_incidents/url_filter.hpp"

#include <algorithm>
#include <cctype>

namespace vc::sentinel_incidents {
namespace {

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The scheme of `url` ("https"), or empty when it has none. A scheme is letters, digits, '+',
// '-', '.' starting with a letter, followed by ':' (RFC 3986 3.1). "host:8080/x" has no scheme
// (a digit after the colon), as browsers read it.
std::string SchemeOf(std::string_view url) {
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  if (!std::isalpha(static_cast<unsigned char>(url[0]))) return "";
  for (size_t i = 0; i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return "";
  }
  const std::string_view rest = url.substr(colon + 1);
  if (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest[0]))) return "";
  return LowerAscii(url.substr(0, colon));
}

// `url` without "user:password@" in its authority.
std::string WithoutCredentials(std::string_view url) {
  const size_t sep = url.find("://");
  const size_t start = sep == std::string_view::npos ? 0 : sep + 3;
  const size_t end = url.find_first_of("/?#", start);
  const std::string_view authority =
      url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, start));
  out += authority.substr(at + 1);
  if (end != std::string_view::npos) out += url.substr(end);
  return out;
}

}  // namespace

std::string UrlHost(std::string_view url) {
  std::string_view s = url;
  if (const size_t sep = s.find("://"); sep != std::string_view::npos) s = s.substr(sep + 3);
  if (const size_t cut = s.find_first_of("/?#"); cut != std::string_view::npos)
    s = s.substr(0, cut);
  if (const size_t at = s.rfind('@'); at != std::string_view::npos) s = s.substr(at + 1);
  if (!s.empty() && s.front() == '[') {
    // An IPv6 literal: its colons are not a port.
    const size_t close = s.find(']');
    s = close == std::string_view::npos ? s.substr(1) : s.substr(1, close - 1);
  } else if (const size_t colon = s.find(':'); colon != std::string_view::npos) {
    s = s.substr(0, colon);
  }
  return std::string(Trim(LowerAscii(s)));
}

std::vector<std::string> ParseAllowedDomains(std::string_view setting) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) out.push_back(LowerAscii(current));
    current.clear();
  };
  for (char c : setting) {
    if (c == ',') {
      flush();
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      current.push_back(c);
    }
  }
  flush();
  return out;
}

std::vector<std::string> ParseAllowedDomains(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    for (auto& d : ParseAllowedDomains(std::string_view(e))) out.push_back(std::move(d));
  }
  return out;
}

bool HostAllowListed(std::string_view host, const std::vector<std::string>& domains) {
  if (host.empty() || domains.empty()) return false;
  std::vector<std::string_view> candidates = {host};
  // The last 2, 3 and 4 labels, when the host has more labels than that.
  std::vector<size_t> dots;
  for (size_t i = 0; i < host.size(); ++i) {
    if (host[i] == '.') dots.push_back(i);
  }
  for (size_t labels = 2; labels <= 4; ++labels) {
    if (dots.size() < labels) break;  // the host itself has `labels` labels or fewer
    candidates.push_back(host.substr(dots[dots.size() - labels] + 1));
  }
  return std::any_of(candidates.begin(), candidates.end(), [&](std::string_view c) {
    return std::find(domains.begin(), domains.end(), c) != domains.end();
  });
}

UrlVerdict DecideUrl(std::string_view raw, const std::vector<std::string>& domains) {
  UrlVerdict v;
  v.url = WithoutCredentials(Trim(raw));
  v.host = UrlHost(v.url);
  const std::string scheme = SchemeOf(v.url);
  if (!scheme.empty() && scheme != "http" && scheme != "https") {
    v.decision = UrlDecision::kUnsupportedScheme;
  } else if (v.host.empty()) {
    v.decision = UrlDecision::kEmptyHost;
  } else if (HostAllowListed(v.host, domains)) {
    v.decision = UrlDecision::kAllowListed;
  }
  return v;
}

std::string WithoutScheme(std::string_view url) {
  for (std::string_view prefix : {"https://", "http://"}) {
    if (url.size() >= prefix.size() && LowerAscii(url.substr(0, prefix.size())) == prefix)
      return std::string(url.substr(prefix.size()));
  }
  return std::string(url);
}

}  // namespace vc::sentinel_incidents
