#include "pipelines/defender_alerts/indicator_mapping.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "core/time.hpp"

namespace vc::defender {
namespace {

// Suffixes of infrastructure every sample talks to (updates, CDNs, certificate checks): an
// indicator on them would block half the estate. '*' matches within one label.
constexpr std::string_view kBuiltinDomains[] = {
    "microsoft.com",
    "microsoftonline.com",
    "windows.com",
    "windows.net",
    "windowsupdate.com",
    "office.com",
    "office.net",
    "office365.com",
    "live.com",
    "msn.com",
    "bing.com",
    "skype.com",
    "msftconnecttest.com",
    "msftncsi.com",
    "azure*.net",
    "azure*.com",
    "akamai*.net",
    "akamai*.com",
    "cloudflare*.com",
    "cloudflare*.net",
    "amazonaws.com",
    "cloudfront.net",
    "googleapis.com",
    "gstatic.com",
    "google.com",
    "apple.com",
    "icloud.com",
    "digicert.com",
    "verisign.com",
    "globalsign.com",
    "sectigo.com",
    "letsencrypt.org",
    "lencr.org",
    "mozilla.org",
    "mozilla.net",
};

struct BuiltinRange {
  const char* cidr;
  const char* reason;
};
// Not globally routable (RFC 6890 special-purpose registries): never a real adversary address.
constexpr BuiltinRange kBuiltinRanges[] = {
    {"0.0.0.0/8", "reserved_ip"},        {"10.0.0.0/8", "private_ip"},
    {"100.64.0.0/10", "private_ip"},     {"127.0.0.0/8", "loopback_ip"},
    {"169.254.0.0/16", "link_local_ip"}, {"172.16.0.0/12", "private_ip"},
    {"192.0.0.0/24", "reserved_ip"},     {"192.0.2.0/24", "reserved_ip"},
    {"192.88.99.0/24", "reserved_ip"},   {"192.168.0.0/16", "private_ip"},
    {"198.18.0.0/15", "reserved_ip"},    {"198.51.100.0/24", "reserved_ip"},
    {"203.0.113.0/24", "reserved_ip"},   {"224.0.0.0/4", "multicast_ip"},
    {"240.0.0.0/4", "reserved_ip"},      {"::/128", "reserved_ip"},
    {"::1/128", "loopback_ip"},          {"64:ff9b:1::/48", "reserved_ip"},
    {"100::/64", "reserved_ip"},         {"2001:db8::/32", "reserved_ip"},
    {"2001:2::/48", "reserved_ip"},      {"fc00::/7", "private_ip"},
    {"fe80::/10", "link_local_ip"},      {"fec0::/10", "reserved_ip"},
    {"ff00::/8", "multicast_ip"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// 16 bytes; IPv4 mapped into ::ffff:0:0/96 so one range table covers both families.
std::optional<std::array<uint8_t, 16>> ParseIpBytes(std::string_view text, bool* v4 = nullptr) {
  const std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    if (v4) *v4 = true;
    return out;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    if (v4) *v4 = false;
    return out;
  }
  return std::nullopt;
}

bool InRange(const std::array<uint8_t, 16>& ip, const std::array<uint8_t, 16>& prefix, int bits) {
  for (int i = 0; i < bits; ++i) {
    const int byte = i / 8;
    const int mask = 0x80 >> (i % 8);
    if ((ip[byte] & mask) != (prefix[byte] & mask)) return false;
  }
  return true;
}

// "a.b.c.d/n" or "x::/n" (or a single address): prefix and bits of the 128.
std::optional<std::pair<std::array<uint8_t, 16>, int>> ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  bool v4 = false;
  auto ip = ParseIpBytes(text.substr(0, slash), &v4);
  if (!ip) return std::nullopt;
  int bits = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view n = text.substr(slash + 1);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    bits = std::stoi(std::string(n));
    if (bits > (v4 ? 32 : 128)) return std::nullopt;
  }
  return std::make_pair(*ip, v4 ? bits + 96 : bits);
}

// '*' matches any run of label characters (never a dot).
bool GlobLabel(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (GlobLabel(pattern.substr(1), text.substr(i))) return true;
      if (i < text.size() && text[i] == '.') break;
    }
    return false;
  }
  return !text.empty() && pattern.front() == text.front() &&
         GlobLabel(pattern.substr(1), text.substr(1));
}

bool SuffixMatches(std::string_view entry, std::string_view host) {
  // The host itself and each parent domain of it.
  for (std::string_view h = host;;) {
    if (GlobLabel(entry, h)) return true;
    const size_t dot = h.find('.');
    if (dot == std::string_view::npos) return false;
    h.remove_prefix(dot + 1);
  }
}

// A domain suffix the user may list: hostname syntax once '*' stands for a letter.
std::optional<std::string> NormalizeSuffix(std::string_view entry) {
  std::string s = Lower(Trim(entry));
  if (s.rfind("*.", 0) == 0) s.erase(0, 2);
  if (!s.empty() && s.front() == '.') s.erase(0, 1);
  std::string probe = s;
  std::replace(probe.begin(), probe.end(), '*', 'x');
  if (!NormalizeDomain(probe)) return std::nullopt;
  return s;
}

std::string Cut(std::string_view s) {
  return std::string(s.substr(0, 200));
}

}  // namespace

Result<AllowList> AllowList::Build(const std::vector<std::string>& user_entries) {
  AllowList list;
  for (auto d : kBuiltinDomains) list.domains_.emplace_back(d);
  list.builtin_domains_ = list.domains_.size();
  for (const auto& r : kBuiltinRanges) {
    auto cidr = ParseCidr(r.cidr);
    list.ranges_.push_back({cidr->first, cidr->second, r.reason});
  }
  for (const auto& raw : user_entries) {
    const std::string_view entry = Trim(raw);
    if (entry.empty()) continue;
    if (entry.find_first_of(":/") != std::string_view::npos ||
        entry.find_first_not_of("0123456789.") == std::string_view::npos) {
      auto cidr = ParseCidr(entry);
      if (!cidr) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("defender.indicators.allow_list: \"{}\" is not a valid IP "
                                     "address or CIDR range (e.g. 203.0.113.7 or 10.1.0.0/16)",
                                     Cut(entry)));
      }
      list.ranges_.push_back({cidr->first, cidr->second, "allow_listed_ip"});
      continue;
    }
    auto suffix = NormalizeSuffix(entry);
    if (!suffix) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("defender.indicators.allow_list: \"{}\" is not a domain suffix "
                                   "(e.g. contoso.com or cdn*.contoso.net), IP address or CIDR "
                                   "range",
                                   Cut(entry)));
    }
    list.domains_.push_back(*suffix);
  }
  return list;
}

std::optional<std::string> AllowList::DomainReason(std::string_view host) const {
  for (const auto& d : domains_) {
    if (SuffixMatches(d, host)) return "allow_listed_domain";
  }
  return std::nullopt;
}

std::optional<std::string> AllowList::IpReason(std::string_view ip) const {
  auto bytes = ParseIpBytes(ip);
  if (!bytes) return "invalid_ip";
  // The built-in reasons come first so a private address says "private_ip" even when the user
  // also listed its range.
  for (const auto& r : ranges_) {
    if (InRange(*bytes, r.prefix, r.bits)) return r.reason;
  }
  return std::nullopt;
}

std::optional<std::string> NormalizeSha256(std::string_view value) {
  const std::string s = Lower(Trim(value));
  if (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  return s;
}

std::optional<std::string> NormalizeIp(std::string_view value) {
  const std::string s(Trim(value));
  char buf[INET6_ADDRSTRLEN] = {};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
    return std::string(buf);
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    return std::string(buf);
  }
  return std::nullopt;
}

std::optional<std::string> NormalizeDomain(std::string_view value) {
  std::string s = Lower(Trim(value));
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty() || s.size() > 253) return std::nullopt;
  size_t labels = 0;
  size_t start = 0;
  std::string_view last;
  while (start <= s.size()) {
    const size_t dot = std::min(s.find('.', start), s.size());
    const std::string_view label(s.data() + start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return std::nullopt;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return std::nullopt;
    }
    ++labels;
    last = label;
    start = dot + 1;
  }
  // A single label is no public domain, and an all-numeric top-level label is an IP's.
  if (labels < 2 || last.find_first_not_of("0123456789") == std::string_view::npos)
    return std::nullopt;
  return s;
}

std::string UrlHost(std::string_view url) {
  url = Trim(url);
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    const size_t close = url.find(']');
    return close == std::string_view::npos ? "" : std::string(url.substr(1, close - 1));
  }
  return std::string(url.substr(0, url.find(':')));
}

std::optional<std::string> NormalizeUrl(std::string_view value) {
  const std::string_view url = Trim(value);
  if (url.size() > 2048) return std::nullopt;
  const std::string lower = Lower(url.substr(0, 8));
  if (lower.rfind("http://", 0) != 0 && lower.rfind("https://", 0) != 0) return std::nullopt;
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return std::nullopt;
  }
  const std::string host = UrlHost(url);
  if (!NormalizeIp(host) && !NormalizeDomain(host)) return std::nullopt;
  return std::string(url);
}

const std::vector<std::string_view>& SkipReasons() {
  static const std::vector<std::string_view> kReasons = {
      "invalid_hash",    "invalid_ip",  "invalid_domain", "invalid_url",   "allow_listed_domain",
      "allow_listed_ip", "private_ip",  "loopback_ip",    "link_local_ip", "multicast_ip",
      "reserved_ip",     "over_budget", "already_in_mde"};
  return kReasons;
}

int SeverityRank(std::string_view severity) {
  if (severity == "High") return 3;
  if (severity == "Medium") return 2;
  if (severity == "Low") return 1;
  return 0;
}

MappedIndicators MapIocs(const Json& data, const std::vector<std::string>& verdicts,
                         const IndicatorContext& context, const IndicatorSettings& settings,
                         const AllowList& allow_list) {
  MappedIndicators out;
  const Json& iocs = data.is_object() && data.contains("iocs") ? data["iocs"] : data;
  if (!iocs.is_object()) return out;
  // type|value -> index in out.indicators: each value once, at its most severe verdict.
  std::map<std::string, size_t> seen;
  std::map<std::string, bool> skipped_seen;

  auto skip = [&](std::string type, std::string_view value, std::string reason) {
    const std::string key = type + "|" + reason + "|" + std::string(value);
    if (skipped_seen[key]) return;
    skipped_seen[key] = true;
    out.skipped.push_back({std::move(type), Cut(value), std::move(reason)});
  };

  auto add = [&](const std::string& type, const std::string& value, const std::string& verdict) {
    const bool file = type == "FileSha256";
    const bool malicious = verdict == "malicious";
    const std::string action =
        file ? (malicious ? settings.action_malicious_file : settings.action_suspicious_file)
             : (malicious ? settings.action_malicious_network : settings.action_suspicious_network);
    const std::string severity = malicious ? "High" : "Medium";
    const std::string key = type + "|" + value;
    if (auto it = seen.find(key); it != seen.end()) {
      IndicatorCandidate& have = out.indicators[it->second];
      if (SeverityRank(have.severity) >= SeverityRank(severity)) return;
      const size_t gone = it->second;
      out.indicators.erase(out.indicators.begin() + static_cast<long>(gone));
      seen.erase(it);
      for (auto& [_, index] : seen) {
        if (index > gone) --index;
      }
    }
    std::string description =
        fmt::format("{}\nAlert ID: {}\nGenerated by sample: {}\nVerdict: {}", kIndicatorTitle,
                    context.alert_id, context.sample_sha256, verdict);
    if (!context.report_url.empty()) description += "\nVMRay report: " + context.report_url;
    description += "\nCreated: " + FormatIso8601(context.now);
    Json body{{"indicatorValue", value},
              {"indicatorType", type},
              {"action", action},
              {"application", kIndicatorApplication},
              {"title", fmt::format("{} (alert {})", kIndicatorTitle, context.alert_id)},
              {"description", description},
              {"severity", severity},
              {"expirationTime",
               FormatIso8601(context.now + std::chrono::hours(24) * settings.expiration_days)},
              {"generateAlert", settings.generate_alert || action == "Audit"}};
    seen[key] = out.indicators.size();
    out.indicators.push_back({type, value, severity, std::move(body)});
  };

  // A network value: an IP literal or a host name.
  auto add_host = [&](std::string_view raw, const std::string& verdict) {
    if (auto ip = NormalizeIp(raw)) {
      if (auto reason = allow_list.IpReason(*ip)) return skip("IpAddress", raw, *reason);
      return add("IpAddress", *ip, verdict);
    }
    auto domain = NormalizeDomain(raw);
    if (!domain) return skip("DomainName", raw, "invalid_domain");
    if (auto reason = allow_list.DomainReason(*domain)) return skip("DomainName", raw, *reason);
    add("DomainName", *domain, verdict);
  };

  auto entries = [&](const char* key) -> const Json& {
    static const Json kEmpty = Json::array();
    return iocs.contains(key) && iocs[key].is_array() ? iocs[key] : kEmpty;
  };
  auto strings = [](const Json& entry, const char* key) {
    std::vector<std::string> out;
    if (entry.contains(key) && entry[key].is_array()) {
      for (const auto& v : entry[key]) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
    return out;
  };
  // The entry's verdict when it is a wanted detection; else "".
  auto verdict_of = [&](const Json& entry) -> std::string {
    if (!entry.is_object()) return "";
    const std::string v = entry.contains("verdict") && entry["verdict"].is_string()
                              ? Lower(entry["verdict"].get<std::string>())
                              : "";
    if (v != "malicious" && v != "suspicious") return "";
    return std::find(verdicts.begin(), verdicts.end(), v) == verdicts.end() ? "" : v;
  };

  for (const Json& f : entries("files")) {
    const std::string verdict = verdict_of(f);
    if (verdict.empty() || !f.contains("hashes") || !f["hashes"].is_array()) continue;
    for (const Json& h : f["hashes"]) {
      if (!h.is_object() || !h.contains("sha256_hash") || !h["sha256_hash"].is_string()) continue;
      const std::string raw = h["sha256_hash"].get<std::string>();
      if (auto sha = NormalizeSha256(raw)) {
        add("FileSha256", *sha, verdict);
      } else {
        skip("FileSha256", raw, "invalid_hash");
      }
    }
  }
  for (const Json& ip : entries("ips")) {
    const std::string verdict = verdict_of(ip);
    if (verdict.empty()) continue;
    if (ip.contains("ip_address") && ip["ip_address"].is_string()) {
      const std::string raw = ip["ip_address"].get<std::string>();
      if (auto v = NormalizeIp(raw)) {
        if (auto reason = allow_list.IpReason(*v)) {
          skip("IpAddress", raw, *reason);
        } else {
          add("IpAddress", *v, verdict);
        }
      } else {
        skip("IpAddress", raw, "invalid_ip");
      }
    }
    for (const auto& d : strings(ip, "domains")) add_host(d, verdict);
  }
  for (const Json& u : entries("urls")) {
    const std::string verdict = verdict_of(u);
    if (verdict.empty()) continue;
    for (const auto& raw : strings(u, "original_urls")) {
      const std::string host = UrlHost(raw);
      if (host.empty()) {
        skip("Url", raw, "invalid_url");
        continue;
      }
      add_host(host, verdict);
      if (!settings.url_indicators) continue;
      auto url = NormalizeUrl(raw);
      if (!url) {
        skip("Url", raw, "invalid_url");
        continue;
      }
      // The host decides: an allow-listed host's URLs are allow-listed too.
      if (auto ip = NormalizeIp(host)) {
        if (allow_list.IpReason(*ip)) continue;
      } else if (auto d = NormalizeDomain(host); !d || allow_list.DomainReason(*d)) {
        continue;
      }
      add("Url", *url, verdict);
    }
  }
  return out;
}

}  // namespace vc::defender
