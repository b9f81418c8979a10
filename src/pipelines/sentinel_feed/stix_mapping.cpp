#include "pipelines/sentinel_feed/stix_mapping.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/hash.hpp"
#include "core/time.hpp"

namespace vc::sentinel_feed {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string HexToBytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(hex[i]) * 16 + HexValue(hex[i + 1])));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string StrOr(const Json& entry, const char* key) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Strings of an array field, in order; other element types are left out.
std::vector<std::string> Strings(const Json& entry, const char* key) {
  std::vector<std::string> out;
  auto it = entry.find(key);
  if (it == entry.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string() && !Trim(v.get_ref<const std::string&>()).empty()) {
      out.emplace_back(Trim(v.get_ref<const std::string&>()));
    } else if (v.is_number_integer()) {
      out.push_back(std::to_string(v.get<int64_t>()));
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// A domain as VMRay reports it: ASCII hostnames are normalised; internationalised names stay in
// their Unicode form (VMRay reports what the sample resolved), but never with quotes, spaces or
// control characters, which no resolver accepts.
std::optional<std::string> FeedDomain(std::string_view raw) {
  if (auto ascii = defender::NormalizeDomain(raw)) return ascii;
  std::string s = Lower(Trim(raw));
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty() || s.size() > 253 || s.find('.') == std::string::npos) return std::nullopt;
  if (s.front() == '.' || s.find("..") != std::string::npos) return std::nullopt;
  bool non_ascii = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      non_ascii = true;
    } else if (!std::isalnum(u) && c != '-' && c != '.' && c != '_') {
      return std::nullopt;
    }
  }
  if (!non_ascii) return std::nullopt;  // an ASCII name NormalizeDomain refused
  return s;
}

// An IP with an optional port: "1.2.3.4:80", "[2001:db8::1]:443" (the original embedded the
// port in the pattern, which Sentinel then never matched).
std::optional<std::string> FeedIp(std::string_view raw) {
  std::string_view s = Trim(raw);
  if (auto ip = defender::NormalizeIp(s)) return ip;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() < 2 ||
                          rest.find_first_not_of("0123456789", 1) != std::string_view::npos))
      return std::nullopt;
    return defender::NormalizeIp(s.substr(1, close - 1));
  }
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || s.find(':') != colon) return std::nullopt;
  const std::string_view port = s.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  auto ip = defender::NormalizeIp(s.substr(0, colon));
  if (!ip || ip->find(':') != std::string::npos) return std::nullopt;
  return ip;
}

// URLs are uploaded as VMRay reports them (a URL's path is case-sensitive); only values that
// cannot be a URL are refused. Quotes, backslashes, spaces and non-ASCII are escaped by the
// pattern, not refused.
std::optional<std::string> FeedUrl(std::string_view raw) {
  const std::string_view s = Trim(raw);
  if (s.empty() || s.size() > 8192 || HasControl(s)) return std::nullopt;
  if (s.find("://") == std::string_view::npos && s.find('.') == std::string_view::npos)
    return std::nullopt;
  return std::string(s);
}

std::string Cut(std::string_view s) {
  return std::string(s.substr(0, 200));
}

}  // namespace

std::string Uuid5(std::string_view namespace_uuid, std::string_view name) {
  std::string ns_hex;
  for (char c : namespace_uuid) {
    if (c != '-') ns_hex.push_back(c);
  }
  std::string input = HexToBytes(ns_hex);
  input.append(name);
  std::string hash = HexToBytes(Sha1Hex(input)).substr(0, 16);
  hash[6] = static_cast<char>((static_cast<unsigned char>(hash[6]) & 0x0f) | 0x50);
  hash[8] = static_cast<char>((static_cast<unsigned char>(hash[8]) & 0x3f) | 0x80);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < hash.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const auto b = static_cast<unsigned char>(hash[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

std::string StixIndicatorId(std::string_view key) {
  return "indicator--" + Uuid5(kVmrayNamespace, key);
}

std::string EscapeStixString(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

StixMapping MapIocsToStix(const Json& data, const SampleRef& sample, const StixOptions& options,
                          const defender::AllowList& allow_list) {
  StixMapping out;
  const Json* iocs = &data;
  if (data.is_object() && data.contains("data") && data["data"].is_object()) iocs = &data["data"];
  if (iocs->is_object() && iocs->contains("iocs")) iocs = &(*iocs)["iocs"];
  if (!iocs->is_object()) return out;

  std::string base = options.vmray_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string report_url = fmt::format("{}/sample/{}#summary", base, sample.sample_id);
  const std::string now = FormatIso8601Millis(options.now);
  const std::string valid_until =
      FormatIso8601(options.now + std::chrono::hours(24) * std::max(1, options.expiration_days));
  std::map<std::string, size_t> index;  // key -> position in out.indicators

  auto add = [&](const Json& entry, const std::string& verdict, const std::string& type,
                 const std::string& value, std::string pattern, std::string name) {
    const std::string key = type + ":" + value;
    std::vector<std::string> labels = {fmt::format("sample_id: {}", sample.sample_id),
                                       fmt::format("submission_id: {}", sample.submission_id)};
    const auto threat_names = Strings(entry, "threat_names");
    const auto classifications = Strings(entry, "classifications");
    if (options.incident_label) {
      labels.push_back("incident_id: " + *options.incident_label);
      if (!threat_names.empty()) labels.push_back("threat_names: " + Join(threat_names, ","));
      labels.insert(labels.end(), classifications.begin(), classifications.end());
    } else {
      if (!threat_names.empty()) labels.push_back("threat_names: " + Join(threat_names, ", "));
      if (!classifications.empty())
        labels.push_back("Classifications: " + Join(classifications, ", "));
    }
    Json object = {
        {"type", "indicator"},
        {"spec_version", "2.1"},
        {"id", StixIndicatorId(key)},
        {"created", now},
        {"modified", now},
        {"valid_from", now},
        {"valid_until", valid_until},
        {"revoked", options.revoked},
        {"labels", labels},
        {"confidence", verdict == "malicious" ? 100 : 75},
        {"external_references",
         Json::array({{{"source_name", "VMRay Threat Intelligence"},
                       {"description", fmt::format("Sample ID {}\nSubmission ID {}",
                                                   sample.sample_id, sample.submission_id)},
                       {"url", report_url}}})},
        {"name", std::move(name)},
        {"description", fmt::format("Sample URL: {},\nAnalysis IDs: {},\nCategories: {}",
                                    report_url, Join(Strings(entry, "analysis_ids"), ", "),
                                    Join(Strings(entry, "categories"), ", "))},
        {"pattern", std::move(pattern)},
        {"pattern_type", "stix"},
        {"pattern_version", "2.1"},
    };
    const std::string ioc_type = StrOr(entry, "ioc_type");
    object["indicator_types"] = Json::array({ioc_type.empty() ? type : ioc_type});
    if (auto it = index.find(key); it != index.end()) {
      MergeStixIndicator(out.indicators[it->second].object, object);
      return;
    }
    index.emplace(key, out.indicators.size());
    out.indicators.push_back({key, std::move(object)});
  };
  auto skip = [&](const char* family, std::string_view value, std::string reason) {
    out.skipped.push_back({family, Cut(value), std::move(reason)});
  };
  auto entries = [&](const char* family) -> const Json& {
    static const Json kEmpty = Json::array();
    auto it = iocs->find(family);
    return it != iocs->end() && it->is_array() ? *it : kEmpty;
  };
  auto selected = [&](const Json& entry) -> std::optional<std::string> {
    if (!entry.is_object()) return std::nullopt;
    const std::string verdict = Lower(StrOr(entry, "verdict"));
    if (verdict != "malicious" && verdict != "suspicious") return std::nullopt;
    if (std::find(options.verdicts.begin(), options.verdicts.end(), verdict) ==
        options.verdicts.end())
      return std::nullopt;
    return verdict;
  };

  for (const auto& entry : entries("domains")) {
    auto verdict = selected(entry);
    if (!verdict) continue;
    const std::string raw = StrOr(entry, "domain");
    auto domain = FeedDomain(raw);
    if (!domain) {
      skip("domains", raw, "invalid_domain");
      continue;
    }
    if (auto reason = allow_list.DomainReason(*domain)) {
      skip("domains", raw, *reason);
      continue;
    }
    add(entry, *verdict, "domain", *domain,
        fmt::format("[domain-name:value = '{}']", EscapeStixString(*domain)), "domain");
  }
  for (const auto& entry : entries("ips")) {
    auto verdict = selected(entry);
    if (!verdict) continue;
    const std::string raw = StrOr(entry, "ip_address");
    auto ip = FeedIp(raw);
    if (!ip) {
      skip("ips", raw, "invalid_ip");
      continue;
    }
    if (auto reason = allow_list.IpReason(*ip)) {
      skip("ips", raw, *reason);
      continue;
    }
    const bool v6 = ip->find(':') != std::string::npos;
    add(entry, *verdict, "ip", *ip,
        fmt::format("[{}:value = '{}']", v6 ? "ipv6-addr" : "ipv4-addr", *ip), "ip");
  }
  for (const auto& entry : entries("urls")) {
    auto verdict = selected(entry);
    if (!verdict) continue;
    const std::string raw = StrOr(entry, "url");
    auto url = FeedUrl(raw);
    if (!url) {
      skip("urls", raw, "invalid_url");
      continue;
    }
    const std::string host = Lower(defender::UrlHost(*url));
    if (auto ip = defender::NormalizeIp(host)) {
      if (auto reason = allow_list.IpReason(*ip)) {
        skip("urls", raw, *reason);
        continue;
      }
    } else if (auto domain = defender::NormalizeDomain(host)) {
      if (auto reason = allow_list.DomainReason(*domain)) {
        skip("urls", raw, *reason);
        continue;
      }
    }
    add(entry, *verdict, "url", *url, fmt::format("[url:value = '{}']", EscapeStixString(*url)),
        "url");
  }
  static const std::array<std::pair<const char*, const char*>, 3> kHashes = {
      {{"md5_hash", "MD5"}, {"sha1_hash", "SHA-1"}, {"sha256_hash", "SHA-256"}}};
  static const std::map<std::string, size_t> kHashLength = {
      {"MD5", 32}, {"SHA-1", 40}, {"SHA-256", 64}};
  for (const auto& entry : entries("files")) {
    auto verdict = selected(entry);
    if (!verdict) continue;
    auto hashes = entry.find("hashes");
    if (hashes == entry.end() || !hashes->is_array() || hashes->empty()) {
      skip("files", StrOr(entry, "filename"), "no_hashes");
      continue;
    }
    const std::string filename(Trim(StrOr(entry, "filename")));
    for (const auto& h : *hashes) {
      if (!h.is_object()) continue;
      for (const auto& [field, algorithm] : kHashes) {
        const std::string raw = StrOr(h, field);
        if (raw.empty()) continue;
        const std::string value = Lower(Trim(raw));
        if (!IsHex(value, kHashLength.at(algorithm))) {
          skip("files", raw, "invalid_hash");
          continue;
        }
        add(entry, *verdict, "file", value,
            fmt::format("[file:hashes.'{}' = '{}']", algorithm, value),
            filename.empty() ? value : filename);
      }
    }
  }
  return out;
}

void MergeStixIndicator(Json& into, const Json& from) {
  auto unite = [&](const char* key) {
    if (!from.contains(key)) return;
    Json& list = into[key];
    if (!list.is_array()) list = Json::array();
    for (const auto& item : from[key]) {
      if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
    }
  };
  unite("labels");
  unite("external_references");
  if (from.value("confidence", 0) > into.value("confidence", 0))
    into["confidence"] = from["confidence"];
}

}  // namespace vc::sentinel_feed
