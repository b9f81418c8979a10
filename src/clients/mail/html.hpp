// The HTML (and plain-text twin) summary of one settled alert. Every value comes from outside
// (alert titles, file names, threat names are attacker-influenced), so each one goes through
// EscapeHtml, and links are emitted only for http(s) URLs, attribute-escaped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/mail/mime.hpp"
#include "core/html.hpp"

namespace vc::mail {

// The project's one escaping function (core/html.hpp): & < > " ' escaped, control characters
// and broken UTF-8 shown as U+FFFD.
using ::vc::EscapeHtml;
// The URL when it is an absolute http:// or https:// URL without whitespace, quotes, angle
// brackets or control characters; nullopt otherwise (javascript:, data:, relative, ...).
std::optional<std::string> SafeHttpUrl(std::string_view url);

struct AlertSummary {
  std::string alert_id;
  std::string title;
  std::string device;
  std::string file_name;
  std::string sha256;
  std::string verdict;
  std::string report_url;  // VMRay analysis report link
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  std::string state;   // e.g. "done", "failed"
  std::string reason;  // why, when not done
};

std::string RenderAlertSummaryHtml(const AlertSummary& alert);
std::string RenderAlertSummaryText(const AlertSummary& alert);
// The original Logic App's subject; mail.subject replaces it.
inline constexpr std::string_view kDefaultSubject = "VMRay Analysis for Defender Alert";

// "<subject> <id>: <verdict> - <title>" (sanitized by BuildMime).
std::string AlertSubject(const AlertSummary& alert, std::string_view subject = kDefaultSubject);

// A ready-to-build message for one alert.
MailMessage AlertMail(const AlertSummary& alert, std::string from, std::vector<std::string> to,
                      std::string_view subject = kDefaultSubject);

// A digest: one table row (or text paragraph) per alert settled in the interval.
std::string RenderDigestHtml(const std::vector<AlertSummary>& alerts);
std::string RenderDigestText(const std::vector<AlertSummary>& alerts);
// "<subject> - <n> alerts settled" (n distinct alert ids), or for rows of one alert the
// AlertSubject of the first row (callers order rows most severe verdict first).
std::string DigestSubject(const std::vector<AlertSummary>& alerts,
                          std::string_view subject = kDefaultSubject);
MailMessage DigestMail(const std::vector<AlertSummary>& alerts, std::string from,
                       std::vector<std::string> to, std::string_view subject = kDefaultSubject);

}  // namespace vc::mail
