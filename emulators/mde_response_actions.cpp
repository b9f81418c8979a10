// Response actions of the MDE emulator: isolate, runAntiVirusScan, StopAndQuarantineFile and
// collectInvestigationPackage (POST /api/machines/{id}/<action>). Bodies are checked as MDE
// documents them (case-sensitive names, Comment required, IsolationType Full|Selective, ScanType
// Full|Quick, Sha1 required); the answer is 201 with a MachineAction of the right type, scope and
// relatedFileInfo, Pending, which moves on like a live response action (online GETs). A second
// request of the same type while one is Pending/InProgress on the device is refused with 400
// ActiveRequestAlreadyExists (the code MDE uses for live response; the exact body for these
// actions was not captured, so the standard envelope is assumed).
#include <fmt/format.h>

#include <cctype>

#include "core/time.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

struct ActionSpec {
  std::string_view path;  // last segment, matched case-insensitively
  std::string_view type;
  std::string_view scope_key;  // "" when the action has no scope
  std::vector<std::string_view> scopes;
  bool needs_sha1 = false;
};

const std::vector<ActionSpec>& Specs() {
  static const std::vector<ActionSpec> specs = {
      {"isolate", "Isolate", "IsolationType", {"Full", "Selective"}, false},
      {"runAntiVirusScan", "RunAntiVirusScan", "ScanType", {"Full", "Quick"}, false},
      {"StopAndQuarantineFile", "StopAndQuarantineFile", "", {}, true},
      {"collectInvestigationPackage", "CollectInvestigationPackage", "", {}, false},
  };
  return specs;
}

const ActionSpec* FindSpec(std::string_view segment) {
  for (const auto& s : Specs()) {
    if (IEquals(s.path, segment)) return &s;
  }
  return nullptr;
}

bool IsSha1(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string_view MdeEmulator::ResponseActionPermission(std::string_view segment) {
  if (IEquals(segment, "isolate")) return "Machine.Isolate";
  if (IEquals(segment, "runAntiVirusScan")) return "Machine.Scan";
  if (IEquals(segment, "StopAndQuarantineFile")) return "Machine.StopAndQuarantine";
  if (IEquals(segment, "collectInvestigationPackage")) return "Machine.CollectForensics";
  return "";
}

void MdeEmulator::RequestResponseAction(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(call.req, call.res,
                           "POST .../" + call.segments[2] +
                               " needs Content-Type: application/json, got '" + content_type + "'");
  }
  const ActionSpec& spec = *FindSpec(call.segments[2]);
  const Json body = Json::parse(call.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(call.res, 400, "InvalidRequestBody",
                     "Request body is incorrect: the body must be a JSON object");
  }
  for (const auto& [key, _] : body.items()) {
    const bool known = key == "Comment" || (!spec.scope_key.empty() && key == spec.scope_key) ||
                       (spec.needs_sha1 && key == "Sha1");
    if (!known) {
      return SendError(call.res, 400, "InvalidRequestBody",
                       fmt::format("Request body is incorrect: unknown property '{}' for {} "
                                   "(property names are case-sensitive)",
                                   key, spec.path));
    }
  }
  if (!body.contains("Comment") || !body["Comment"].is_string() ||
      body["Comment"].get_ref<const std::string&>().empty()) {
    return SendError(call.res, 400, "MissingRequiredParameter",
                     "'Comment' is required and must be a non-empty string");
  }
  Json scope = nullptr;
  if (!spec.scope_key.empty()) {
    // Not sent: MDE's default, Full.
    std::string value = "Full";
    if (body.contains(spec.scope_key)) {
      const Json& v = body[std::string(spec.scope_key)];
      value = v.is_string() ? v.get<std::string>() : std::string();
      if (std::find(spec.scopes.begin(), spec.scopes.end(), value) == spec.scopes.end()) {
        return SendError(call.res, 400, "InvalidRequestBody",
                         fmt::format("Request body is incorrect: {} must be '{}' or '{}', got {}",
                                     spec.scope_key, spec.scopes[0], spec.scopes[1], v.dump()));
      }
    }
    scope = value;
  }
  Json related = nullptr;
  if (spec.needs_sha1) {
    if (!body.contains("Sha1")) {
      return SendError(call.res, 400, "MissingRequiredParameter",
                       "'Sha1' (the SHA-1 of the file to stop and quarantine) is required");
    }
    const std::string sha1 = body["Sha1"].is_string() ? body["Sha1"].get<std::string>() : "";
    if (!IsSha1(sha1)) {
      return SendError(call.res, 400, "InvalidHashValue",
                       "'Sha1' must be the 40 hex digit SHA-1 of the file");
    }
    related = {{"fileIdentifier", sha1}, {"fileIdentifierType", "Sha1"}};
  }
  const std::string& machine_id = call.segments[1];
  auto machine = machines_.find(machine_id);
  if (machine == machines_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine {} was not found", machine_id));
  }
  for (auto& [_, a] : actions_) {
    if (a.doc["machineId"] == machine_id && a.doc["type"] == spec.type &&
        (a.doc["status"] == "Pending" || a.doc["status"] == "InProgress")) {
      return SendError(call.res, 400, "ActiveRequestAlreadyExists",
                       fmt::format("Action {} is already {} on machine {} ({}); wait for it to "
                                   "finish.",
                                   spec.type, a.doc["status"].get<std::string>(), machine_id,
                                   a.doc["id"].get<std::string>()));
    }
  }
  const std::string now = mde::FormatTime(clock().Now());
  ActionRecord action;
  action.seq = next_seq_++;
  action.doc = {{"id", NewActionId()},
                {"type", spec.type},
                {"title", nullptr},
                {"requestor", call.caller},
                {"requestorComment", body["Comment"]},
                {"requestSource", "PublicApi"},
                {"status", "Pending"},
                {"machineId", machine_id},
                {"computerDnsName", machine->second.doc["computerDnsName"]},
                {"creationDateTimeUtc", now},
                {"lastUpdateDateTimeUtc", now},
                {"cancellationRequestor", nullptr},
                {"cancellationComment", nullptr},
                {"cancellationDateTimeUtc", nullptr},
                {"errorHResult", 0},
                {"scope", scope},
                {"externalId", nullptr},
                {"troubleshootInfo", nullptr},
                {"relatedFileInfo", related},
                {"commands", Json::array()}};
  const std::string id = action.doc["id"].get<std::string>();
  Json out = action.doc;
  actions_[id] = std::move(action);
  out["@odata.context"] = Context("MachineActions/$entity");
  SendOData(call.res, 201, out.dump());
}

void MdeEmulator::AdvanceResponseAction(ActionRecord& action) {
  const std::string status = action.doc["status"].get<std::string>();
  if (status != "Pending" && status != "InProgress") return;
  auto machine = machines_.find(action.doc["machineId"].get<std::string>());
  if (machine == machines_.end() || machine->second.offline) return;  // queued until online
  ++action.polls;
  if (status == "Pending") Finish(action, "InProgress");
  if (action.polls < options_.action_polls_to_complete) return;
  if (machine->second.fail_next_action) {
    action.doc["troubleshootInfo"] = *machine->second.fail_next_action;
    machine->second.fail_next_action.reset();
    return Finish(action, "Failed");
  }
  Finish(action, "Succeeded");
}

}  // namespace vc::emu
