#include "pipelines/sentinel_incidents/incident_comment.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "clients/sentinel/incidents.hpp"
#include "core/html.hpp"
#include "pipelines/sentinel_incidents/url_filter.hpp"

namespace vc::sentinel_incidents {
namespace {

// `text` cut to `max` code points (never inside a UTF-8 sequence), with "…" when cut.
std::string Bounded(std::string_view text, size_t max = kMaxValueCharacters) {
  size_t points = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (points == max) return std::string(text.substr(0, i)) + "\u2026";
    ++points;
  }
  return std::string(text);
}

std::string Cell(std::string_view value) {
  return "<td>" + EscapeHtml(Bounded(value)) + "</td>";
}

std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

std::string HeaderRow(const std::vector<std::string_view>& names) {
  std::string out = "<thead><tr>";
  for (auto n : names) out += "<th>" + std::string(n) + "</th>";
  return out + "</tr></thead>";
}

// A link only for http(s) report URLs: anything else is shown as text, never as an href.
std::string ReportLinkCell(const std::string& url) {
  const std::string lower = [&] {
    std::string s = url.substr(0, 8);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }();
  if (url.size() > kMaxValueCharacters ||
      (lower.rfind("https://", 0) != 0 && lower.rfind("http://", 0) != 0)) {
    return Cell(url);
  }
  const std::string e = EscapeHtml(url);
  return "<td><a href=\"" + e + "\">" + e + "</a></td>";
}

std::string VtiRow(const vmray::Vti& v) {
  return "<tr>" + Cell(std::to_string(v.score)) + Cell(v.category) + Cell(v.operation) +
         Cell(Join(v.classifications)) + "</tr>";
}

}  // namespace

std::string SubmissionMarker(int64_t submission_id) {
  return fmt::format("<!--VMRaySubmissionId={}-->", submission_id);
}

std::string FilteredMarker() {
  return "<!--VMRayUrlWhitelist=all-->";
}

std::string BuildUrlReportComment(const UrlReport& r) {
  const std::string heading = "<p class=\"editor-paragraph\">VMRay Submission Details for URL: " +
                              EscapeHtml(Bounded(WithoutScheme(r.url))) + "</p>";
  std::string report =
      "<table>" +
      HeaderRow({"Submission Status", "Sample Verdict", "Classification", "Threat Names",
                 "Link to the Full Report", "Submission ID", "Sample ID", "Notes"}) +
      "<tbody><tr>" + Cell(r.submission_status.empty() ? "finished" : r.submission_status) +
      Cell(r.verdict) + Cell(Join(r.classifications)) + Cell(Join(r.threat_names)) +
      ReportLinkCell(r.report_url) + Cell(std::to_string(r.submission_id)) +
      Cell(std::to_string(r.sample_id)) + Cell(r.notes) + "</tr></tbody></table>";

  std::vector<vmray::Vti> vtis = r.vtis;
  std::stable_sort(vtis.begin(), vtis.end(),
                   [](const vmray::Vti& a, const vmray::Vti& b) { return a.score > b.score; });
  const std::string vti_head =
      "<table>" + HeaderRow({"Severity", "Category", "Operation", "Classifications"}) + "<tbody>";
  const std::string vti_tail = "</tbody></table>";
  const std::string open = "<p class=\"editor-paragraph\">";
  // The clean verdict's comment has a line break between the tables, the others a paragraph
  // each (5.1 steps 6 and 7).
  const bool clean = r.verdict == "clean";
  const std::string between = clean ? "<br>" : "</p>" + open;
  const std::string close = "</p>" + SubmissionMarker(r.submission_id);

  const std::string fixed = heading + open + report + between + vti_head + vti_tail + close;
  size_t used = sentinel::Utf8Characters(fixed);
  std::string rows;
  for (size_t i = 0; i < vtis.size(); ++i) {
    const std::string row = VtiRow(vtis[i]);
    const size_t row_len = sentinel::Utf8Characters(row);
    // Room for this row and, if more follow, for the "N more" row after it.
    const size_t more_len = i + 1 < vtis.size() ? 120 : 0;
    if (used + row_len + more_len > kCommentBudget) {
      rows += fmt::format(
          "<tr><td colspan=\"4\">{} more VTIs not shown (comment size limit); see the full "
          "report</td></tr>",
          vtis.size() - i);
      break;
    }
    rows += row;
    used += row_len;
  }
  return heading + open + report + between + vti_head + rows + vti_tail + close;
}

std::string BuildAllFilteredComment(int total, int without_host_or_scheme) {
  std::string text = fmt::format(
      "VMRay: all {} URL(s) on this incident matched the configured domain whitelist and were "
      "not submitted for analysis.",
      total);
  if (without_host_or_scheme > 0) {
    text += fmt::format(
        " {} of them had no host or a scheme other than http(s) and cannot be analysed.",
        without_host_or_scheme);
  }
  return "<p class=\"editor-paragraph\">" + text + "</p>" + FilteredMarker();
}

std::string BuildUrlFailureComment(const std::string& url, const std::string& reason) {
  return "<p class=\"editor-paragraph\">VMRay Submission Details for URL: " +
         EscapeHtml(Bounded(WithoutScheme(url))) + "</p><p class=\"editor-paragraph\">" +
         "VMRay could not analyse this URL: " + EscapeHtml(Bounded(reason, 2000)) + "</p>";
}

}  // namespace vc::sentinel_incidents
