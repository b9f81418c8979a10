// Which URL entities of an incident go to VMRay. The allow-list is the original playbook's
// WhitelistedURLDomains (original-sentinel-solution.md 5.2), with its exact semantics: the
// setting is a comma-separated list, lower-cased, spaces removed; a URL is left out when its
// host, or the host's last 2, 3 or 4 labels, equals a listed domain ("subdomains up to four
// labels deep"), and when its host is empty.
//
// Beyond the original: a URL whose scheme is neither http nor https (ftp:, javascript:, data:,
// file:) is not submitted either (VMRay's URL analysis opens web pages), and user:password@ is
// taken out of the URL before it goes anywhere (VMRay, the comment, the log): credentials seen
// in an alert are not ours to spread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vc::sentinel_incidents {

// The host of `url` as 5.2 extracts it: the text after "://" (if present), cut at the first
// '/', '?' or '#', userinfo (up to the last '@') dropped, ":port" dropped, lower-cased (ASCII
// only: an IDN host stays as written), trimmed. "[v6]" keeps its brackets off.
std::string UrlHost(std::string_view url);

// WhitelistedURLDomains as the original read it: split at ',', spaces removed, lower-cased,
// empty entries dropped.
std::vector<std::string> ParseAllowedDomains(std::string_view setting);
std::vector<std::string> ParseAllowedDomains(const std::vector<std::string>& entries);

// True when `host` or its last 2, 3 or 4 labels equals one of `domains`.
bool HostAllowListed(std::string_view host, const std::vector<std::string>& domains);

enum class UrlDecision {
  kSubmit,
  kAllowListed,        // the allow-list matched its host
  kEmptyHost,          // nothing left after the host extraction
  kUnsupportedScheme,  // a scheme other than http/https
};

struct UrlVerdict {
  UrlDecision decision = UrlDecision::kSubmit;
  std::string url;   // what is submitted and shown: trimmed, credentials removed
  std::string host;  // UrlHost(url)
};

UrlVerdict DecideUrl(std::string_view raw, const std::vector<std::string>& domains);

// "https://a.example/x" -> "a.example/x", as the original's comment heading shows the URL
// (only https:// and http:// are stripped, case-insensitively).
std::string WithoutScheme(std::string_view url);

}  // namespace vc::sentinel_incidents
