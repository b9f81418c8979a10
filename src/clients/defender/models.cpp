#include "clients/defender/models.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace vc::mde {
namespace {

std::optional<TimePoint> OptTime(JsonReader& r, std::string_view key) {
  auto text = r.OptStr(key);
  if (!text || text->empty()) return std::nullopt;
  auto t = ParseIso8601(*text);
  if (!t) r.Fail(key, fmt::format("not a timestamp: {:.40}", *text));
  return t;
}

// incidentId is a long in MDE; accept a number or a numeric string, keep text.
std::string IdText(JsonReader& r, const Json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_string()) return it->get<std::string>();
  r.Fail(key, "expected a number or a string");
  return {};
}

}  // namespace

Result<Alert> ParseAlert(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  Alert a;
  a.id = r.Str("id");
  a.incident_id = IdText(r, j, "incidentId");
  a.title = r.OptStr("title").value_or("");
  a.severity = r.OptStr("severity").value_or("");
  a.status = r.OptStr("status").value_or("");
  a.detection_source = r.OptStr("detectionSource").value_or("");
  a.category = r.OptStr("category").value_or("");
  a.threat_name = r.OptStr("threatName").value_or("");
  a.threat_family_name = r.OptStr("threatFamilyName").value_or("");
  a.machine_id = r.OptStr("machineId").value_or("");
  a.computer_dns_name = r.OptStr("computerDnsName").value_or("");
  a.alert_creation_time = OptTime(r, "alertCreationTime");
  a.last_update_time = OptTime(r, "lastUpdateTime");
  const Json& comments = r.OptArray("comments");
  const Json& evidence = r.OptArray("evidence");
  if (!r.ok()) return r.status().error();
  for (size_t i = 0; i < comments.size(); ++i) {
    JsonReader c(comments[i], fmt::format("{}.comments[{}]", path, i));
    AlertComment ac;
    ac.comment = c.OptStr("comment").value_or("");
    ac.created_by = c.OptStr("createdBy").value_or("");
    ac.created_time = OptTime(c, "createdTime");
    if (!c.ok()) return c.status().error();
    a.comments.push_back(std::move(ac));
  }
  for (size_t i = 0; i < evidence.size(); ++i) {
    JsonReader e(evidence[i], fmt::format("{}.evidence[{}]", path, i));
    Evidence ev;
    ev.entity_type = e.OptStr("entityType").value_or("");
    ev.sha1 = e.OptStr("sha1").value_or("");
    ev.sha256 = e.OptStr("sha256").value_or("");
    ev.file_name = e.OptStr("fileName").value_or("");
    ev.file_path = e.OptStr("filePath").value_or("");
    ev.url = e.OptStr("url").value_or("");
    ev.detection_status = e.OptStr("detectionStatus").value_or("");
    if (!e.ok()) return e.status().error();
    a.evidence.push_back(std::move(ev));
  }
  return a;
}

Result<Machine> ParseMachine(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  Machine m;
  m.id = r.Str("id");
  m.computer_dns_name = r.OptStr("computerDnsName").value_or("");
  m.health_status = r.OptStr("healthStatus").value_or("");
  m.os_platform = r.OptStr("osPlatform").value_or("");
  m.last_seen = OptTime(r, "lastSeen");
  if (!r.ok()) return r.status().error();
  return m;
}

Result<MachineAction> ParseMachineAction(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  MachineAction a;
  a.id = r.Str("id");
  a.type = r.OptStr("type").value_or("");
  a.status = r.Str("status");
  a.machine_id = r.OptStr("machineId").value_or("");
  a.scope = r.OptStr("scope").value_or("");
  if (j.contains("relatedFileInfo") && j["relatedFileInfo"].is_object()) {
    JsonReader f(j["relatedFileInfo"], path + ".relatedFileInfo");
    a.related_file = f.OptStr("fileIdentifier").value_or("");
    if (!f.ok()) return f.status().error();
  }
  a.requestor = r.OptStr("requestor").value_or("");
  a.requestor_comment = r.OptStr("requestorComment").value_or("");
  a.created = OptTime(r, "creationDateTimeUtc");
  // The docs' collection example spells it lastUpdateTimeUtc; accept both.
  a.last_update = OptTime(r, "lastUpdateDateTimeUtc");
  if (!a.last_update) a.last_update = OptTime(r, "lastUpdateTimeUtc");
  const Json& commands = r.OptArray("commands");
  if (!r.ok()) return r.status().error();
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string cpath = fmt::format("{}.commands[{}]", path, i);
    JsonReader c(commands[i], cpath);
    CommandResult cr;
    cr.index = static_cast<int>(c.Int("index", 0, 1000));
    cr.command_status = c.OptStr("commandStatus").value_or("");
    const Json& errors = c.OptArray("errors");
    const Json& command = c.Object("command");
    if (!c.ok()) return c.status().error();
    for (const auto& e : errors) {
      cr.errors.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    }
    JsonReader cmd(command, cpath + ".command");
    cr.type = cmd.Str("type");
    if (!cmd.ok()) return cmd.status().error();
    a.commands.push_back(std::move(cr));
  }
  return a;
}

}  // namespace vc::mde
