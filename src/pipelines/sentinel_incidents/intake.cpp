#include "pipelines/sentinel_incidents/intake.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"

namespace vc::sentinel_incidents {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Incident names are GUIDs in practice; anything outside these characters is not one and is
// refused before it reaches a URL path or the store.
bool ValidIncidentName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

WebhookAnswer Refuse(int status, const std::string& code, const std::string& message) {
  return {status, {{"error", {{"code", code}, {"message", message}}}}};
}

// The segments of an ARM id, split at '/', empty ones dropped.
std::vector<std::string> Segments(std::string_view id) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : id) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::string IncidentJobKey(const std::string& incident_name) {
  return "sentinel-incident:" + incident_name;
}

IncidentIntake::IncidentIntake(IncidentOptions options, sentinel::IncidentsClient& client,
                               store::Store& store, Clock& clock)
    : options_(std::move(options)), client_(client), store_(store), clock_(clock) {}

Result<bool> IncidentIntake::Queue(const std::string& incident_name, const std::string& arm_id,
                                   int64_t number) {
  store::NewJob job;
  job.kind = std::string(kIncidentJobKind);
  job.key = IncidentJobKey(incident_name);
  job.state = "new";
  job.payload = Json{{"incident", incident_name}, {"arm_id", arm_id}, {"number", number}}.dump();
  job.next_attempt_at = clock_.Now();
  return store_.InsertJob(job);
}

Result<IncidentPollStats> IncidentIntake::PollOnce() {
  const TimePoint now = clock_.Now();
  auto stored = store_.GetCursor(std::string(kCursor));
  if (!stored) return stored.error();
  TimePoint cursor = now - options_.first_poll_lookback;
  if (*stored) {
    auto parsed = ParseIso8601(**stored);
    if (!parsed) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("the stored cursor {} is not a time ('{}'); delete it with "
                                   "`vmray-connector store` to start from the last hour",
                                   kCursor, Scrub(**stored)));
    }
    cursor = *parsed;
  }
  auto incidents = client_.ListIncidentsCreatedSince(cursor - options_.poll_overlap);
  if (!incidents) return incidents.error();
  IncidentPollStats stats;
  std::vector<store::NewJob> jobs;
  TimePoint newest = cursor;
  for (const auto& i : *incidents) {
    ++stats.incidents;
    if (!ValidIncidentName(i.name)) {
      spdlog::warn("sentinel incidents: skipped an incident with the unusable name '{}'",
                   Scrub(i.name.substr(0, 60)));
      continue;
    }
    store::NewJob job;
    job.kind = std::string(kIncidentJobKind);
    job.key = IncidentJobKey(i.name);
    job.state = "new";
    job.payload = Json{{"incident", i.name}, {"arm_id", i.id}, {"number", i.number}}.dump();
    job.next_attempt_at = now;
    jobs.push_back(std::move(job));
    if (i.created && *i.created > newest) newest = *i.created;
  }
  if (!jobs.empty()) {
    auto inserted = store_.InsertJobs(jobs);
    if (!inserted) return inserted.error();
    for (bool b : *inserted) ++(b ? stats.queued : stats.already_known);
  }
  // Only now: every incident up to `newest` has its job in the store.
  if (!*stored || newest != cursor) {
    if (auto s = store_.SetCursor(std::string(kCursor), FormatIso8601Millis(newest)); !s)
      return s.error();
  }
  Metrics::Global().Inc("vc_sentinel_incidents_polled_total", {}, stats.incidents);
  return stats;
}

WebhookAnswer IncidentIntake::AcceptWebhook(const std::string& content_type,
                                            const std::string& body) {
  if (body.size() > kMaxWebhookBody) {
    return Refuse(413, "body_too_large",
                  fmt::format("the body has {} bytes; an incident notification has at most {}",
                              body.size(), kMaxWebhookBody));
  }
  if (Lower(content_type).find("application/json") == std::string::npos) {
    return Refuse(415, "unsupported_media_type",
                  "send the incident as JSON with Content-Type: application/json");
  }
  auto parsed = ParseJson(body, "incident notification");
  if (!parsed || !parsed->is_object()) {
    return Refuse(400, "invalid_json",
                  "the body is not a JSON object; send the incident as the automation rule's "
                  "incident trigger does ({\"object\": {\"id\": ..., \"name\": ...}}) or "
                  "{\"incidentArmId\": \"/subscriptions/.../incidents/<id>\"}");
  }
  const Json& root = *parsed;
  const Json& incident =
      root.contains("object") && root["object"].is_object() ? root["object"] : root;
  std::string arm_id;
  if (incident.contains("id") && incident["id"].is_string()) arm_id = incident["id"];
  if (arm_id.empty() && root.contains("incidentArmId") && root["incidentArmId"].is_string())
    arm_id = root["incidentArmId"];
  if (arm_id.empty()) {
    return Refuse(400, "missing_incident",
                  "no incident ARM id in the body: expected object.id, id or incidentArmId");
  }
  // .../workspaces/<ws>/providers/Microsoft.SecurityInsights/incidents/<name>, of our workspace.
  const auto seg = Segments(arm_id);
  std::string name, workspace;
  for (size_t i = 0; i + 1 < seg.size(); ++i) {
    if (Lower(seg[i]) == "workspaces") workspace = seg[i + 1];
    if (Lower(seg[i]) == "incidents" && i + 2 == seg.size()) name = seg[i + 1];
  }
  if (name.empty() || workspace.empty() || !ValidIncidentName(name)) {
    return Refuse(400, "invalid_incident_id",
                  "the incident ARM id is not of the form /subscriptions/<sub>/resourceGroups/"
                  "<rg>/providers/Microsoft.OperationalInsights/workspaces/<ws>/providers/"
                  "Microsoft.SecurityInsights/Incidents/<id>");
  }
  if (!options_.workspace_name.empty() && Lower(workspace) != Lower(options_.workspace_name)) {
    return Refuse(422, "foreign_workspace",
                  fmt::format("the incident belongs to workspace '{}', not to the configured "
                              "sentinel_incidents.workspace_name; point the automation rule at "
                              "the connector of that workspace",
                              Scrub(workspace.substr(0, 90))));
  }
  int64_t number = 0;
  if (incident.contains("properties") && incident["properties"].is_object()) {
    const Json& n = incident["properties"].value("incidentNumber", Json());
    if (n.is_number_integer()) number = n.get<int64_t>();
  }
  auto queued = Queue(name, arm_id, number);
  if (!queued) {
    spdlog::warn("sentinel incidents: webhook could not queue incident {}: {}", name,
                 queued.error().ToString());
    return Refuse(503, "store_unavailable",
                  "the incident could not be queued; the automation rule may retry");
  }
  Metrics::Global().Inc("vc_sentinel_incident_webhooks_total",
                        {{"outcome", *queued ? "queued" : "known"}});
  return {202, {{"incident", name}, {"queued", *queued}}};
}

}  // namespace vc::sentinel_incidents
