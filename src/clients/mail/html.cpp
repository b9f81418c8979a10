#include "clients/mail/html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace vc::mail {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string Or(std::string_view value, std::string_view fallback) {
  return std::string(value.empty() ? fallback : value);
}

std::string StartsLower(std::string_view s, size_t n) {
  std::string out;
  for (char c : s.substr(0, n))
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kHtmlHead =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>VMRay Analysis for Defender "
    "Alert</title></head>\n<body>\n";

}  // namespace

std::optional<std::string> SafeHttpUrl(std::string_view url) {
  const std::string head = StartsLower(url, 8);
  size_t rest = 0;
  if (head.rfind("https://", 0) == 0) {
    rest = 8;
  } else if (head.rfind("http://", 0) == 0) {
    rest = 7;
  } else {
    return std::nullopt;
  }
  if (url.size() <= rest || url.size() > 2048) return std::nullopt;
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' ||
        c == '\\') {
      return std::nullopt;
    }
  }
  return std::string(url);
}

namespace {

// A link for http(s) URLs; anything else is shown as text, never made clickable.
std::string ReportCell(std::string_view url) {
  if (auto link = SafeHttpUrl(url)) {
    return fmt::format("<a href=\"{}\">{}</a>", EscapeHtml(*link), EscapeHtml(*link));
  }
  return EscapeHtml(url);
}

}  // namespace

std::string RenderAlertSummaryHtml(const AlertSummary& a) {
  std::string rows;
  auto row = [&](std::string_view label, std::string_view value_html) {
    rows += fmt::format("<tr><th style=\"text-align:left\">{}</th><td>{}</td></tr>\n", label,
                        value_html);
  };
  row("Alert", EscapeHtml(a.alert_id));
  row("Title", EscapeHtml(a.title));
  row("Device", EscapeHtml(a.device));
  row("File name", EscapeHtml(a.file_name));
  row("SHA-256", "<code>" + EscapeHtml(a.sha256) + "</code>");
  row("Verdict", "<b>" + EscapeHtml(Or(a.verdict, "unknown")) + "</b>");
  if (!a.report_url.empty()) row("VMRay report", ReportCell(a.report_url));
  row("Classifications", EscapeHtml(Or(Join(a.classifications), "none")));
  row("Threat names", EscapeHtml(Or(Join(a.threat_names), "none")));
  row("State", EscapeHtml(a.state));
  if (!a.reason.empty()) row("Reason", EscapeHtml(a.reason));
  return fmt::format(
      "{}<p>VMRay analysis details for Defender alert {}:</p>\n"
      "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n{}</table>\n</body></html>\n",
      kHtmlHead, EscapeHtml(a.alert_id), rows);
}

std::string RenderAlertSummaryText(const AlertSummary& a) {
  std::string out = fmt::format("VMRay analysis details for Defender alert {}:\n\n",
                                SanitizeHeaderText(a.alert_id));
  auto line = [&](std::string_view label, std::string_view value) {
    // One line per value: a line break in a title must not forge a "Verdict:" line.
    out += fmt::format("{}: {}\n", label, SanitizeHeaderText(value));
  };
  line("Alert", a.alert_id);
  line("Title", a.title);
  line("Device", a.device);
  line("File name", a.file_name);
  line("SHA-256", a.sha256);
  line("Verdict", Or(a.verdict, "unknown"));
  if (!a.report_url.empty()) line("VMRay report", a.report_url);
  line("Classifications", Or(Join(a.classifications), "none"));
  line("Threat names", Or(Join(a.threat_names), "none"));
  line("State", a.state);
  if (!a.reason.empty()) line("Reason", a.reason);
  return out;
}

std::string AlertSubject(const AlertSummary& a, std::string_view subject) {
  return fmt::format("{} {}: {} - {}", subject, a.alert_id, Or(a.verdict, "unknown"), a.title);
}

MailMessage AlertMail(const AlertSummary& alert, std::string from, std::vector<std::string> to,
                      std::string_view subject) {
  MailMessage m;
  m.from = std::move(from);
  m.from_name = "VMRay Connector";
  m.to = std::move(to);
  m.subject = AlertSubject(alert, subject);
  m.text_body = RenderAlertSummaryText(alert);
  m.html_body = RenderAlertSummaryHtml(alert);
  return m;
}

std::string RenderDigestHtml(const std::vector<AlertSummary>& alerts) {
  std::string rows =
      "<tr><th>Alert</th><th>Title</th><th>Device</th><th>File name</th><th>SHA-256</th>"
      "<th>Verdict</th><th>VMRay report</th><th>Threat names</th><th>State</th></tr>\n";
  for (const auto& a : alerts) {
    std::string state = EscapeHtml(a.state);
    if (!a.reason.empty()) state += ": " + EscapeHtml(a.reason);
    rows += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><b>{}</b>"
        "</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        EscapeHtml(a.alert_id), EscapeHtml(a.title), EscapeHtml(a.device), EscapeHtml(a.file_name),
        EscapeHtml(a.sha256), EscapeHtml(Or(a.verdict, "unknown")), ReportCell(a.report_url),
        EscapeHtml(Or(Join(a.threat_names), "none")), state);
  }
  return fmt::format(
      "{}<p>VMRay analysis details for {} Defender alert(s):</p>\n"
      "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n{}</table>\n</body></html>\n",
      kHtmlHead, alerts.size(), rows);
}

std::string RenderDigestText(const std::vector<AlertSummary>& alerts) {
  std::string out =
      fmt::format("VMRay analysis details for {} Defender alert(s):\n", alerts.size());
  for (const auto& a : alerts) {
    out += "\n";
    // Each alert's block starts with its own "VMRay analysis details..." line; drop it.
    const std::string one = RenderAlertSummaryText(a);
    out += one.substr(one.find("\n\n") + 2);
  }
  return out;
}

std::string DigestSubject(const std::vector<AlertSummary>& alerts, std::string_view subject) {
  std::set<std::string> ids;
  for (const auto& a : alerts) ids.insert(a.alert_id);
  // One alert with several files: its own subject, from the first row (callers put the most
  // severe verdict first).
  if (ids.size() == 1) return AlertSubject(alerts.front(), subject);
  return fmt::format("{} - {} alerts settled", subject, ids.size());
}

MailMessage DigestMail(const std::vector<AlertSummary>& alerts, std::string from,
                       std::vector<std::string> to, std::string_view subject) {
  MailMessage m;
  m.from = std::move(from);
  m.from_name = "VMRay Connector";
  m.to = std::move(to);
  m.subject = DigestSubject(alerts, subject);
  m.text_body = RenderDigestText(alerts);
  m.html_body = RenderDigestHtml(alerts);
  return m;
}

}  // namespace vc::mail
