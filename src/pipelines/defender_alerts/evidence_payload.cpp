#include "pipelines/defender_alerts/evidence_payload.hpp"

#include "core/hash.hpp"

namespace vc::defender {
namespace {

void PutTime(Json& j, const char* key, const std::optional<TimePoint>& t) {
  if (t) j[key] = ToUnixMillis(*t);
}

std::optional<TimePoint> GetTime(JsonReader& r, const char* key) {
  auto v = r.OptInt(key);
  if (!v) return std::nullopt;
  return FromUnixMillis(*v);
}

}  // namespace

Json EvidencePayload::ToJson() const {
  Json j{{"alert_id", alert_id},
         {"incident_id", incident_id},
         {"alert_title", alert_title},
         {"machine_id", machine_id},
         {"computer_dns_name", computer_dns_name},
         {"detection_source", detection_source},
         {"threat_name", threat_name},
         {"threat_family", threat_family},
         {"sha256", sha256},
         {"sha1", sha1},
         {"file_name", file_name},
         {"file_path", file_path},
         {"owner", owner},
         {"claims", claims},
         {"busy_checks", busy_checks},
         {"lr_attempts", lr_attempts},
         {"expired_links", expired_links},
         {"action_id", action_id},
         {"command_index", command_index},
         {"accept_cached", accept_cached},
         {"submission_id", submission_id},
         {"sample_id", sample_id}};
  if (!skip_reason.empty()) j["skip_reason"] = skip_reason;
  if (priority != 0) j["priority"] = priority;
  if (not_run != 0) j["not_run"] = not_run;
  if (rides_with != 0) j["rides_with"] = rides_with;
  if (!url.empty()) j["url"] = url;
  if (!blob_name.empty()) {
    j["blob_name"] = blob_name;
    j["collection_request_id"] = collection_request_id;
    j["encrypted_upload"] = encrypted_upload;
  }
  if (!outcome.empty()) j["outcome"] = outcome;
  if (!verdict.empty()) j["verdict"] = verdict;
  if (!report_url.empty()) j["report_url"] = report_url;
  if (replays != 0) j["replays"] = replays;
  if (!last_write.empty()) j["last_write"] = last_write;
  PutTime(j, "collection_started_at", collection_started_at);
  PutTime(j, "action_started_at", action_started_at);
  PutTime(j, "submit_started_at", submit_started_at);
  PutTime(j, "submitted_at", submitted_at);
  return j;
}

Result<EvidencePayload> EvidencePayload::Parse(const std::string& text) {
  auto j = ParseJson(text, "job payload");
  if (!j) return j.error();
  JsonReader r(*j, "payload");
  EvidencePayload p;
  p.alert_id = r.Str("alert_id");
  p.incident_id = r.OptStr("incident_id").value_or("");
  p.alert_title = r.OptStr("alert_title").value_or("");
  p.machine_id = r.OptStr("machine_id").value_or("");
  p.computer_dns_name = r.OptStr("computer_dns_name").value_or("");
  p.detection_source = r.OptStr("detection_source").value_or("");
  p.threat_name = r.OptStr("threat_name").value_or("");
  p.threat_family = r.OptStr("threat_family").value_or("");
  p.sha256 = r.OptStr("sha256").value_or("");
  p.sha1 = r.OptStr("sha1").value_or("");
  p.file_name = r.OptStr("file_name").value_or("");
  p.file_path = r.OptStr("file_path").value_or("");
  p.skip_reason = r.OptStr("skip_reason").value_or("");
  p.priority = static_cast<int>(r.OptInt("priority").value_or(0));
  p.not_run = static_cast<int>(r.OptInt("not_run").value_or(0));
  p.rides_with = r.OptInt("rides_with").value_or(0);
  p.url = r.OptStr("url").value_or("");
  p.owner = r.OptBool("owner").value_or(false);
  p.claims = static_cast<int>(r.OptInt("claims").value_or(0));
  p.busy_checks = static_cast<int>(r.OptInt("busy_checks").value_or(0));
  p.lr_attempts = static_cast<int>(r.OptInt("lr_attempts").value_or(0));
  p.expired_links = static_cast<int>(r.OptInt("expired_links").value_or(0));
  p.action_id = r.OptStr("action_id").value_or("");
  p.command_index = static_cast<int>(r.OptInt("command_index", 0, 1000).value_or(0));
  p.accept_cached = r.OptBool("accept_cached").value_or(false);
  p.submission_id = r.OptInt("submission_id").value_or(0);
  p.sample_id = r.OptInt("sample_id").value_or(0);
  p.blob_name = r.OptStr("blob_name").value_or("");
  p.collection_request_id = r.OptStr("collection_request_id").value_or("");
  p.encrypted_upload = r.OptBool("encrypted_upload").value_or(false);
  p.outcome = r.OptStr("outcome").value_or("");
  p.verdict = r.OptStr("verdict").value_or("");
  p.report_url = r.OptStr("report_url").value_or("");
  p.collection_started_at = GetTime(r, "collection_started_at");
  p.action_started_at = GetTime(r, "action_started_at");
  p.submit_started_at = GetTime(r, "submit_started_at");
  p.submitted_at = GetTime(r, "submitted_at");
  p.replays = static_cast<int>(r.OptInt("replays", 0, 1'000'000).value_or(0));
  if (j->contains("last_write")) {
    const Json& w = (*j)["last_write"];
    if (!w.is_object())
      return MakeError(ErrorCode::kInvalidArgument, "payload.last_write: expected an object");
    for (const auto& [key, value] : w.items()) {
      if (!value.is_string())
        return MakeError(ErrorCode::kInvalidArgument,
                         "payload.last_write: expected a string per write-back");
      p.last_write[key] = value.get<std::string>();
    }
  }
  if (!r.ok()) return r.status().error();
  return p;
}

std::string EvidencePayload::EvidenceKey() const {
  return url.empty() ? sha256 : "url-" + Sha256Hex(url);
}

EvidencePayload EvidencePayload::Restarted() const {
  EvidencePayload p;
  p.alert_id = alert_id;
  p.incident_id = incident_id;
  p.alert_title = alert_title;
  p.machine_id = machine_id;
  p.computer_dns_name = computer_dns_name;
  p.detection_source = detection_source;
  p.threat_name = threat_name;
  p.threat_family = threat_family;
  p.sha256 = sha256;
  p.sha1 = sha1;
  p.file_name = file_name;
  p.file_path = file_path;
  p.url = url;
  p.skip_reason = skip_reason;
  p.priority = priority;
  p.replays = replays;
  p.last_write = last_write;
  return p;
}

std::string EvidencePayload::FullPath() const {
  if (file_path.empty()) return file_name;
  if (file_path.back() == '\\' || file_path.back() == '/') return file_path + file_name;
  return file_path + "\\" + file_name;
}

}  // namespace vc::defender
