// Settings of the incident URL detonation (config keys sentinel_incidents.*).
#pragma once

#include <string>
#include <vector>

#include "core/clock.hpp"

namespace vc::sentinel_incidents {

// Job kinds, outbox kinds and the store cursor.
inline constexpr std::string_view kIncidentJobKind = "sentinel_incident";
inline constexpr std::string_view kUrlJobKind = "sentinel_incident_url";
inline constexpr std::string_view kCommentKind = "sentinel_incident_comment";
inline constexpr std::string_view kIocKind = "sentinel_incident_iocs";
inline constexpr std::string_view kCursor = "sentinel_incidents.created_since";
// The tag the original playbook gave its submissions, kept so VMRay-side searches still work.
inline constexpr std::string_view kSubmissionTag = "url_submission_logic_app";

struct IncidentOptions {
  std::vector<std::string> allowed_domains;  // WhitelistedURLDomains, parsed (url_filter.hpp)
  int max_urls_per_incident = 20;
  Millis analysis_poll_interval{30'000};
  Millis analysis_timeout{60 * 60'000};     // the original's Until loop gave up after an hour
  Millis poll_overlap{10 * 60'000};         // incidents can surface after their creation time
  Millis first_poll_lookback{60 * 60'000};  // the first poll reads the last hour
  int ioc_expiration_days = 30;             // the playbook's Indicator_Expiration_In_Days
  std::string vmray_base_url;               // report links of the indicators
  std::vector<std::string> ioc_verdicts = {"malicious", "suspicious"};
  bool upload_iocs = true;  // false: no IOC upload is queued
  // The workspace the webhook accepts incident ARM ids of (its name, lower-cased compare).
  std::string workspace_name;
};

}  // namespace vc::sentinel_incidents
