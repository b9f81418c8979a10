// VMRay IOCs -> MDE custom indicator bodies, as the original connector mapped them: file hashes
// to FileSha256, ips[].ip_address to IpAddress, ips[].domains[] to DomainName, each
// urls[].original_urls[] reduced to its host (IpAddress or DomainName) and, when asked for, the
// URL itself as Url. Pure functions: every value is validated and checked against the allow-list
// here, and every value left out comes back with a reason the caller logs and counts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::defender {

// The `application` of every indicator the connector creates: the original's value (typo
// included), so indicators an earlier original deployment created count as ours and are updated
// instead of duplicated.
inline constexpr std::string_view kIndicatorApplication = "VMRayDefenderFoEndpointConnectorApp";
inline constexpr std::string_view kIndicatorTitle = "Indicator based on VMRay Analyzer Report";

struct IndicatorSettings {
  std::string action_malicious_file = "Block";
  std::string action_suspicious_file = "Audit";
  std::string action_malicious_network = "Block";
  std::string action_suspicious_network = "Audit";
  bool generate_alert = false;  // forced on for Audit (MDE requires it)
  int expiration_days = 30;
  bool url_indicators = false;
  std::vector<std::string> allow_list;  // the user's entries, on top of the built-in ones
};

// Benign infrastructure that must never become an indicator: domain suffixes (with '*' inside a
// label: "akamai*.net"), IP addresses and CIDR ranges. The built-in entries (major Microsoft,
// CDN and cloud domains; private, loopback, link-local, multicast and reserved ranges) are
// always there; the user's come on top.
class AllowList {
 public:
  // Fails on an entry that is no domain suffix, IP address or CIDR range, naming it.
  static Result<AllowList> Build(const std::vector<std::string>& user_entries);

  // Why `host` (a validated, lower-case domain name) is allow-listed, or nullopt.
  std::optional<std::string> DomainReason(std::string_view host) const;
  // Why `ip` (a validated IP literal) is left out: "private_ip", "loopback_ip",
  // "link_local_ip", "multicast_ip", "reserved_ip" or "allow_listed_ip"; nullopt when it is not.
  std::optional<std::string> IpReason(std::string_view ip) const;

 private:
  struct Range {
    std::array<uint8_t, 16> prefix{};  // IPv4 as ::ffff:a.b.c.d
    int bits = 0;                      // of the 128
    std::string reason;
  };
  std::vector<std::string> domains_;  // built-in first
  std::vector<Range> ranges_;
  size_t builtin_domains_ = 0;
};

// Canonical forms, or nullopt when the value is not one.
std::optional<std::string> NormalizeSha256(std::string_view value);
std::optional<std::string> NormalizeIp(std::string_view value);      // IPv4 or IPv6 literal
std::optional<std::string> NormalizeDomain(std::string_view value);  // hostname syntax, lower
std::optional<std::string> NormalizeUrl(std::string_view value);     // http(s) with a valid host
// The host of a URL (no scheme, credentials, port or brackets); empty when there is none.
std::string UrlHost(std::string_view url);

// What the description names.
struct IndicatorContext {
  std::string alert_id;
  std::string sample_sha256;  // the (child) sample whose IOCs these are
  std::string report_url;     // the sample's VMRay report
  TimePoint now{};
};

struct IndicatorCandidate {
  std::string type;      // FileSha256, IpAddress, DomainName, Url
  std::string value;     // canonical
  std::string severity;  // High, Medium
  Json body;             // one entry of POST /api/indicators/import's "Indicators"
};

struct SkippedValue {
  std::string type;    // what it would have been ("" when not even that is known)
  std::string value;   // as VMRay sent it, cut to 200 characters
  std::string reason;  // low-cardinality label: invalid_hash, allow_listed_domain, private_ip, ...
};

struct MappedIndicators {
  std::vector<IndicatorCandidate> indicators;  // each value once
  std::vector<SkippedValue> skipped;
};

// Every skip reason MapIocs and the writer use (the metric's label values).
const std::vector<std::string_view>& SkipReasons();

// Maps `data` of GET /rest/sample/{id}/iocs (an object holding "iocs", or the "iocs" object
// itself). An entry's own verdict decides its action and severity; entries whose verdict is not
// malicious or suspicious, or not in `verdicts`, are left out without a reason (they are no
// detection). `verdicts`: lower-case VMRay verdicts.
MappedIndicators MapIocs(const Json& iocs, const std::vector<std::string>& verdicts,
                         const IndicatorContext& context, const IndicatorSettings& settings,
                         const AllowList& allow_list);

// Severity rank for eviction: Informational 0, Low 1, Medium 2, High 3.
int SeverityRank(std::string_view severity);

}  // namespace vc::defender
