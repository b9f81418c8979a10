#include "pipelines/defender_alerts/incident_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "clients/vmray/client.hpp"
#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"

namespace vc::defender {
namespace {

// A write-back whose service keeps failing is given up after this many attempts (about a day
// with WriteBackBackoff), as the indicator writer does.
constexpr int kMaxAttempts = 60;
// Threat-name tags one delivery adds at most: a sample with dozens of names must not flood the
// incident's tag list.
constexpr size_t kMaxThreatTags = 10;

jobs::Delivery Count(std::string_view kind, jobs::Delivery d) {
  const char* outcome = d.outcome == jobs::Delivery::Outcome::kDone     ? "written"
                        : d.outcome == jobs::Delivery::Outcome::kFailed ? "failed"
                                                                        : "retried";
  Metrics::Global().Inc("vc_incident_writebacks_total",
                        {{"kind", std::string(kind)}, {"outcome", outcome}});
  return d;
}

// What to do with a Graph error: an incident Graph does not know (deleted, merged into another,
// or not visible to this app) or a refused request would be the same next time; anything else
// (throttling, Graph away, a permission being granted) is worth another attempt.
jobs::Delivery OnError(const store::OutboxItem& item, const Error& error, const std::string& what) {
  if (error.code == ErrorCode::kNotFound || error.code == ErrorCode::kInvalidArgument) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                         fmt::format("{}: {}; not retried", what, error.ToString()));
  }
  if (item.attempts >= kMaxAttempts) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                         fmt::format("gave up {}: {}", what, error.ToString()));
  }
  Millis delay = WriteBackBackoff(item.attempts);
  if (error.retry_after) delay = std::max<Millis>(Millis(1'000), *error.retry_after);
  return RetryDelivery(what + ": " + error.ToString(), delay);
}

std::string Capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

int VerdictRank(const std::string& verdict) {
  std::string v = verdict;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "malicious") return 3;
  if (v == "suspicious") return 2;
  if (v == "clean") return 1;
  return 0;
}

std::string VerdictTag(const std::string& verdict) {
  if (VerdictRank(verdict) == 0) return "";
  std::string v = verdict;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::string(kVerdictTagPrefix) + Capitalised(v);
}

std::vector<std::string> ThreatTags(const SampleResult& result) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::vector<std::string>& names) {
    for (const auto& name : names) {
      // VMRay's tag rule, with the runs of '_' it leaves for removed characters squeezed:
      // "EICAR-Test-File (not a virus)" -> "EICAR-Test-File_not_a_virus".
      std::string tag;
      for (char c : vmray::SanitizeTag(name)) {
        if (c == '_' && (tag.empty() || tag.back() == '_')) continue;
        tag.push_back(c);
      }
      while (!tag.empty() && tag.back() == '_') tag.pop_back();
      if (tag.empty()) continue;
      if (out.size() < kMaxThreatTags && seen.insert(tag).second) out.push_back(std::move(tag));
    }
  };
  add(result.threat_names);
  for (const auto& child : result.children) add(child.threat_names);
  return out;
}

std::vector<std::string> MergeIncidentTags(const std::vector<std::string>& existing,
                                           const std::string& verdict_tag,
                                           const std::vector<std::string>& threat_tags) {
  std::vector<std::string> out;
  std::set<std::string> present;
  for (const auto& t : existing) {
    // Our older verdict tag gives way to the current one, in its place (an unchanged list is not
    // written again); nobody else's tag is touched.
    const std::string& keep =
        !verdict_tag.empty() && t.rfind(kVerdictTagPrefix, 0) == 0 ? verdict_tag : t;
    if (present.insert(keep).second) out.push_back(keep);
  }
  if (!verdict_tag.empty() && present.insert(verdict_tag).second) out.push_back(verdict_tag);
  for (const auto& t : threat_tags) {
    if (present.insert(t).second) out.push_back(t);
  }
  return out;
}

std::string IncidentCommentText(const std::string& alert_id, const std::string& alert_comment) {
  return fmt::format("{} (alert {})\n{}", kIncidentCommentMarker, alert_id, alert_comment);
}

std::string IncidentVerdictCursor(const std::string& incident_id) {
  return "incident-verdict:" + incident_id;
}

store::NewOutboxItem IncidentTagsItem(const std::string& incident_id, const std::string& alert_id,
                                      const std::string& evidence_key, const SampleResult& result) {
  store::NewOutboxItem item;
  // Per file of the alert: each may bring its own verdict and threat names.
  item.idempotency_key = fmt::format("incident-tags:{}:{}:{}", incident_id, alert_id, evidence_key);
  item.kind = std::string(kIncidentTagsKind);
  item.target = alert_id;
  item.payload = Json{{"incident_id", incident_id},
                      {"alert_id", alert_id},
                      {"verdict", result.verdict},
                      {"threat_tags", ThreatTags(result)}}
                     .dump();
  item.completes_job = false;
  return item;
}

store::NewOutboxItem IncidentCommentItem(const std::string& incident_id,
                                         const std::string& alert_id,
                                         const std::string& alert_comment) {
  store::NewOutboxItem item;
  // Once per incident: the second alert of the incident finds the key taken.
  item.idempotency_key = "incident-comment:" + incident_id;
  item.kind = std::string(kIncidentCommentKind);
  item.target = alert_id;
  item.payload = Json{{"incident_id", incident_id},
                      {"alert_id", alert_id},
                      {"comment", IncidentCommentText(alert_id, alert_comment)}}
                     .dump();
  item.completes_job = false;
  return item;
}

jobs::Delivery IncidentTagWriter::Deliver(const store::OutboxItem& item, TimePoint) {
  const std::string kind(kIncidentTagsKind);
  auto payload = ParseJson(item.payload, "incident tag request");
  if (!payload || !payload->is_object() || !(*payload)["incident_id"].is_string()) {
    return Count(
        kind, FinalDelivery(jobs::Delivery::Outcome::kFailed, "unreadable incident tag request"));
  }
  const std::string incident_id = (*payload)["incident_id"];
  const std::string verdict = payload->value("verdict", "");
  std::vector<std::string> threat_tags;
  if ((*payload)["threat_tags"].is_array()) {
    for (const auto& t : (*payload)["threat_tags"]) {
      if (t.is_string()) threat_tags.push_back(t);
    }
  }
  const std::string what = "tagging incident " + incident_id;

  std::lock_guard lock(mu_);
  // The most severe verdict of the incident's files seen so far, this one included. Recorded
  // before the write: a retry or a later alert must not tag a milder verdict.
  auto cursor = store_.GetCursor(IncidentVerdictCursor(incident_id));
  if (!cursor) return Count(kind, OnError(item, cursor.error(), "reading the incident verdict"));
  std::string worst = cursor->value_or("");
  if (VerdictRank(verdict) > VerdictRank(worst)) {
    worst = verdict;
    if (auto s = store_.SetCursor(IncidentVerdictCursor(incident_id), worst); !s) {
      return Count(kind, OnError(item, s.error(), "recording the incident verdict"));
    }
  }
  auto incident = graph_.GetIncident(incident_id);
  if (!incident) return Count(kind, OnError(item, incident.error(), what));
  const std::vector<std::string> merged =
      MergeIncidentTags(incident->custom_tags, VerdictTag(worst), threat_tags);
  if (merged == incident->custom_tags) {
    return Count(kind, FinalDelivery(jobs::Delivery::Outcome::kDone,
                                     "incident " + incident_id + " already carries our tags"));
  }
  auto written = graph_.SetCustomTags(incident_id, merged);
  if (!written) return Count(kind, OnError(item, written.error(), what));
  spdlog::info("incident {} tagged ({} tags, verdict {})", incident_id, merged.size(),
               worst.empty() ? "none" : worst);
  return Count(kind, FinalDelivery(jobs::Delivery::Outcome::kDone,
                                   fmt::format("incident {} tagged: {}", incident_id,
                                               Scrub(Json(merged).dump()))));
}

jobs::Delivery IncidentCommentWriter::Deliver(const store::OutboxItem& item, TimePoint) {
  const std::string kind(kIncidentCommentKind);
  auto payload = ParseJson(item.payload, "incident comment request");
  if (!payload || !payload->is_object() || !(*payload)["incident_id"].is_string() ||
      !(*payload)["comment"].is_string()) {
    return Count(kind, FinalDelivery(jobs::Delivery::Outcome::kFailed,
                                     "unreadable incident comment request"));
  }
  const std::string incident_id = (*payload)["incident_id"];
  const std::string comment = (*payload)["comment"];
  const std::string what = "commenting on incident " + incident_id;
  // An earlier attempt may have posted it and died before recording that: look first.
  auto incident = graph_.GetIncident(incident_id);
  if (!incident) return Count(kind, OnError(item, incident.error(), what));
  for (const auto& c : incident->comments) {
    if (c.comment.rfind(kIncidentCommentMarker, 0) == 0) {
      return Count(kind, FinalDelivery(jobs::Delivery::Outcome::kDone,
                                       "incident " + incident_id + " already has our comment"));
    }
  }
  if (auto posted = graph_.AddComment(incident_id, comment); !posted) {
    return Count(kind, OnError(item, posted.error(), what));
  }
  spdlog::info("comment written on incident {}", incident_id);
  return Count(kind, FinalDelivery(jobs::Delivery::Outcome::kDone,
                                   "comment written on incident " + incident_id));
}

}  // namespace vc::defender
