#include "mde_emulator.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "http/gzip.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

constexpr std::string_view kODataJson =
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

// "getliveresponseresultdownloadlink(index=3)" -> 3.
std::optional<size_t> ResultLinkIndex(const std::string& segment) {
  const std::string lower = ToLower(segment);
  constexpr std::string_view kPrefix = "getliveresponseresultdownloadlink(index=";
  if (lower.rfind(kPrefix, 0) != 0 || lower.back() != ')') return std::nullopt;
  const std::string digits = lower.substr(kPrefix.size(), lower.size() - kPrefix.size() - 1);
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<size_t>(std::stoul(digits));
}

}  // namespace

MdeEmulator::Options MdeEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (!j.is_object()) throw std::invalid_argument("mde options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "audiences") {
      if (!value.is_array() || value.empty()) {
        throw std::invalid_argument("mde.audiences must be a non-empty array of strings");
      }
      o.audiences.clear();
      for (const auto& a : value) {
        if (!a.is_string()) throw std::invalid_argument("mde.audiences must hold strings");
        std::string aud = a.get<std::string>();
        while (!aud.empty() && aud.back() == '/') aud.pop_back();
        o.audiences.push_back(aud);
      }
    } else if (key == "enforce_limits") {
      if (!value.is_boolean()) throw std::invalid_argument("mde.enforce_limits must be true/false");
      o.enforce_limits = value.get<bool>();
    } else if (key == "action_polls_to_complete") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 1000) {
        throw std::invalid_argument("mde.action_polls_to_complete must be an integer 1..1000");
      }
      o.action_polls_to_complete = value.get<int>();
    } else if (key == "download_link_ttl_seconds") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1) {
        throw std::invalid_argument("mde.download_link_ttl_seconds must be a positive integer");
      }
      o.download_link_ttl_seconds = value.get<int>();
    } else if (key == "indicator_cap" || key == "indicator_page_size") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 100000) {
        throw std::invalid_argument("mde." + key + " must be an integer 1..100000");
      }
      (key == "indicator_cap" ? o.indicator_cap : o.indicator_page_size) = value.get<int>();
    } else {
      throw std::invalid_argument("unknown mde option '" + key +
                                  "' (known: audiences, enforce_limits, action_polls_to_complete, "
                                  "download_link_ttl_seconds, indicator_cap, "
                                  "indicator_page_size)");
    }
  }
  return o;
}

MdeEmulator::MdeEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("mde", clock), options_(std::move(options)), tokens_(tokens) {
  SetScriptHook(nullptr);
}

void MdeEmulator::SetScriptHook(ScriptHook hook) {
  std::lock_guard lock(state_mutex());
  custom_script_hook_ = static_cast<bool>(hook);
  if (!hook) {
    hook = [](const ScriptRun&) { return ScriptOutcome{}; };
  }
  script_hook_ = std::move(hook);
}

void MdeEmulator::SetTokenOwnerLookup(TokenOwnerLookup lookup) {
  std::lock_guard lock(state_mutex());
  owner_lookup_ = std::move(lookup);
}

// ---- routing ---------------------------------------------------------------------------------

void MdeEmulator::RegisterRoutes() {
  // The API matches paths case-insensitively, with or without the /v1.0 version segment.
  const std::string api = R"(/[aA][pP][iI]/.*)";
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res);
  };
  for (const char* method : {"GET", "POST", "PATCH", "DELETE", "PUT"}) On(method, api, dispatch);
  On("GET", R"(/_lr/download/[^/]+)",
     [this](const httplib::Request& req, httplib::Response& res) { Download(req, res); });
}

void MdeEmulator::Dispatch(const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> parts = SplitPath(req.path);
  size_t first = 1;
  if (parts.size() > 1 && IEquals(parts[1], "v1.0")) first = 2;
  Call call{req,
            res,
            {parts.begin() + static_cast<long>(first), parts.end()},
            "connector",
            odata::ParseQuery(req.target)};
  const auto& s = call.segments;
  auto is = [&](size_t i, std::string_view name) { return s.size() > i && IEquals(s[i], name); };

  struct Route {
    const char* method;
    Handler handler;
    const char* endpoint;    // quota bucket; nullptr: no quota
    const char* permission;  // required application permission
  };
  std::vector<Route> routes;  // routes of this path, one per method
  std::optional<size_t> link_index;
  if (s.size() == 1 && is(0, "alerts")) {
    routes = {{"GET", &MdeEmulator::ListAlerts, "list_alerts", "Alert.Read.All"}};
  } else if (s.size() == 2 && is(0, "alerts") && !IEquals(s[1], "batchUpdate")) {
    routes = {{"GET", &MdeEmulator::GetAlert, "get_alert", "Alert.Read.All"},
              {"PATCH", &MdeEmulator::UpdateAlert, "update_alert", "Alert.ReadWrite.All"}};
  } else if (s.size() == 1 && is(0, "machines")) {
    routes = {{"GET", &MdeEmulator::ListMachines, "list_machines", "Machine.Read.All"}};
  } else if (s.size() == 2 && is(0, "machines")) {
    routes = {{"GET", &MdeEmulator::GetMachine, "get_machine", "Machine.Read.All"}};
  } else if (s.size() == 3 && is(0, "machines") && is(2, "runliveresponse")) {
    routes = {{"POST", &MdeEmulator::RunLiveResponse, "runliveresponse", "Machine.LiveResponse"}};
  } else if (s.size() == 3 && is(0, "machines") && !ResponseActionPermission(s[2]).empty()) {
    // Documented limits of each: 100 calls/min and 1,500/h.
    routes = {{"POST", &MdeEmulator::RequestResponseAction, "machine_response_action",
               ResponseActionPermission(s[2]).data()}};
  } else if (s.size() == 1 && is(0, "machineactions")) {
    routes = {
        {"GET", &MdeEmulator::ListMachineActions, "list_machine_actions", "Machine.Read.All"}};
  } else if (s.size() == 2 && is(0, "machineactions")) {
    routes = {{"GET", &MdeEmulator::GetMachineAction, "get_machine_action", "Machine.Read.All"}};
  } else if (s.size() == 3 && is(0, "machineactions") && is(2, "cancel")) {
    routes = {{"POST", &MdeEmulator::CancelMachineAction, nullptr, "Machine.LiveResponse"}};
  } else if (s.size() == 3 && is(0, "machineactions") && (link_index = ResultLinkIndex(s[2]))) {
    routes = {{"GET", nullptr, "result_link", "Machine.LiveResponse"}};
  } else if (s.size() == 1 && is(0, "libraryfiles")) {
    routes = {{"GET", &MdeEmulator::ListLibraryFiles, "library_list", "Library.Manage"},
              {"POST", &MdeEmulator::UploadLibraryFile, "library_upload", "Library.Manage"}};
  } else if (s.size() == 2 && is(0, "libraryfiles")) {
    routes = {{"DELETE", &MdeEmulator::DeleteLibraryFile, "library_delete", "Library.Manage"}};
  } else if (s.size() == 1 && is(0, "indicators")) {
    routes = {{"GET", &MdeEmulator::ListIndicators, "list_indicators", "Ti.ReadWrite.All"}};
  } else if (s.size() == 2 && is(0, "indicators") && is(1, "import")) {
    routes = {{"POST", &MdeEmulator::ImportIndicators, "indicators_import", "Ti.ReadWrite.All"}};
  } else if (s.size() == 2 && is(0, "indicators") && is(1, "BatchDelete")) {
    routes = {{"POST", &MdeEmulator::BatchDeleteIndicators, "indicators_batchdelete",
               "Ti.ReadWrite.All"}};
  } else if (s.size() == 2 && is(0, "indicators")) {
    routes = {{"DELETE", &MdeEmulator::DeleteIndicator, "delete_indicator", "Ti.ReadWrite.All"}};
  }
  if (routes.empty()) {
    return AssertionFailed(req, res,
                           fmt::format("no route {} {} in the MDE API emulator (emulated: alerts, "
                                       "machines, machineactions, runliveresponse, isolate, "
                                       "runAntiVirusScan, StopAndQuarantineFile, "
                                       "collectInvestigationPackage, "
                                       "GetLiveResponseResultDownloadLink(index=n), libraryfiles, "
                                       "indicators, indicators/import, indicators/BatchDelete)",
                                       req.method, req.path));
  }
  const Route* route = nullptr;
  for (const auto& r : routes) {
    if (req.method == r.method) route = &r;
  }
  if (!route) {
    std::string allowed;
    for (const auto& r : routes) allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
    return AssertionFailed(
        req, res,
        fmt::format("method {} is not allowed on {} (allowed: {})", req.method, req.path, allowed));
  }

  std::lock_guard lock(state_mutex());
  if (!Authenticate(call)) return;
  if (route->endpoint) {
    const std::string_view endpoint = route->endpoint;
    const auto& quotas = endpoint == "runliveresponse"          ? mde::LiveResponseQuotas()
                         : endpoint == "indicators_import"      ? mde::IndicatorImportQuotas()
                         : endpoint == "indicators_batchdelete" ? mde::IndicatorDeleteQuotas()
                                                                : mde::StandardQuotas();
    if (!CheckQuota(call, route->endpoint, quotas)) {
      return;
    }
  }
  if (!CheckPermission(call, route->permission)) return;
  if (link_index) return GetResultDownloadLink(call, *link_index);
  (this->*(route->handler))(call);
}

bool MdeEmulator::Authenticate(Call& call) {
  const std::string header = HeaderOr(call.req, "Authorization");
  std::string problem;
  std::string token;
  if (header.empty()) {
    problem = fmt::format(
        "The request has no Authorization header. Send 'Authorization: Bearer "
        "<token>' with an Entra token for {}.",
        options_.audiences.front());
  } else if ((token = BearerToken(header)).empty()) {
    problem = "The Authorization header must use the Bearer scheme: 'Bearer <access token>'.";
  } else {
    switch (tokens_.Validate(token, options_.audiences, clock().Now())) {
      case TokenRegistry::Check::kValid:
        break;
      case TokenRegistry::Check::kUnknown:
        problem =
            "The access token is not valid (it was not issued by the tenant's token "
            "endpoint).";
        break;
      case TokenRegistry::Check::kExpired:
        problem = "The access token has expired. Request a new token and retry.";
        break;
      case TokenRegistry::Check::kWrongAudience:
        problem = fmt::format(
            "The access token was issued for another resource; request it "
            "with scope {}/.default.",
            options_.audiences.front());
        break;
    }
  }
  if (!problem.empty()) {
    call.res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    SendError(call.res, 401, "Unauthorized", problem);
    return false;
  }
  if (owner_lookup_) {
    if (auto owner = owner_lookup_(token)) call.caller = *owner;
  }
  return true;
}

bool MdeEmulator::CheckQuota(Call& call, const std::string& endpoint,
                             const std::vector<mde::Quota>& quotas) {
  if (!options_.enforce_limits) return true;
  auto exceeded = quotas_.TryCall(endpoint, quotas, clock().Now());
  if (!exceeded) return true;
  ++limit_violations_;
  limit_violation_log_.push_back({{"endpoint", endpoint},
                                  {"quota", exceeded->quota},
                                  {"at", mde::FormatTime(clock().Now())},
                                  {"retry_after", exceeded->retry_after.count()}});
  call.res.set_header("Retry-After", std::to_string(exceeded->retry_after.count()));
  SendError(call.res, 429, "TooManyRequests",
            fmt::format("Too many requests: the {} quota of this API ({}) is used up. Retry "
                        "after {} seconds.",
                        endpoint, exceeded->quota, exceeded->retry_after.count()));
  return false;
}

bool MdeEmulator::CheckPermission(Call& call, std::string_view permission) {
  if (!denied_permissions_.count(std::string(permission))) return true;
  SendError(call.res, 403, "Forbidden",
            fmt::format("The application does not have the required application permission "
                        "({}) to access this resource. Grant it to the app registration "
                        "(WindowsDefenderATP API) and grant admin consent.",
                        permission));
  return false;
}

bool MdeEmulator::AllowOnlyParams(Call& call, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, _] : call.params) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == name;
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      AssertionFailed(call.req, call.res,
                      fmt::format("unknown query parameter '{}' (this route accepts: {})", name,
                                  list.empty() ? "none" : list));
      return false;
    }
    if (call.params.count(name) > 1) {
      AssertionFailed(call.req, call.res, fmt::format("query parameter '{}' given twice", name));
      return false;
    }
  }
  return true;
}

void MdeEmulator::SendError(httplib::Response& res, int status, std::string_view code,
                            const std::string& message) const {
  res.status = status;
  res.set_content(
      Json{{"error", {{"code", code}, {"message", message}, {"target", DefaultRandom().Uuid4()}}}}
          .dump(),
      "application/json; charset=utf-8");
}

void MdeEmulator::SendOData(httplib::Response& res, int status, const std::string& body) const {
  res.status = status;
  res.set_content(body, std::string(kODataJson));
}

std::string MdeEmulator::Context(std::string_view entity) const {
  return fmt::format("{}/api/$metadata#{}", BaseUrl(), entity);
}

std::string MdeEmulator::FaultBody(int status) const {
  std::string_view code = "InternalServerError";
  switch (status) {
    case 400:
      code = "BadRequest";
      break;
    case 401:
      code = "Unauthorized";
      break;
    case 403:
      code = "Forbidden";
      break;
    case 404:
      code = "NotFound";
      break;
    case 429:
      code = "TooManyRequests";
      break;
    case 503:
      code = "ServiceUnavailable";
      break;
    default:
      break;
  }
  return Json{{"error",
               {{"code", code},
                {"message", fmt::format("The service answered {} (injected fault).", status)},
                {"target", DefaultRandom().Uuid4()}}}}
      .dump();
}

// ---- seed and state --------------------------------------------------------------------------

std::optional<std::string> MdeEmulator::SeedMachine(const Json& m, MachineRecord& record,
                                                    bool is_new, std::optional<bool>& busy) {
  const std::string where = "machine " + m["id"].dump();
  Json public_fields = Json::object();
  for (const auto& [key, value] : m.items()) {
    if (key != "offline" && key != "busy" && key != "fail_next_action" && key != "files" &&
        key != "quarantine" && key != "exclusion_blocked") {
      public_fields[key] = value;
    }
  }
  auto completed =
      mde::CompleteMachine(public_fields, is_new ? nullptr : &record.doc, clock().Now());
  if (!completed.problem.empty()) return completed.problem;
  record.doc = std::move(completed.entity);

  if (m.contains("offline")) {
    if (!m["offline"].is_boolean()) return where + ": offline must be true or false";
    const bool was_offline = record.offline;
    record.offline = m["offline"].get<bool>();
    if (was_offline && !record.offline) record.doc["lastSeen"] = mde::FormatTime(clock().Now());
  }
  if (m.contains("busy")) {
    if (!m["busy"].is_boolean()) return where + ": busy must be true or false";
    busy = m["busy"].get<bool>();
  }
  if (m.contains("fail_next_action")) {
    const Json& f = m["fail_next_action"];
    if (f.is_null()) {
      record.fail_next_action.reset();
    } else if (f.is_string() && !f.get_ref<const std::string&>().empty()) {
      record.fail_next_action = f.get<std::string>();
    } else {
      return where + ": fail_next_action must be an error text or null";
    }
  }
  if (auto problem = SeedQuarantine(m, record)) return where + ": " + *problem;
  if (m.contains("files")) {
    if (!m["files"].is_object()) return where + ": files must map a path to base64 bytes";
    record.files.clear();
    for (const auto& [path, b64] : m["files"].items()) {
      auto bytes = b64.is_string() ? vc::Base64Decode(b64.get<std::string>()) : std::nullopt;
      if (!bytes) return fmt::format("{}: files[\"{}\"] must be standard base64 text", where, path);
      record.files[ToLower(path)] = MachineFile{path, std::move(*bytes)};
    }
  }
  return std::nullopt;
}

std::optional<std::string> MdeEmulator::Seed(const Json& seed) {
  if (!seed.is_object()) return "the MDE seed must be a JSON object";
  for (const auto& [key, _] : seed.items()) {
    if (key != "alerts" && key != "machines" && key != "denied_permissions" &&
        key != "indicators") {
      return "unknown MDE seed key '" + key +
             "' (known: alerts, machines, denied_permissions, indicators)";
    }
  }
  std::lock_guard lock(state_mutex());
  const TimePoint now = clock().Now();

  // Everything is checked into these before the state changes.
  std::vector<std::pair<std::string, Json>> alerts;
  std::unordered_map<std::string, size_t> alert_slot;
  if (seed.contains("alerts")) {
    if (!seed["alerts"].is_array()) return "alerts must be an array of MDE Alert objects";
    for (const auto& a : seed["alerts"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_string()) {
        return "every alert needs a string \"id\" (for example "
               "\"da637472900382838869_1364969609\")";
      }
      const std::string id = a["id"].get<std::string>();
      Json existing;
      const Json* base = nullptr;
      if (auto slot = alert_slot.find(id); slot != alert_slot.end()) {
        base = &alerts[slot->second].second;
      } else if (auto it = alerts_.find(id); it != alerts_.end()) {
        existing = it->second.doc;
        existing["evidence"] = Json::parse(it->second.evidence);
        base = &existing;
      }
      auto done = mde::CompleteAlert(a, base, now,
                                     1'000'000 + next_seq_ + static_cast<int64_t>(alerts.size()));
      if (!done.problem.empty()) return done.problem;
      if (auto slot = alert_slot.find(id); slot != alert_slot.end()) {
        alerts[slot->second].second = std::move(done.entity);
      } else {
        alert_slot[id] = alerts.size();
        alerts.emplace_back(id, std::move(done.entity));
      }
    }
  }

  std::vector<std::pair<MachineRecord, std::optional<bool>>> machines;
  std::map<std::string, size_t> machine_slot;
  if (seed.contains("machines")) {
    if (!seed["machines"].is_array()) return "machines must be an array of machine objects";
    for (const auto& m : seed["machines"]) {
      if (!m.is_object() || !m.contains("id") || !m["id"].is_string() ||
          m["id"].get_ref<const std::string&>().empty()) {
        return "every machine needs a string \"id\" (MDE uses 40 hex characters)";
      }
      const std::string id = m["id"].get<std::string>();
      if (!machine_slot.count(id)) {
        machine_slot[id] = machines.size();
        auto it = machines_.find(id);
        machines.emplace_back(it == machines_.end() ? MachineRecord{} : it->second, std::nullopt);
      }
      auto& [record, busy] = machines[machine_slot[id]];
      if (auto problem = SeedMachine(m, record, record.doc.is_null(), busy)) {
        return problem;
      }
    }
  }

  std::optional<std::set<std::string>> denied;
  if (seed.contains("denied_permissions")) {
    const Json& d = seed["denied_permissions"];
    if (!d.is_array()) return "denied_permissions must be an array of permission names";
    denied.emplace();
    for (const auto& p : d) {
      if (!p.is_string() || !mde::OneOf(p.get<std::string>(), mde::kPermissions)) {
        return fmt::format(
            "denied_permissions: {} is not a WindowsDefenderATP permission "
            "(known: {})",
            p.dump(), mde::JoinSet(mde::kPermissions));
      }
      denied->insert(p.get<std::string>());
    }
  }

  if (seed.contains("indicators")) {
    if (auto problem = SeedIndicators(seed["indicators"])) return problem;
  }
  for (auto& [id, alert] : alerts) {
    auto& record = alerts_[id];
    if (record.seq == 0) record.seq = next_seq_++;
    record.evidence = alert["evidence"].dump();
    alert.erase("evidence");
    record.doc = std::move(alert);
    RefreshAlert(record);
  }
  for (auto& [record, busy] : machines) {
    const std::string id = record.doc["id"].get<std::string>();
    if (record.seq == 0) record.seq = next_seq_++;
    auto& stored = machines_[id] = std::move(record);
    if (busy) SetBusy(stored, *busy);
  }
  if (denied) denied_permissions_ = std::move(*denied);
  return std::nullopt;
}

void MdeEmulator::SetBusy(MachineRecord& machine, bool busy) {
  const std::string machine_id = machine.doc["id"].get<std::string>();
  if (!busy) {
    // The other requestor's session ends; ours are left alone.
    for (auto& [_, action] : actions_) {
      const std::string status = action.doc["status"].get<std::string>();
      if (action.foreign && action.doc["machineId"] == machine_id &&
          (status == "Pending" || status == "InProgress")) {
        action.doc["status"] = "Succeeded";
        action.doc["lastUpdateDateTimeUtc"] = mde::FormatTime(clock().Now());
      }
    }
    return;
  }
  if (ActiveLiveResponse(machine_id)) return;
  const std::string now = mde::FormatTime(clock().Now());
  ActionRecord action;
  action.foreign = true;
  action.seq = next_seq_++;
  action.doc = {
      {"id", NewActionId()},
      {"type", "LiveResponse"},
      {"title", nullptr},
      {"requestor", "secops@contoso.com"},
      {"requestorComment", "Manual investigation from the security portal"},
      {"requestSource", "Portal"},
      {"status", "Pending"},
      {"machineId", machine_id},
      {"computerDnsName", machine.doc["computerDnsName"]},
      {"creationDateTimeUtc", now},
      {"lastUpdateDateTimeUtc", now},
      {"cancellationRequestor", nullptr},
      {"cancellationComment", nullptr},
      {"cancellationDateTimeUtc", nullptr},
      {"errorHResult", 0},
      {"scope", nullptr},
      {"externalId", nullptr},
      {"troubleshootInfo", nullptr},
      {"relatedFileInfo", nullptr},
      {"commands",
       Json::array(
           {{{"index", 0},
             {"startTime", nullptr},
             {"endTime", nullptr},
             {"commandStatus", "Created"},
             {"errors", Json::array()},
             {"command",
              {{"type", "GetFile"},
               {"params", Json::array({{{"key", "Path"},
                                        {"value", "C:\\Windows\\Temp\\triage.zip"}}})}}}}})}};
  action.results.resize(1);
  actions_[action.doc["id"].get<std::string>()] = std::move(action);
}

Json MdeEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  std::vector<const AlertRecord*> ordered;
  for (const auto& [_, a] : alerts_) ordered.push_back(&a);
  std::sort(ordered.begin(), ordered.end(),
            [](const AlertRecord* a, const AlertRecord* b) { return a->seq < b->seq; });
  Json alerts = Json::array();
  for (const auto* a : ordered) {
    Json doc = a->doc;
    doc["evidence"] = Json::parse(a->evidence);
    alerts.push_back(std::move(doc));
  }
  Json machines = Json::array();
  for (const auto& [_, m] : machines_) {
    Json doc = m.doc;
    Json files = Json::object();
    for (const auto& [__, f] : m.files) {
      files[f.path] = {{"size", f.bytes.size()}, {"sha256", vc::Sha256Hex(f.bytes)}};
    }
    Json quarantine = Json::array();
    for (const auto& q : m.quarantine) {
      quarantine.push_back({{"threat", q.threat}, {"path", q.path}, {"sha256", q.sha256}});
    }
    doc["_emulator"] = {
        {"offline", m.offline},
        {"files", files},
        {"quarantine", quarantine},
        {"exclusion_blocked", m.exclusion_blocked},
        {"fail_next_action", m.fail_next_action ? Json(*m.fail_next_action) : Json(nullptr)}};
    machines.push_back(std::move(doc));
  }
  std::vector<const ActionRecord*> actions;
  for (const auto& [_, a] : actions_) actions.push_back(&a);
  std::sort(actions.begin(), actions.end(),
            [](const ActionRecord* a, const ActionRecord* b) { return a->seq < b->seq; });
  Json machine_actions = Json::array();
  for (const auto* a : actions) machine_actions.push_back(a->doc);
  Json library = Json::array();
  for (const auto& [_, f] : library_) library.push_back(f.entry);
  return {{"alerts", std::move(alerts)},
          {"machines", std::move(machines)},
          {"machine_actions", std::move(machine_actions)},
          {"library", std::move(library)},
          {"denied_permissions", denied_permissions_},
          {"limit_violations", limit_violations_},
          {"limit_violation_log", limit_violation_log_},
          {"indicators", IndicatorsJson()},
          {"script_runs", script_runs_}};
}

void MdeEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  alerts_.clear();
  machines_.clear();
  actions_.clear();
  links_.clear();
  library_.clear();
  indicators_.clear();
  indicator_by_value_.clear();
  next_indicator_id_ = 2841;
  denied_permissions_.clear();
  quotas_.Clear();
  limit_violations_ = 0;
  limit_violation_log_ = Json::array();
  script_runs_ = Json::array();
  next_seq_ = 1;
}

}  // namespace vc::emu
