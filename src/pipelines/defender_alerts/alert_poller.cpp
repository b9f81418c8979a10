#include "pipelines/defender_alerts/alert_poller.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/session_gate.hpp"

namespace vc::defender {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool UsableSha256(const std::string& sha256) {
  return IsHex(sha256, 64);
}

}  // namespace

AlertPoller::AlertPoller(DefenderOptions options, mde::Client& mde, store::Store& store,
                         Clock& clock)
    : options_(std::move(options)), mde_(mde), store_(store), clock_(clock) {}

bool AlertPoller::Wanted(const mde::Alert& alert) const {
  // The server filters too, but the defaults must hold even if it ignored part of $filter:
  // CustomerTI alerts (raised by indicators, possibly ours) must never loop back in.
  if (!options_.detection_sources.empty() &&
      std::find(options_.detection_sources.begin(), options_.detection_sources.end(),
                alert.detection_source) == options_.detection_sources.end()) {
    return false;
  }
  if (options_.title_filters.empty()) return true;
  const std::string title = Lower(alert.title);
  return std::any_of(
      options_.title_filters.begin(), options_.title_filters.end(),
      [&](const std::string& f) { return title.find(Lower(f)) != std::string::npos; });
}

void AlertPoller::Admit(const mde::Alert& alert, TimePoint now, PollStats& stats,
                        std::vector<store::NewJob>& jobs) {
  EvidencePayload base;
  base.alert_id = alert.id;
  base.incident_id = alert.incident_id;
  base.alert_title = alert.title;
  base.machine_id = alert.machine_id;
  base.computer_dns_name = alert.computer_dns_name;
  base.detection_source = alert.detection_source;
  base.threat_name = alert.threat_name;
  base.threat_family = alert.threat_family_name;
  base.priority = SeverityPriority(alert.severity);

  std::set<std::string> seen;
  int files = 0;
  int without_sha256 = 0;
  for (const auto& ev : alert.evidence) {
    if (ev.entity_type == "Url" && !ev.url.empty()) {
      // Analysed as a URL (the original's 1.1.0 behaviour); never collected or fetched here.
      EvidencePayload p = base;
      p.url = ev.url;
      if (!seen.insert(p.EvidenceKey()).second) continue;
      jobs.push_back({std::string(kJobKind), fmt::format("mde:{}:{}", alert.id, p.EvidenceKey()),
                      "new", p.Dump(), "", now});
      continue;
    }
    if (ev.entity_type != "File") continue;
    ++files;
    std::string sha256 = Lower(ev.sha256);
    if (!UsableSha256(sha256)) {
      ++without_sha256;
      continue;
    }
    if (!seen.insert(sha256).second) continue;
    EvidencePayload p = base;
    p.sha256 = sha256;
    p.sha1 = Lower(ev.sha1);
    p.file_name = ev.file_name;
    p.file_path = ev.file_path;
    store::NewJob job{std::string(kJobKind),
                      fmt::format("mde:{}:{}", alert.id, sha256),
                      "new",
                      p.Dump(),
                      sha256,
                      now};
    jobs.push_back(std::move(job));
  }
  if (seen.empty()) {
    ++stats.without_file;
    EvidencePayload p = base;
    p.skip_reason = files == 0 ? "the alert has no file evidence"
                               : fmt::format("the alert's {} file evidence(s) carry no SHA-256",
                                             without_sha256);
    store::NewJob job{std::string(kJobKind),
                      fmt::format("mde:{}", alert.id),
                      "no_file_evidence",
                      p.Dump(),
                      "",
                      now};
    jobs.push_back(std::move(job));
  }
}

Result<PollStats> AlertPoller::PollOnce() {
  const TimePoint now = clock_.Now();
  auto cursor_text = store_.GetCursor(kCursor);
  if (!cursor_text) return cursor_text.error();
  TimePoint cursor = now - options_.initial_lookback;
  if (*cursor_text) {
    if (auto t = ParseIso8601(**cursor_text)) cursor = *t;
  }
  mde::AlertQuery q;
  q.created_since = cursor - options_.overlap;
  q.statuses = options_.statuses;
  q.severities = options_.severities;
  q.detection_sources = options_.detection_sources;
  q.top = options_.page_size;
  q.expand_evidence = true;

  PollStats stats;
  TimePoint newest = cursor;
  for (;;) {
    std::vector<store::NewJob> jobs;
    auto page = mde_.ListAlertPage(q);
    if (!page) return page.error();
    for (const auto& bad : page->rejected) {
      // One unreadable alert must not stop the others: it gets a failed job with the reason
      // (when it has an id to key it by) and the cursor moves on.
      ++stats.unreadable;
      spdlog::warn("MDE alert {} cannot be read and is skipped: {}",
                   bad.id.empty() ? "(no id)" : bad.id, bad.error.ToString());
      if (bad.id.empty()) continue;
      EvidencePayload p;
      p.alert_id = bad.id;
      p.skip_reason =
          "MDE sent this alert in a shape the connector cannot read: " + bad.error.message;
      jobs.push_back({std::string(kJobKind), fmt::format("mde:{}", bad.id), "unreadable_alert",
                      p.Dump(), "", now});
    }
    const size_t unreadable_jobs = jobs.size();  // counted as unreadable, not as new
    for (const auto& alert : page->alerts) {
      ++stats.alerts;
      if (alert.alert_creation_time && *alert.alert_creation_time > newest) {
        newest = *alert.alert_creation_time;
      }
      if (!Wanted(alert)) {
        ++stats.filtered;
        continue;
      }
      Admit(alert, now, stats, jobs);
    }
    // One transaction per page: intake is a single writer racing the workers for the store.
    auto inserted = store_.InsertJobs(jobs);
    if (!inserted) return inserted.error();
    for (size_t i = unreadable_jobs; i < inserted->size(); ++i) {
      ++((*inserted)[i] ? stats.jobs_created : stats.already_known);
    }
    jobs.clear();
    if (static_cast<int>(page->records) < q.top) break;
    q.skip += q.top;
  }
  // Only a fully read window moves the cursor: a failure above re-reads it next time.
  VC_RETURN_IF_ERROR(store_.SetCursor(kCursor, FormatIso8601Millis(newest)));
  auto& m = Metrics::Global();
  m.Inc("vc_alerts_polled_total", {{"outcome", "new_job"}}, stats.jobs_created);
  m.Inc("vc_alerts_polled_total", {{"outcome", "known"}}, stats.already_known);
  m.Inc("vc_alerts_polled_total", {{"outcome", "filtered"}}, stats.filtered);
  m.Inc("vc_alerts_polled_total", {{"outcome", "unreadable"}}, stats.unreadable);
  if (stats.jobs_created > 0) {
    spdlog::info("polled {} alerts: {} new jobs, {} known, {} filtered, {} without file evidence",
                 stats.alerts, stats.jobs_created, stats.already_known, stats.filtered,
                 stats.without_file);
  }
  return stats;
}

}  // namespace vc::defender
