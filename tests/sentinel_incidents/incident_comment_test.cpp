// The incident comment: the original's heading and columns, every value escaped, VTIs by
// severity, the marker, and the 30,000-character limit kept without cutting HTML.
#include "pipelines/sentinel_incidents/incident_comment.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "clients/sentinel/incidents.hpp"

namespace vc::sentinel_incidents {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

UrlReport Report() {
  UrlReport r;
  r.url = "https://evil.example/<script>alert(1)</script>";
  r.submission_id = 4711;
  r.sample_id = 815;
  r.submission_status = "finished";
  r.verdict = "malicious";
  r.classifications = {"Downloader", "Phishing"};
  r.threat_names = {"<img src=x onerror=alert(2)>"};
  r.report_url = "https://eu.cloud.vmray.com/samples/815#summary";
  r.notes = "Heuristics & \"more\"";
  r.vtis = {{"Network", "Low one", 1, {"Spyware"}},
            {"Anti Analysis", "High <one>", 5, {"Injector"}},
            {"File System", "Middle", 3, {}}};
  return r;
}

// Tags in order, so a test can see the HTML is well-formed enough (every opened element closed).
void ExpectBalanced(const std::string& html) {
  for (const char* tag : {"table", "thead", "tbody", "tr", "td", "th", "p", "a"}) {
    const std::regex open(std::string("<") + tag + "[ >]");
    const std::regex close(std::string("</") + tag + ">");
    const auto n_open = std::distance(std::sregex_iterator(html.begin(), html.end(), open), {});
    const auto n_close = std::distance(std::sregex_iterator(html.begin(), html.end(), close), {});
    EXPECT_EQ(n_open, n_close) << tag;
  }
}

TEST(IncidentComment, HasTheOriginalHeadingColumnsAndMarker) {
  const std::string html = BuildUrlReportComment(Report());
  EXPECT_THAT(html, HasSubstr("VMRay Submission Details for URL: evil.example/&lt;script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("https://evil.example")));
  for (const char* col :
       {"<th>Submission Status</th><th>Sample Verdict</th><th>Classification</th><th>Threat "
        "Names</th><th>Link to the Full Report</th><th>Submission ID</th><th>Sample "
        "ID</th><th>Notes</th>",
        "<th>Severity</th><th>Category</th><th>Operation</th><th>Classifications</th>"}) {
    EXPECT_THAT(html, HasSubstr(col));
  }
  EXPECT_THAT(html, HasSubstr("<td>finished</td><td>malicious</td><td>Downloader, Phishing</td>"));
  EXPECT_THAT(html, HasSubstr("<td>4711</td><td>815</td>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"https://eu.cloud.vmray.com/samples/815#summary\">"));
  EXPECT_TRUE(html.ends_with("<!--VMRaySubmissionId=4711-->")) << html;
  ExpectBalanced(html);
}

TEST(IncidentComment, EscapesEveryValue) {
  const std::string html = BuildUrlReportComment(Report());
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(html, HasSubstr("Heuristics &amp; &quot;more&quot;"));
  EXPECT_THAT(html, HasSubstr("High &lt;one&gt;"));
}

TEST(IncidentComment, ReportLinkOtherThanHttpIsText) {
  UrlReport r = Report();
  r.report_url = "javascript:alert(3)";
  const std::string html = BuildUrlReportComment(r);
  EXPECT_THAT(html, Not(HasSubstr("href=\"javascript")));
  EXPECT_THAT(html, HasSubstr("<td>javascript:alert(3)</td>"));
}

TEST(IncidentComment, SortsVtisBySeverityDescending) {
  const std::string html = BuildUrlReportComment(Report());
  const size_t high = html.find("<td>5</td>");
  const size_t mid = html.find("<td>3</td>");
  const size_t low = html.find("<td>1</td>");
  ASSERT_NE(high, std::string::npos);
  EXPECT_LT(high, mid);
  EXPECT_LT(mid, low);
}

TEST(IncidentComment, CleanVerdictHasALineBreakBetweenTheTables) {
  UrlReport r = Report();
  r.verdict = "clean";
  EXPECT_THAT(BuildUrlReportComment(r), HasSubstr("</table><br><table>"));
  r.verdict = "suspicious";
  EXPECT_THAT(BuildUrlReportComment(r),
              HasSubstr("</table></p><p class=\"editor-paragraph\"><table>"));
}

TEST(IncidentComment, StaysUnderTheLimitWithAnNMoreRow) {
  UrlReport r = Report();
  r.vtis.clear();
  for (int i = 0; i < 2000; ++i)
    r.vtis.push_back({"Category " + std::to_string(i), std::string(60, '<'), 1 + i % 5, {"X"}});
  const std::string html = BuildUrlReportComment(r);
  EXPECT_LE(sentinel::Utf8Characters(html), sentinel::kMaxCommentCharacters);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("(\\d+) more VTIs not shown")));
  const std::regex category("<td>Category ");
  const int shown =
      static_cast<int>(std::distance(std::sregex_iterator(html.begin(), html.end(), category), {}));
  EXPECT_GT(shown, 0);
  EXPECT_EQ(shown + std::stoi(m[1]), 2000);
  EXPECT_TRUE(html.ends_with("<!--VMRaySubmissionId=4711-->"));
  ExpectBalanced(html);
  // The highest severity rows are the ones kept.
  EXPECT_THAT(html.substr(0, html.find("more VTIs")), Not(HasSubstr("<td>1</td><td>Category")));
}

TEST(IncidentComment, HugeValuesAreCutNotTheHtml) {
  UrlReport r = Report();
  r.url = "https://evil.example/" + std::string(100'000, '&');
  r.threat_names.assign(200, std::string(300, '"'));
  r.notes = std::string(50'000, '\xE2');  // invalid UTF-8 bytes become U+FFFD
  const std::string html = BuildUrlReportComment(r);
  EXPECT_LE(sentinel::Utf8Characters(html), sentinel::kMaxCommentCharacters);
  EXPECT_TRUE(html.ends_with("<!--VMRaySubmissionId=4711-->"));
  ExpectBalanced(html);
}

TEST(IncidentComment, AllFilteredIsTheOriginalSentence) {
  EXPECT_EQ(BuildAllFilteredComment(3, 0),
            "<p class=\"editor-paragraph\">VMRay: all 3 URL(s) on this incident matched the "
            "configured domain whitelist and were not submitted for analysis.</p>" +
                FilteredMarker());
  EXPECT_THAT(BuildAllFilteredComment(3, 1), HasSubstr(" 1 of them had no host"));
}

}  // namespace
}  // namespace vc::sentinel_incidents
