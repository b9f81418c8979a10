// Machine and machine action routes of the MDE emulator.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/random.hpp"
#include "core/time.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

// Missing keys read as null (const operator[] must not be used on a missing key).
const Json& Field(const Json& doc, const char* key) {
  static const Json kNull;
  auto it = doc.find(key);
  return it == doc.end() ? kNull : *it;
}

odata::Value TextOrNull(const Json& v) {
  return v.is_string() ? odata::Value::Text(v.get<std::string>()) : odata::Value::Null();
}
odata::Value TimeOrNull(const Json& v) {
  if (!v.is_string()) return odata::Value::Null();
  auto t = ParseIso8601(v.get_ref<const std::string&>());
  return t ? odata::Value::Time(*t) : odata::Value::Null();
}

const std::vector<odata::FieldSpec>& MachineFields() {
  using odata::FieldType;
  static const std::vector<odata::FieldSpec> fields = {
      {"computerDnsName", FieldType::kString},
      {"id", FieldType::kString},
      {"version", FieldType::kString},
      {"deviceValue", FieldType::kString},
      {"aadDeviceId", FieldType::kString},
      {"lastSeen", FieldType::kDateTime},
      {"exposureLevel", FieldType::kString},
      {"onboardingStatus", FieldType::kString},
      {"lastIpAddress", FieldType::kString},
      {"healthStatus",
       FieldType::kEnum,
       {std::begin(mde::kHealthStatuses), std::end(mde::kHealthStatuses)}},
      {"osPlatform", FieldType::kString},
      {"riskScore", FieldType::kString},
      {"rbacGroupId", FieldType::kNumber},
  };
  return fields;
}

std::vector<odata::Value> MachineRow(const Json& m) {
  std::vector<odata::Value> row;
  for (const auto& f : MachineFields()) {
    const Json& v = Field(m, f.name.c_str());
    if (f.type == odata::FieldType::kDateTime) {
      row.push_back(TimeOrNull(v));
    } else if (f.type == odata::FieldType::kNumber) {
      row.push_back(v.is_number_integer() ? odata::Value::Number(v.get<int64_t>())
                                          : odata::Value::Null());
    } else {
      row.push_back(TextOrNull(v));
    }
  }
  return row;
}

const std::vector<odata::FieldSpec>& ActionFields() {
  using odata::FieldType;
  static const std::vector<odata::FieldSpec> fields = {
      {"id", FieldType::kString},
      {"status",
       FieldType::kEnum,
       {std::begin(mde::kActionStatuses), std::end(mde::kActionStatuses)}},
      {"machineId", FieldType::kString},
      {"type", FieldType::kEnum, {std::begin(mde::kActionTypes), std::end(mde::kActionTypes)}},
      {"requestor", FieldType::kString},
      {"creationDateTimeUtc", FieldType::kDateTime},
  };
  return fields;
}

std::vector<odata::Value> ActionRow(const Json& a) {
  return {TextOrNull(Field(a, "id")),        TextOrNull(Field(a, "status")),
          TextOrNull(Field(a, "machineId")), TextOrNull(Field(a, "type")),
          TextOrNull(Field(a, "requestor")), TimeOrNull(Field(a, "creationDateTimeUtc"))};
}

bool IsActive(const Json& action) {
  return action["status"] == "Pending" || action["status"] == "InProgress";
}

}  // namespace

std::string MdeEmulator::NewActionId() {
  return DefaultRandom().Uuid4();
}

MdeEmulator::ActionRecord* MdeEmulator::ActiveLiveResponse(const std::string& machine_id) {
  for (auto& [_, action] : actions_) {
    if (action.doc["machineId"] != machine_id || action.doc["type"] != "LiveResponse") continue;
    ApplyQueueTimeout(action);
    if (IsActive(action.doc)) return &action;
  }
  return nullptr;
}

void MdeEmulator::ListMachines(Call& call) {
  if (!AllowOnlyParams(call, {"$filter", "$top", "$skip"})) return;
  auto paging = odata::ReadPaging(call.params, MachineFields(), "Machine");
  if (auto* problem = std::get_if<std::string>(&paging)) {
    return SendError(call.res, 400, "ODataError", *problem);
  }
  const auto& p = std::get<odata::Paging>(paging);
  if (machines_.empty()) {
    // Documented: a tenant without recent machines answers 404.
    return SendError(call.res, 404, "ResourceNotFound", "No recent machines were found");
  }
  std::vector<const MachineRecord*> hits;
  for (const auto& [_, m] : machines_) {
    if (odata::Matches(p.filter, MachineRow(m.doc))) hits.push_back(&m);
  }
  std::sort(hits.begin(), hits.end(),
            [](const MachineRecord* a, const MachineRecord* b) { return a->seq < b->seq; });
  Json value = Json::array();
  for (size_t i = p.skip; i < hits.size() && value.size() < p.top.value_or(odata::kMaxTop); ++i) {
    value.push_back(hits[i]->doc);
  }
  SendOData(call.res, 200, Json{{"@odata.context", Context("Machines")}, {"value", value}}.dump());
}

void MdeEmulator::GetMachine(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& id = call.segments[1];
  auto it = machines_.find(id);
  if (it == machines_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine {} was not found", id));
  }
  Json body = it->second.doc;
  body["@odata.context"] = Context("Machines/$entity");
  SendOData(call.res, 200, body.dump());
}

void MdeEmulator::ListMachineActions(Call& call) {
  if (!AllowOnlyParams(call, {"$filter", "$top", "$skip"})) return;
  auto paging = odata::ReadPaging(call.params, ActionFields(), "MachineAction");
  if (auto* problem = std::get_if<std::string>(&paging)) {
    return SendError(call.res, 400, "ODataError", *problem);
  }
  const auto& p = std::get<odata::Paging>(paging);
  std::vector<ActionRecord*> hits;
  for (auto& [_, a] : actions_) {
    ApplyQueueTimeout(a);
    if (odata::Matches(p.filter, ActionRow(a.doc))) hits.push_back(&a);
  }
  std::sort(hits.begin(), hits.end(),
            [](const ActionRecord* a, const ActionRecord* b) { return a->seq < b->seq; });
  Json value = Json::array();
  for (size_t i = p.skip; i < hits.size() && value.size() < p.top.value_or(odata::kMaxTop); ++i) {
    value.push_back(hits[i]->doc);
  }
  SendOData(call.res, 200,
            Json{{"@odata.context", Context("MachineActions")}, {"value", value}}.dump());
}

void MdeEmulator::GetMachineAction(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& id = call.segments[1];
  auto it = actions_.find(id);
  if (it == actions_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine action {} was not found", id));
  }
  Advance(it->second);
  Json body = it->second.doc;
  body["@odata.context"] = Context("MachineActions/$entity");
  SendOData(call.res, 200, body.dump());
}

void MdeEmulator::CancelMachineAction(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(
        call.req, call.res,
        "POST .../cancel needs Content-Type: application/json, got '" + content_type + "'");
  }
  const std::string& id = call.segments[1];
  auto it = actions_.find(id);
  if (it == actions_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine action {} was not found", id));
  }
  const Json body = Json::parse(call.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || body.size() != 1 || !body.contains("Comment") ||
      !body["Comment"].is_string() || body["Comment"].get_ref<const std::string&>().empty()) {
    return SendError(call.res, 400, "InvalidRequestBody",
                     "Request body is incorrect: send {\"Comment\": \"<why>\"} (the property "
                     "name is case-sensitive and the comment is required)");
  }
  ActionRecord& action = it->second;
  ApplyQueueTimeout(action);
  if (!IsActive(action.doc)) {
    return SendError(call.res, 400, "BadRequest",
                     fmt::format("Machine action {} is already {} and cannot be cancelled; only "
                                 "Pending or InProgress actions can be cancelled.",
                                 id, action.doc["status"].get<std::string>()));
  }
  const std::string now = mde::FormatTime(clock().Now());
  action.doc["status"] = "Cancelled";
  action.doc["cancellationRequestor"] = call.caller;
  action.doc["cancellationComment"] = body["Comment"];
  action.doc["cancellationDateTimeUtc"] = now;
  action.doc["lastUpdateDateTimeUtc"] = now;
  Json out = action.doc;
  out["@odata.context"] = Context("MachineActions/$entity");
  SendOData(call.res, 200, out.dump());
}

}  // namespace vc::emu
