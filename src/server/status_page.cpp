#include "server/status_page.hpp"

#include <fmt/format.h>

#include <map>

#include "core/html.hpp"
#include "core/json.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"

namespace vc::server {
namespace {

constexpr size_t kMaxReasonChars = 400;

// Every value on the page goes through here: secrets scrubbed (again: reasons are scrubbed when
// written, but a value registered later must not leak either), then escaped.
std::string E(std::string_view text) {
  return EscapeHtml(Scrub(text));
}

std::string Shorten(std::string text, size_t max) {
  if (text.size() <= max) return text;
  text.resize(max);
  return text + "\xE2\x80\xA6";  // an ellipsis; a cut UTF-8 sequence is replaced when escaped
}

StatusRow RowFrom(const store::Job& job) {
  StatusRow row;
  row.id = job.id;
  row.kind = job.kind;
  row.state = job.state;
  row.reason = job.reason;
  row.attempts = job.attempts;
  row.final = job.final;
  row.next_attempt_at = job.next_attempt_at;
  row.updated_at = job.updated_at;
  // The payload is the pipeline's JSON; only these display fields are read from it.
  auto payload = Json::parse(job.payload, nullptr, false);
  if (payload.is_object()) {
    auto text = [&](const char* key) {
      auto it = payload.find(key);
      return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    row.alert_id = text("alert_id");
    row.alert_title = text("alert_title");
    row.file_name = text("file_name");
  }
  return row;
}

// Verdicts for the rows, one primary-key read per distinct file.
Status AddVerdicts(store::Store& store, const std::vector<store::Job>& jobs,
                   std::vector<StatusRow>& rows, std::map<std::string, std::string>& cache) {
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto payload = Json::parse(jobs[i].payload, nullptr, false);
    std::string sha256;
    if (payload.is_object() && payload.contains("sha256") && payload["sha256"].is_string()) {
      sha256 = payload["sha256"].get<std::string>();
    }
    if (sha256.empty()) continue;
    auto cached = cache.find(sha256);
    if (cached == cache.end()) {
      VC_ASSIGN_OR_RETURN(auto sample, store.GetSample(sha256));
      cached = cache.emplace(sha256, sample ? sample->verdict : std::string()).first;
    }
    rows[i].verdict = cached->second;
  }
  return Ok();
}

std::string Span(int64_t s) {
  if (s < 120) return fmt::format("{} s", s);
  if (s < 7200) return fmt::format("{} min", s / 60);
  if (s < 172800) return fmt::format("{} h", s / 3600);
  return fmt::format("{} d", s / 86400);
}

// "12 s ago" for a past time, "in 3 min" for a future one.
std::string Ago(TimePoint now, TimePoint then) {
  if (then > now) {
    return "in " + Span(std::chrono::duration_cast<std::chrono::seconds>(then - now).count());
  }
  return Span(std::chrono::duration_cast<std::chrono::seconds>(now - then).count()) + " ago";
}

std::string NextRetry(const StatusRow& row, TimePoint now) {
  if (row.final) return "";
  if (row.next_attempt_at <= now + Millis(1000)) return "due now";
  return Ago(now, row.next_attempt_at);
}

std::string VerdictClass(const std::string& verdict) {
  if (verdict == "malicious") return "bad";
  if (verdict == "suspicious") return "warn";
  if (verdict == "clean") return "good";
  return "";
}

std::string StateClass(const StatusRow& row) {
  if (row.state == "failed") return "bad";
  if (row.state == "done") return "good";
  if (row.attempts > 0) return "warn";
  return "";
}

constexpr std::string_view kStyle = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f4f6f9}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}
main{padding:12px 20px}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;margin:0 0 14px;padding:10px 14px}
h2{font-size:15px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef1f5;vertical-align:top}
th{font-weight:600;color:#4a5568;background:#f8fafc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.reason{max-width:520px;word-break:break-word;color:#4a5568}
td.line{max-width:360px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
td.id{white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600}
.good{color:#17753a}.warn{color:#9a6200}.bad{color:#b42318}
.badge.good{background:#dcf5e5}.badge.bad{background:#fde4e1}
.muted{color:#718096}
.grid{display:grid;grid-template-columns:3fr 2fr;gap:14px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
code{font-size:12px}
)css";

void RenderHealth(const StatusView& v, std::string& out) {
  out +=
      "<section id=\"health\"><h2>Health</h2><table><tr><th>Check</th><th>Status</th>"
      "<th>Detail</th></tr>";
  for (const auto& c : v.checks) {
    const std::string action =
        c.ok ? "" : fmt::format("<br><span class=\"warn\">What to do: {}</span>", E(c.action));
    out +=
        fmt::format("<tr><td>{}</td><td><span class=\"badge {}\">{}</span></td><td>{}{}</td></tr>",
                    E(c.name), c.ok ? "good" : "bad", c.ok ? "ok" : "failing", E(c.detail), action);
  }
  out += "</table></section>";
}

void RenderQueue(const StatusView& v, std::string& out) {
  out +=
      "<section id=\"queue\"><h2>Queue by state</h2><table><tr><th>Kind</th><th>State</th>"
      "<th>Jobs</th></tr>";
  int64_t total = 0;
  for (const auto& c : v.job_counts) {
    total += c.count;
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>", E(c.kind),
                       E(c.state), c.count);
  }
  if (v.job_counts.empty()) out += "<tr><td colspan=\"3\" class=\"muted\">no jobs yet</td></tr>";
  out +=
      fmt::format("<tr><th colspan=\"2\">Total</th><th class=\"num\">{}</th></tr></table>", total);
  out += "<h2>Write-backs</h2><table><tr><th>Kind</th><th>State</th><th>Items</th></tr>";
  for (const auto& c : v.outbox_counts) {
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>", E(c.kind),
                       E(c.state), c.count);
  }
  if (v.outbox_counts.empty()) {
    out += "<tr><td colspan=\"3\" class=\"muted\">none</td></tr>";
  }
  out += "</table>";
  out += fmt::format("<p>Oldest due job waiting: <strong>{}</strong></p></section>",
                     v.oldest_due ? E(Ago(v.now, *v.oldest_due)) : "none");
}

void RenderLimiters(const StatusView& v, std::string& out) {
  out +=
      "<section id=\"limiters\"><h2>Rate limiters</h2><table><tr><th>Limiter</th>"
      "<th>Used of tightest window</th></tr>";
  // Only limiters in use get a row: most of the documented MDE limits are idle most of the time.
  int idle = 0;
  for (const auto& l : v.limiters) {
    const double pct = l.utilisation * 100;
    if (pct < 0.5) {
      ++idle;
      continue;
    }
    out += fmt::format("<tr><td>{}</td><td class=\"num {}\">{:.0f} %</td></tr>", E(l.name),
                       pct >= 90 ? "warn" : "", pct);
  }
  if (v.limiters.empty()) {
    out += "<tr><td colspan=\"2\" class=\"muted\">no local limits enforced</td></tr>";
  } else if (idle > 0) {
    out += fmt::format("<tr><td colspan=\"2\" class=\"muted\">{} more limiter{} at 0 %</td></tr>",
                       idle, idle == 1 ? "" : "s");
  }
  out += "</table></section>";
}

void RenderTroubled(const StatusView& v, std::string& out) {
  out +=
      "<section id=\"errors\"><h2>Recent errors</h2><table><tr><th>Job</th><th>Alert</th>"
      "<th>File</th><th>State</th><th>Tries</th><th>Next retry</th><th>Reason</th>"
      "<th>What to do</th></tr>";
  for (const auto& r : v.troubled) {
    out += fmt::format(
        "<tr><td class=\"num\">{}</td><td class=\"id\">{}</td><td>{}</td><td class=\"{}\">{}</td>"
        "<td class=\"num\">{}</td><td>{}</td><td class=\"reason\">{}</td><td>{}</td></tr>",
        r.id, E(r.alert_id), E(r.file_name), StateClass(r), E(r.state), r.attempts,
        E(NextRetry(r, v.now)), E(Shorten(r.reason, kMaxReasonChars)), E(WhatToDo(r, v.now)));
  }
  if (v.troubled.empty()) {
    out += "<tr><td colspan=\"8\" class=\"muted\">no failed or retrying jobs</td></tr>";
  }
  out += "</table></section>";
}

void RenderRecent(const StatusView& v, std::string& out) {
  out += fmt::format(
      "<section id=\"jobs\"><h2>Last {} jobs</h2><table><tr><th>Job</th><th>Alert</th>"
      "<th>Title</th><th>File</th><th>Verdict</th><th>State</th><th>Next retry</th>"
      "<th>Updated</th><th>Reason</th></tr>",
      kStatusRecentJobs);
  for (const auto& r : v.recent) {
    out += fmt::format(
        "<tr class=\"job\" data-job=\"{}\"><td class=\"num\">{}</td><td class=\"id\">{}</td>"
        "<td>{}</td><td class=\"file\">{}</td><td class=\"verdict {}\">{}</td>"
        "<td class=\"state {}\">{}</td><td class=\"id\">{}</td><td class=\"id\">{}</td>"
        "<td class=\"reason line\" title=\"{}\">{}</td></tr>",
        r.id, r.id, E(r.alert_id), E(Shorten(r.alert_title, 120)), E(Shorten(r.file_name, 120)),
        VerdictClass(r.verdict), E(r.verdict), StateClass(r), E(r.state), E(NextRetry(r, v.now)),
        E(Ago(v.now, r.updated_at)), E(Shorten(r.reason, kMaxReasonChars)),
        E(Shorten(r.reason, kMaxReasonChars)));
  }
  if (v.recent.empty()) out += "<tr><td colspan=\"9\" class=\"muted\">no jobs yet</td></tr>";
  out += "</table></section>";
}

}  // namespace

Result<StatusView> CollectStatus(store::Store& store, TimePoint now) {
  StatusView v;
  v.now = now;
  VC_ASSIGN_OR_RETURN(v.job_counts, store.CountJobs());
  VC_ASSIGN_OR_RETURN(v.outbox_counts, store.CountOutbox());
  VC_ASSIGN_OR_RETURN(v.oldest_due, store.OldestDueJob(now));
  std::map<std::string, std::string> verdicts;
  {
    VC_ASSIGN_OR_RETURN(auto jobs, store.ListJobs({"", "", std::nullopt, "", kStatusRecentJobs}));
    for (const auto& j : jobs) v.recent.push_back(RowFrom(j));
    VC_RETURN_IF_ERROR(AddVerdicts(store, jobs, v.recent, verdicts));
  }
  {
    VC_ASSIGN_OR_RETURN(auto jobs, store.ListTroubledJobs(kStatusTroubledJobs));
    for (const auto& j : jobs) v.troubled.push_back(RowFrom(j));
    VC_RETURN_IF_ERROR(AddVerdicts(store, jobs, v.troubled, verdicts));
  }
  return v;
}

std::string WhatToDo(const StatusRow& row, TimePoint now) {
  const std::string& r = row.reason;
  auto has = [&](std::string_view s) { return r.find(s) != std::string::npos; };
  std::string advice;
  if (has("Unauthenticated")) {
    advice =
        "a credential was rejected: check azure.client_secret (AzureClientSecret) and "
        "vmray.api_key (VmrayAPIKey); `vmray-connector doctor` names the failing one";
  } else if (has("PermissionDenied")) {
    advice =
        "grant the app registration the API permission this call needs (the reason names the "
        "call) and admin-consent it; `vmray-connector doctor` lists what is missing";
  } else if (has("RateLimited")) {
    advice = "nothing: the service asked the connector to slow down; it waits and retries";
  } else if (has("Unavailable") || has("Timeout")) {
    advice =
        "the service was unreachable or failing: check the network, proxy (http.proxy) and the "
        "service's status page";
  } else if (has("offline") || has("Offline")) {
    advice =
        "the device is offline: bring it online; collection waits up to "
        "defender.live_response.give_up_after_hours";
  } else if (has("NotFound") || has("not found") || has("no longer on")) {
    advice = "the item is gone (alert deleted, file removed from the device): nothing to retry";
  } else if (row.final) {
    advice = "read the reason; the alert's comment says the same";
  }
  if (!row.final) {
    const std::string when = row.next_attempt_at <= now ? "now" : Ago(now, row.next_attempt_at);
    advice += advice.empty() ? fmt::format("retried automatically ({})", when)
                             : fmt::format("; retried automatically ({})", when);
  }
  return advice;
}

std::string RenderStatusPage(const StatusView& v) {
  std::string out;
  out.reserve(64 * 1024);
  const bool ready = AllReady(v.checks);
  out += fmt::format(
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"{}\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>vmray-connector status</title><style>{}</style></head><body>",
      kStatusRefreshSeconds, kStyle);
  out += fmt::format(
      "<header><h1>vmray-connector</h1><span>{}</span><span id=\"ready\" class=\"badge {}\">{}"
      "</span><span class=\"muted\">{} · refreshes every {} s</span></header><main>",
      E(v.version), ready ? "good" : "bad", ready ? "ready" : "not ready", E(FormatIso8601(v.now)),
      kStatusRefreshSeconds);
  // Health and the queue first, then what needs a human, then the jobs; limiters last.
  out += "<div class=\"grid\">";
  RenderHealth(v, out);
  RenderQueue(v, out);
  out += "</div>";
  RenderTroubled(v, out);
  RenderRecent(v, out);
  RenderLimiters(v, out);
  out += "</main></body></html>\n";
  return out;
}

}  // namespace vc::server
