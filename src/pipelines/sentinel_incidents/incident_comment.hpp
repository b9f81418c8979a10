// The HTML comments the URL detonation posts on a Sentinel incident, in the shape of the
// original playbook Submit-URL-VMRay-Analyzer (original-sentinel-solution.md 5.1/5.2): a
// paragraph "VMRay Submission Details for URL: <url without scheme>", then the report table
// (Submission Status, Sample Verdict, Classification, Threat Names, Link to the Full Report,
// Submission ID, Sample ID, Notes) and the VTI table (Severity, Category, Operation,
// Classifications; highest severity first), and the hidden marker
// <!--VMRaySubmissionId=<id>--> by which a retry recognises a comment already posted.
//
// Every value is escaped (vc::EscapeHtml). The whole comment stays under Sentinel's 30,000
// characters: each value is cut to a bound before escaping, and VTI rows that do not fit are
// replaced by one "N more" row, so the HTML is never cut in the middle.
#pragma once

#include <string>
#include <vector>

#include "clients/vmray/models.hpp"

namespace vc::sentinel_incidents {

// What one comment shows about one finished submission.
struct UrlReport {
  std::string url;  // as submitted
  int64_t submission_id = 0;
  int64_t sample_id = 0;
  std::string submission_status;  // VMRay's submission_status, else "finished"
  std::string verdict;
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  std::string report_url;  // sample_webif_url
  std::string notes;       // sample_verdict_reason_description
  std::vector<vmray::Vti> vtis;
};

// The comment limit this renderer keeps to, a little under the service's 30,000 so the count
// of characters may differ slightly from the service's without a refusal.
inline constexpr size_t kCommentBudget = 29'500;
// Each value is cut to this many characters (before escaping) so no single value can push the
// report table over the limit.
inline constexpr size_t kMaxValueCharacters = 500;

// "<!--VMRaySubmissionId=<id>-->"
std::string SubmissionMarker(int64_t submission_id);
// The marker of the single "all URLs filtered" comment of an incident.
std::string FilteredMarker();

std::string BuildUrlReportComment(const UrlReport& report);

// The original's comment when every URL of the incident was left out:
// "VMRay: all N URL(s) on this incident matched the configured domain whitelist and were not
// submitted for analysis." When some of them were left out for having no host or another
// scheme than http(s), a sentence says how many.
std::string BuildAllFilteredComment(int total, int without_host_or_scheme);

// The comment when a URL could not be analysed, with the reason (escaped).
std::string BuildUrlFailureComment(const std::string& url, const std::string& reason);

}  // namespace vc::sentinel_incidents
