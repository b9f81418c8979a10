#include "mde_models.hpp"

#include <fmt/format.h>

#include <map>

#include "core/time.hpp"

namespace vc::emu::mde {
namespace {

// From tests/fixtures/real/mde/alert_single_with_evidence_docs.json without evidence and
// comments (a fresh alert has no comments; evidence comes from the seed).
constexpr const char* kAlertTemplateJson = R"json({
  "id": "da637472900382838869_1364969609", "incidentId": 1126093, "investigationId": null,
  "assignedTo": null, "severity": "Low", "status": "New", "classification": null,
  "determination": null, "investigationState": "Queued", "detectionSource": "WindowsDefenderAtp",
  "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952", "category": "Execution",
  "threatFamilyName": null,
  "title": "Low-reputation arbitrary code executed by signed executable",
  "description": "Binaries signed by Microsoft can be used to run low-reputation arbitrary code. This technique hides the execution of malicious code within a trusted process. As a result, the trusted process might exhibit suspicious behaviors, such as opening a listening port or connecting to a command-and-control (C&C) server.",
  "alertCreationTime": "2021-01-26T20:33:57.7220239Z",
  "firstEventTime": "2021-01-26T20:31:32.9562661Z",
  "lastEventTime": "2021-01-26T20:31:33.0577322Z", "lastUpdateTime": "2021-01-26T20:33:59.2Z",
  "resolvedTime": null, "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
  "computerDnsName": "temp123.middleeast.corp.microsoft.com", "rbacGroupName": "A",
  "aadTenantId": "a839b112-1253-6432-9bf6-94542403f21c", "threatName": null,
  "mitreTechniques": ["T1064", "T1085", "T1220"],
  "relatedUser": {"userName": "temp123", "domainName": "DOMAIN"}
})json";

// The evidence fields of the same document, all null except the entity type.
constexpr const char* kEvidenceTemplateJson = R"json({
  "entityType": "File", "evidenceCreationTime": null, "sha1": null, "sha256": null,
  "fileName": null, "filePath": null, "processId": null, "processCommandLine": null,
  "processCreationTime": null, "parentProcessId": null, "parentProcessCreationTime": null,
  "parentProcessFileName": null, "parentProcessFilePath": null, "ipAddress": null, "url": null,
  "registryKey": null, "registryHive": null, "registryValueType": null, "registryValue": null,
  "accountName": null, "domainName": null, "userSid": null, "aadUserId": null,
  "userPrincipalName": null, "detectionStatus": null
})json";

// From tests/fixtures/real/mde/machine_single_xsoar_testdata.json (first two addresses kept).
constexpr const char* kMachineTemplateJson = R"json({
  "aadDeviceId": null, "agentVersion": "10.7740.19041.1151", "computerDnsName": "test-node",
  "defenderAvStatus": "Updated", "deviceValue": "Normal", "exposureLevel": "High",
  "firstSeen": "2021-08-30T20:11:52.7746006Z", "healthStatus": "Active", "id": "123",
  "ipAddresses": [
    {"ipAddress": "192.0.2.135", "macAddress": "001122334418", "operationalStatus": "Up",
     "type": "Ethernet"},
    {"ipAddress": "fe80::2413:e4aa:a3f4:d5bf", "macAddress": "001122334418",
     "operationalStatus": "Up", "type": "Ethernet"}],
  "isAadJoined": false, "lastExternalIpAddress": "2.2.2.2", "lastIpAddress": "192.0.2.135",
  "lastSeen": "2021-09-12T14:46:04.2458709Z", "machineTags": [], "managedBy": "Unknown",
  "onboardingStatus": "Onboarded", "osArchitecture": "64-bit", "osBuild": 19043,
  "osPlatform": "Windows10", "osProcessor": "x64", "osVersion": null, "rbacGroupId": 0,
  "rbacGroupName": null, "riskScore": "None", "version": "21H1", "vmMetadata": null
})json";

enum class Kind {
  kStr,       // non-empty string
  kStrNull,   // string or null
  kTime,      // ISO-8601 string
  kTimeNull,  // ISO-8601 string or null
  kIntNull,   // integer or null
  kInt,       // integer
  kBool,      // boolean
  kStrArray,  // array of strings
  kObjArray,  // array of objects
  kObjNull,   // object or null
  kEnum,      // one of a set
  kEnumNull,  // one of a set, or null
};

struct FieldRule {
  Kind kind;
  std::vector<std::string_view> allowed = {};
};

template <size_t N>
std::vector<std::string_view> Values(const std::string_view (&set)[N]) {
  return {std::begin(set), std::end(set)};
}

const std::map<std::string, FieldRule, std::less<>>& AlertRules() {
  static const std::map<std::string, FieldRule, std::less<>> rules = {
      {"id", {Kind::kStr}},
      {"incidentId", {Kind::kIntNull}},
      {"investigationId", {Kind::kIntNull}},
      {"assignedTo", {Kind::kStrNull}},
      {"severity", {Kind::kEnum, Values(kAlertSeverities)}},
      {"status", {Kind::kEnum, Values(kAlertStatuses)}},
      {"classification", {Kind::kEnumNull, Values(kAlertClassifications)}},
      {"determination", {Kind::kEnumNull, Values(kAlertDeterminations)}},
      {"investigationState", {Kind::kStrNull}},
      {"detectionSource", {Kind::kStr}},
      {"detectorId", {Kind::kStrNull}},
      {"category", {Kind::kStr}},
      {"threatFamilyName", {Kind::kStrNull}},
      {"title", {Kind::kStr}},
      {"description", {Kind::kStrNull}},
      {"alertCreationTime", {Kind::kTime}},
      {"firstEventTime", {Kind::kTimeNull}},
      {"lastEventTime", {Kind::kTimeNull}},
      {"lastUpdateTime", {Kind::kTime}},
      {"resolvedTime", {Kind::kTimeNull}},
      {"machineId", {Kind::kStrNull}},
      {"computerDnsName", {Kind::kStrNull}},
      {"rbacGroupName", {Kind::kStrNull}},
      {"aadTenantId", {Kind::kStrNull}},
      {"threatName", {Kind::kStrNull}},
      {"mitreTechniques", {Kind::kStrArray}},
      {"relatedUser", {Kind::kObjNull}},
      {"comments", {Kind::kObjArray}},
      {"evidence", {Kind::kObjArray}},
  };
  return rules;
}

const std::map<std::string, FieldRule, std::less<>>& EvidenceRules() {
  static const std::map<std::string, FieldRule, std::less<>> rules = [] {
    std::map<std::string, FieldRule, std::less<>> r;
    for (const auto& [key, _] : EvidenceTemplate().items()) r[key] = {Kind::kStrNull};
    r["entityType"] = {Kind::kStr};
    for (auto k : {"evidenceCreationTime", "processCreationTime", "parentProcessCreationTime"}) {
      r[k] = {Kind::kTimeNull};
    }
    for (auto k : {"processId", "parentProcessId"}) r[k] = {Kind::kIntNull};
    return r;
  }();
  return rules;
}

const std::map<std::string, FieldRule, std::less<>>& MachineRules() {
  static const std::map<std::string, FieldRule, std::less<>> rules = [] {
    std::map<std::string, FieldRule, std::less<>> r;
    for (const auto& [key, _] : MachineTemplate().items()) r[key] = {Kind::kStrNull};
    r["id"] = {Kind::kStr};
    r["computerDnsName"] = {Kind::kStr};
    r["healthStatus"] = {Kind::kEnum, Values(kHealthStatuses)};
    r["firstSeen"] = {Kind::kTimeNull};
    r["lastSeen"] = {Kind::kTimeNull};
    r["ipAddresses"] = {Kind::kObjArray};
    r["isAadJoined"] = {Kind::kBool};
    r["machineTags"] = {Kind::kStrArray};
    r["osBuild"] = {Kind::kIntNull};
    r["rbacGroupId"] = {Kind::kInt};
    r["vmMetadata"] = {Kind::kObjNull};
    return r;
  }();
  return rules;
}

// Empty when the value fits the rule, else what is wrong with it.
std::string CheckValue(const Json& v, const FieldRule& rule) {
  switch (rule.kind) {
    case Kind::kStr:
      return v.is_string() && !v.get_ref<const std::string&>().empty()
                 ? ""
                 : "must be a non-empty string";
    case Kind::kStrNull:
      return v.is_string() || v.is_null() ? "" : "must be a string or null";
    case Kind::kTime:
    case Kind::kTimeNull:
      if (v.is_null() && rule.kind == Kind::kTimeNull) return "";
      if (v.is_string() && ParseIso8601(v.get_ref<const std::string&>())) return "";
      return "must be an ISO-8601 UTC time such as 2021-01-26T20:33:57.7220239Z";
    case Kind::kIntNull:
      return v.is_number_integer() || v.is_null() ? "" : "must be an integer or null";
    case Kind::kInt:
      return v.is_number_integer() ? "" : "must be an integer";
    case Kind::kBool:
      return v.is_boolean() ? "" : "must be true or false";
    case Kind::kStrArray:
      if (!v.is_array()) return "must be an array of strings";
      for (const auto& e : v) {
        if (!e.is_string()) return "must be an array of strings";
      }
      return "";
    case Kind::kObjArray:
      if (!v.is_array()) return "must be an array of objects";
      for (const auto& e : v) {
        if (!e.is_object()) return "must be an array of objects";
      }
      return "";
    case Kind::kObjNull:
      return v.is_object() || v.is_null() ? "" : "must be an object or null";
    case Kind::kEnum:
    case Kind::kEnumNull: {
      if (v.is_null() && rule.kind == Kind::kEnumNull) return "";
      if (v.is_string()) {
        for (auto a : rule.allowed) {
          if (a == v.get_ref<const std::string&>()) return "";
        }
      }
      std::string list;
      for (auto a : rule.allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return "must be one of " + list + (rule.kind == Kind::kEnumNull ? " or null" : "");
    }
  }
  return "";
}

std::string KnownKeys(const std::map<std::string, FieldRule, std::less<>>& rules) {
  std::string out;
  for (const auto& [k, _] : rules) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Checks every key of `obj` against `rules`; empty or "<where>.<key>: <problem>".
std::string CheckObject(const Json& obj, const std::map<std::string, FieldRule, std::less<>>& rules,
                        const std::string& where) {
  for (const auto& [key, value] : obj.items()) {
    auto it = rules.find(key);
    if (it == rules.end()) {
      return fmt::format("{}: unknown field '{}' (field names are case-sensitive; known: {})",
                         where, key, KnownKeys(rules));
    }
    if (auto problem = CheckValue(value, it->second); !problem.empty()) {
      return fmt::format("{}.{} {}", where, key, problem);
    }
  }
  return "";
}

}  // namespace

std::string FormatTime(TimePoint t) {
  const auto since_epoch = t.time_since_epoch();
  const auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto ticks =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count() / 100;
  std::string base = FormatIso8601(TimePoint{secs});  // "...:SSZ"
  base.pop_back();
  return fmt::format("{}.{:07d}Z", base, ticks);
}

const Json& AlertTemplate() {
  static const Json t = Json::parse(kAlertTemplateJson);
  return t;
}
const Json& EvidenceTemplate() {
  static const Json t = Json::parse(kEvidenceTemplateJson);
  return t;
}
const Json& MachineTemplate() {
  static const Json t = Json::parse(kMachineTemplateJson);
  return t;
}

SeedResult CompleteAlert(const Json& seed, const Json* existing, TimePoint now,
                         int64_t default_incident_id) {
  if (!seed.is_object()) return {{}, "an alert must be a JSON object"};
  if (!seed.contains("id")) return {{}, "an alert needs an \"id\""};
  const std::string where = "alert " + seed["id"].dump();
  if (auto p = CheckObject(seed, AlertRules(), where); !p.empty()) return {{}, p};

  Json alert;
  if (existing) {
    alert = *existing;
  } else {
    alert = AlertTemplate();
    const std::string created = FormatTime(now);
    alert["incidentId"] = default_incident_id;
    alert["comments"] = Json::array();
    alert["evidence"] = Json::array();
    // A seed that sets only the creation time gets consistent event and update times.
    const std::string creation =
        seed.contains("alertCreationTime") ? seed["alertCreationTime"].get<std::string>() : created;
    for (auto k : {"alertCreationTime", "firstEventTime", "lastEventTime", "lastUpdateTime"}) {
      alert[k] = creation;
    }
  }
  for (const auto& [key, value] : seed.items()) {
    if (key != "evidence") alert[key] = value;
  }
  if (alert["status"] == "Resolved" && alert["resolvedTime"].is_null()) {
    alert["resolvedTime"] = alert["lastUpdateTime"];
  }
  for (size_t i = 0; i < alert["comments"].size(); ++i) {
    const Json& c = alert["comments"][i];
    for (const auto& [k, v] : c.items()) {
      if ((k != "comment" && k != "createdBy" && k != "createdTime") || !v.is_string()) {
        return {{},
                fmt::format("{}.comments[{}]: a comment has only the string fields comment, "
                            "createdBy and createdTime",
                            where, i)};
      }
    }
    if (!c.contains("comment"))
      return {{}, fmt::format("{}.comments[{}]: needs \"comment\"", where, i)};
  }
  if (seed.contains("evidence")) {
    Json evidence = Json::array();
    for (size_t i = 0; i < seed["evidence"].size(); ++i) {
      const Json& e = seed["evidence"][i];
      if (auto p = CheckObject(e, EvidenceRules(), fmt::format("{}.evidence[{}]", where, i));
          !p.empty()) {
        return {{}, p};
      }
      Json full = EvidenceTemplate();
      full["evidenceCreationTime"] = alert["alertCreationTime"];
      for (const auto& [k, v] : e.items()) full[k] = v;
      evidence.push_back(std::move(full));
    }
    alert["evidence"] = std::move(evidence);
  }
  return {std::move(alert), ""};
}

SeedResult CompleteMachine(const Json& seed, const Json* existing, TimePoint now) {
  const std::string where = "machine " + seed["id"].dump();
  if (auto p = CheckObject(seed, MachineRules(), where); !p.empty()) return {{}, p};
  Json machine;
  if (existing) {
    machine = *existing;
  } else {
    machine = MachineTemplate();
    const std::string id = seed["id"].get<std::string>();
    machine["computerDnsName"] = "desktop-" + id.substr(0, 8);
    machine["firstSeen"] = FormatTime(now - std::chrono::hours(24 * 30));
    machine["lastSeen"] = FormatTime(now);
  }
  for (const auto& [key, value] : seed.items()) machine[key] = value;
  return {std::move(machine), ""};
}

}  // namespace vc::emu::mde
