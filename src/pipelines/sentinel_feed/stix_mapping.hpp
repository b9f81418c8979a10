// VMRay IOCs -> STIX 2.1 indicator objects for the Sentinel STIX objects upload API, in the
// shape of the original TI feed (original-sentinel-solution.md 2.6/2.7) minus its defects:
// pattern values are escaped, ports are stripped from IPs, confidence is an integer, and every
// value left out comes back with a reason. Pure functions: the feed job and the enrichment
// route GetVMRayIOCs both call MapIocsToStix.
#pragma once

#include <array>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "pipelines/defender_alerts/indicator_mapping.hpp"

namespace vc::sentinel_feed {

// UUIDv5(DNS namespace, "VMRay"): the original's namespace, so re-uploads of an IOC the
// original once uploaded update that same Sentinel object instead of duplicating it.
inline constexpr std::string_view kVmrayNamespace = "10cc84bf-f79f-5495-b733-886e1d289427";

// RFC 4122 name-based UUID (SHA-1, version 5), lower-case with dashes. `namespace_uuid` must be
// a valid UUID in text form.
std::string Uuid5(std::string_view namespace_uuid, std::string_view name);
// "indicator--" + Uuid5(kVmrayNamespace, key), key as the original built it ("domain:<d>").
std::string StixIndicatorId(std::string_view key);
// A STIX pattern string literal's content: backslash and single quote escaped with a backslash
// (STIX 2.1 patterning, "Constants").
std::string EscapeStixString(std::string_view value);

struct StixOptions {
  std::string vmray_base_url;         // report link: <base>/sample/<id>#summary
  std::vector<std::string> verdicts;  // lower-case IOC verdicts to take ("malicious", ...)
  int expiration_days = 30;           // valid_until = now + days (IndicatorExpirationInDays)
  TimePoint now{};
  bool revoked = false;  // re-upload of an earlier indicator to withdraw it
  // Set by the enrichment route GetVMRayIOCs: its labels as the original's enrichment app made
  // them (sample_id, submission_id, "incident_id: <number or None>", threat names joined by ","
  // and each classification as a label of its own) instead of the feed's.
  std::optional<std::string> incident_label;
};

// Whose IOCs these are (labels, description, external reference).
struct SampleRef {
  int64_t sample_id = 0;
  int64_t submission_id = 0;
};

struct StixIndicator {
  std::string key;  // "<type>:<value>", the UUIDv5 name and the in-run dedup key
  Json object;      // one entry of "stixobjects"
};

struct SkippedIoc {
  std::string family;  // domains, ips, urls, files
  std::string value;   // as VMRay sent it, cut to 200 characters
  std::string reason;  // invalid_domain, invalid_ip, invalid_url, invalid_hash, private_ip, ...
};

struct StixMapping {
  std::vector<StixIndicator> indicators;  // each key once per call
  std::vector<SkippedIoc> skipped;
};

// Maps the JSON of GET /rest/sample/{id}/iocs (the envelope's "data", an object holding
// "iocs", or the "iocs" object itself). Only entries whose own verdict is in
// `options.verdicts` are taken; families other than domains, ips, urls and files are ignored,
// missing or empty families are no error.
StixMapping MapIocsToStix(const Json& iocs, const SampleRef& sample, const StixOptions& options,
                          const defender::AllowList& allow_list);

// Folds `from` (same id) into `into`: labels and external references united, the higher
// confidence kept. The feed uploads an IOC seen in several samples of a run once.
void MergeStixIndicator(Json& into, const Json& from);

}  // namespace vc::sentinel_feed
