#include "clients/mail/html.hpp"

#include <gtest/gtest.h>

#include <set>

namespace vc::mail {
namespace {

AlertSummary Hostile() {
  AlertSummary a;
  a.alert_id = "da638<b>1";
  a.title = "<img src=x onerror=alert(1)>";
  a.device = "host\" onmouseover=\"alert(2)";
  a.file_name = "a&b's <script>alert(3)</script>.exe";
  a.sha256 = "0123abcd";
  a.verdict = "malicious";
  a.report_url = "https://vmray.example/analysis/1?a=1&b=2";
  a.classifications = {"Trojan", "<i>Dropper</i>"};
  a.threat_names = {"Evil\"Threat", "</td></tr></table><a href=javascript:x>"};
  a.state = "done";
  a.reason = "";
  return a;
}

// Every tag in the HTML is one the renderer writes itself.
void ExpectOnlyOurTags(const std::string& html) {
  static const std::set<std::string> kAllowed = {"!DOCTYPE", "html", "head",  "meta", "title",
                                                 "body",     "p",    "table", "tr",   "th",
                                                 "td",       "b",    "code",  "a"};
  for (size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
    size_t start = pos + 1;
    if (html[start] == '/') ++start;
    const size_t end = html.find_first_of(" >", start);
    const std::string name = html.substr(start, end - start);
    EXPECT_TRUE(kAllowed.count(name)) << "unexpected tag <" << name << "> in\n" << html;
  }
}

TEST(MailHtml, EscapesMarkupQuotesAndAmpersands) {
  EXPECT_EQ(EscapeHtml("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
  EXPECT_EQ(EscapeHtml("\"quoted\" 'single'"), "&quot;quoted&quot; &#39;single&#39;");
  EXPECT_EQ(EscapeHtml("a & b &amp;"), "a &amp; b &amp;amp;");
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD: control characters show, but do nothing
  EXPECT_EQ(EscapeHtml(std::string("a\x01\x1b[0m\x7f\tb\n")), "a" + r + r + "[0m" + r + "\tb\n");
  EXPECT_EQ(EscapeHtml("caf\xc3\xa9 \xe6\x96\x87"), "caf\xc3\xa9 \xe6\x96\x87");
}

TEST(MailHtml, OnlyHttpLinksAreSafe) {
  EXPECT_EQ(SafeHttpUrl("https://vmray.example/a?b=1&c=2").value_or(""),
            "https://vmray.example/a?b=1&c=2");
  EXPECT_TRUE(SafeHttpUrl("http://10.0.0.1:8080/x"));
  EXPECT_TRUE(SafeHttpUrl("HTTPS://VMRAY.EXAMPLE/"));
  for (const char* bad :
       {"javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>", "//evil.example",
        "/relative", "https://", "https://x\" onmouseover=\"alert(1)", "https://x'y", "https://x y",
        "https://x<y>", "https://x\r\nBcc: e", "ftp://x", "vbscript:x", ""}) {
    EXPECT_FALSE(SafeHttpUrl(bad)) << bad;
  }
}

TEST(MailHtml, HostileAlertValuesAreEscapedEverywhere) {
  const std::string html = RenderAlertSummaryHtml(Hostile());
  ExpectOnlyOurTags(html);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("host&quot; onmouseover=&quot;alert(2)"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b&#39;s &lt;script&gt;alert(3)&lt;/script&gt;.exe"),
            std::string::npos);
  EXPECT_NE(html.find("Trojan, &lt;i&gt;Dropper&lt;/i&gt;"), std::string::npos);
  EXPECT_NE(html.find("Evil&quot;Threat"), std::string::npos);
  EXPECT_NE(html.find("da638&lt;b&gt;1"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"https://vmray.example/analysis/1?a=1&amp;b=2\">"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<b>malicious</b>"), std::string::npos);
  EXPECT_NE(html.find("<code>0123abcd</code>"), std::string::npos);
}

TEST(MailHtml, NonHttpReportLinkIsShownAsTextOnly) {
  AlertSummary a = Hostile();
  a.report_url = "javascript:alert(document.cookie)";
  const std::string html = RenderAlertSummaryHtml(a);
  EXPECT_EQ(html.find("<a "), std::string::npos);
  EXPECT_NE(html.find("<td>javascript:alert(document.cookie)</td>"), std::string::npos);
  ExpectOnlyOurTags(html);
}

TEST(MailHtml, StateReasonAndEmptyListsAreRendered) {
  AlertSummary a;
  a.alert_id = "da1";
  a.state = "failed";
  a.reason = "VMRay analysis timeout 900";
  const std::string html = RenderAlertSummaryHtml(a);
  EXPECT_NE(html.find("<th style=\"text-align:left\">Reason</th><td>VMRay analysis timeout "
                      "900</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<th style=\"text-align:left\">Threat names</th><td>none</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<b>unknown</b>"), std::string::npos);
}

TEST(MailHtml, PlainTextKeepsOneLinePerValue) {
  AlertSummary a = Hostile();
  a.title = "Innocent\nVerdict: clean";
  const std::string text = RenderAlertSummaryText(a);
  EXPECT_EQ(text.find("\nVerdict: clean"), std::string::npos) << text;
  EXPECT_NE(text.find("Title: Innocent Verdict: clean\n"), std::string::npos);
  EXPECT_NE(text.find("\nVerdict: malicious\n"), std::string::npos);
  EXPECT_NE(text.find("\nVMRay report: https://vmray.example/analysis/1?a=1&b=2\n"),
            std::string::npos);
}

TEST(MailHtml, AlertMailCarriesBothRenderingsAndTheSubject) {
  const MailMessage m = AlertMail(Hostile(), "c@example.com", {"soc@example.com"});
  EXPECT_EQ(m.subject,
            "VMRay Analysis for Defender Alert da638<b>1: malicious - <img src=x "
            "onerror=alert(1)>");
  EXPECT_EQ(m.html_body, RenderAlertSummaryHtml(Hostile()));
  EXPECT_EQ(m.text_body, RenderAlertSummaryText(Hostile()));
  EXPECT_EQ(m.to, std::vector<std::string>{"soc@example.com"});
}

TEST(MailHtml, DigestHasOneEscapedRowPerAlert) {
  AlertSummary second;
  second.alert_id = "da2";
  second.title = "Second";
  second.verdict = "clean";
  second.report_url = "data:text/html,<script>alert(1)</script>";
  second.state = "failed";
  second.reason = "VMRay <timeout>";
  const std::string html = RenderDigestHtml({Hostile(), second});
  ExpectOnlyOurTags(html);
  size_t rows = 0;
  for (size_t p = html.find("<tr>"); p != std::string::npos; p = html.find("<tr>", p + 1)) ++rows;
  EXPECT_EQ(rows, 3u);  // header + two alerts
  EXPECT_NE(html.find("for 2 Defender alert(s)"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>failed: VMRay &lt;timeout&gt;</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
            std::string::npos);
  EXPECT_EQ(html.find("href=\"data:"), std::string::npos);

  const std::string text = RenderDigestText({Hostile(), second});
  EXPECT_EQ(text.rfind("VMRay analysis details for 2 Defender alert(s):\n\nAlert: da638<b>1\n", 0),
            0u)
      << text;
  EXPECT_NE(text.find("\n\nAlert: da2\nTitle: Second\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Reason: VMRay <timeout>\n"), std::string::npos);

  const MailMessage m = DigestMail({Hostile(), second}, "c@example.com", {"soc@example.com"});
  EXPECT_EQ(m.subject, "VMRay Analysis for Defender Alert - 2 alerts settled");
  EXPECT_EQ(m.html_body, html);
}

}  // namespace
}  // namespace vc::mail
