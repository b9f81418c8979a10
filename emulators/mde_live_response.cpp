// Live response in the MDE emulator: starting a session, its simulated progress on polls, the
// result download link, and the blob-storage-like download behind it.
#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "http/gzip.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

// Where PutFile drops a library file on the device.
constexpr std::string_view kPutFileDir =
    "C:\\ProgramData\\Microsoft\\Windows Defender Advanced Threat Protection\\Downloads\\";
constexpr auto kQueueLimit = std::chrono::hours(72);
constexpr int kConcurrencyRetryAfterSeconds = 60;

int CommandRank(std::string_view type) {
  if (type == "PutFile") return 0;
  if (type == "RunScript") return 1;
  if (type == "GetFile") return 2;
  return -1;
}

// Empty when the runliveresponse body is valid, else why not (for InvalidRequestBody).
std::string ValidateLiveResponse(const Json& body) {
  if (body.is_discarded() || !body.is_object()) return "the body must be a JSON object";
  for (const auto& [key, _] : body.items()) {
    if (key != "Commands" && key != "Comment") {
      return fmt::format(
          "unknown property '{}'; the body has 'Commands' and 'Comment' "
          "(case-sensitive)",
          key);
    }
  }
  if (!body.contains("Comment") || !body["Comment"].is_string() ||
      body["Comment"].get_ref<const std::string&>().empty()) {
    return "'Comment' is required and must be a non-empty string";
  }
  if (!body.contains("Commands") || !body["Commands"].is_array() || body["Commands"].empty()) {
    return "'Commands' must be a non-empty array of {\"type\", \"params\"} objects";
  }
  int last_rank = 0;
  for (size_t i = 0; i < body["Commands"].size(); ++i) {
    const Json& c = body["Commands"][i];
    const std::string where = fmt::format("Commands[{}]", i);
    if (!c.is_object() || c.size() != 2 || !c.contains("type") || !c.contains("params")) {
      return where + " must be an object with exactly 'type' and 'params'";
    }
    const int rank = c["type"].is_string() ? CommandRank(c["type"].get<std::string>()) : -1;
    if (rank < 0) return where + ".type must be PutFile, RunScript or GetFile";
    if (rank < last_rank) {
      return where + ": commands must be ordered PutFile..., RunScript..., GetFile...; a " +
             c["type"].get<std::string>() + " cannot follow a later command type";
    }
    last_rank = rank;
    if (!c["params"].is_array()) return where + ".params must be an array of {key, value}";
    std::set<std::string> keys;
    for (const auto& p : c["params"]) {
      if (!p.is_object() || p.size() != 2 || !p.contains("key") || !p.contains("value") ||
          !p["key"].is_string() || !p["value"].is_string()) {
        return where + ".params entries must be {\"key\": <string>, \"value\": <string>}";
      }
      const std::string key = p["key"].get<std::string>();
      const bool allowed = (rank == 0 && key == "FileName") ||
                           (rank == 1 && (key == "ScriptName" || key == "Args")) ||
                           (rank == 2 && key == "Path");
      if (!allowed) {
        return fmt::format(
            "{}: '{}' is not a parameter of {} (PutFile: FileName; RunScript: "
            "ScriptName, Args; GetFile: Path; case-sensitive)",
            where, key, c["type"].get<std::string>());
      }
      if (!keys.insert(key).second)
        return fmt::format("{}: parameter '{}' given twice", where, key);
      if (key != "Args" && p["value"].get_ref<const std::string&>().empty()) {
        return fmt::format("{}: parameter '{}' must not be empty", where, key);
      }
    }
    const char* required = rank == 0 ? "FileName" : rank == 1 ? "ScriptName" : "Path";
    if (!keys.count(required))
      return fmt::format("{}: parameter '{}' is required", where, required);
  }
  return "";
}

std::optional<std::string> Param(const Json& command, std::string_view key) {
  for (const auto& p : command["command"]["params"]) {
    if (p["key"] == key) return p["value"].get<std::string>();
  }
  return std::nullopt;
}

void SendStorageError(httplib::Response& res, int status, std::string_view code,
                      std::string_view message, std::string_view detail, TimePoint now) {
  const std::string request_id = DefaultRandom().Uuid4();
  std::string xml = fmt::format(
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\n"
      "RequestId:{}\nTime:{}</Message>",
      code, message, request_id, mde::FormatTime(now));
  if (!detail.empty())
    xml += fmt::format("<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>", detail);
  xml += "</Error>";
  res.status = status;
  res.set_header("x-ms-error-code", std::string(code));
  res.set_header("x-ms-request-id", request_id);
  res.set_content(xml, "application/xml");
}

}  // namespace

void MdeEmulator::RunLiveResponse(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(
        call.req, call.res,
        "runliveresponse needs Content-Type: application/json, got '" + content_type + "'");
  }
  const Json body = Json::parse(call.req.body, nullptr, false);
  if (auto problem = ValidateLiveResponse(body); !problem.empty()) {
    return SendError(call.res, 400, "InvalidRequestBody", "Request body is incorrect: " + problem);
  }
  const std::string& machine_id = call.segments[1];
  auto machine = machines_.find(machine_id);
  if (machine == machines_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine {} was not found", machine_id));
  }
  if (const ActionRecord* active = ActiveLiveResponse(machine_id)) {
    return SendError(call.res, 400, "ActiveRequestAlreadyExists",
                     fmt::format("Cannot create a live response session: machine {} already has "
                                 "an active live response action {} ({}). Wait for it to finish "
                                 "or cancel it.",
                                 machine_id, active->doc["id"].get<std::string>(),
                                 active->doc["status"].get<std::string>()));
  }
  if (options_.enforce_limits) {
    int active = 0;
    for (auto& [_, a] : actions_) {
      ApplyQueueTimeout(a);
      if (a.doc["type"] == "LiveResponse" &&
          (a.doc["status"] == "Pending" || a.doc["status"] == "InProgress")) {
        ++active;
      }
    }
    if (active >= mde::kMaxConcurrentLiveResponses) {
      ++limit_violations_;
      limit_violation_log_.push_back({{"endpoint", "runliveresponse"},
                                      {"quota", "25 concurrent live response sessions"},
                                      {"at", mde::FormatTime(clock().Now())},
                                      {"retry_after", kConcurrencyRetryAfterSeconds}});
      call.res.set_header("Retry-After", std::to_string(kConcurrencyRetryAfterSeconds));
      return SendError(
          call.res, 429, "TooManyRequests",
          fmt::format("Too many requests: the tenant already has {} active live "
                      "response sessions (limit {}). Retry after {} seconds.",
                      active, mde::kMaxConcurrentLiveResponses, kConcurrencyRetryAfterSeconds));
    }
  }

  const std::string now = mde::FormatTime(clock().Now());
  ActionRecord action;
  action.seq = next_seq_++;
  Json commands = Json::array();
  for (size_t i = 0; i < body["Commands"].size(); ++i) {
    commands.push_back({{"index", i},
                        {"startTime", nullptr},
                        {"endTime", nullptr},
                        {"commandStatus", "Created"},
                        {"errors", Json::array()},
                        {"command", body["Commands"][i]}});
  }
  action.results.resize(commands.size());
  action.doc = {{"id", NewActionId()},
                {"type", "LiveResponse"},
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
                {"scope", nullptr},
                {"externalId", nullptr},
                {"troubleshootInfo", nullptr},
                {"relatedFileInfo", nullptr},
                {"commands", std::move(commands)}};
  const std::string id = action.doc["id"].get<std::string>();
  Json out = action.doc;
  actions_[id] = std::move(action);
  out["@odata.context"] = Context("MachineActions/$entity");
  SendOData(call.res, 201, out.dump());
}

void MdeEmulator::ApplyQueueTimeout(ActionRecord& action) {
  if (action.doc["status"] != "Pending" || action.doc["type"] != "LiveResponse") return;
  auto created = ParseIso8601(action.doc["creationDateTimeUtc"].get<std::string>());
  if (created && clock().Now() - *created >= kQueueLimit) {
    action.doc["troubleshootInfo"] =
        "The device did not connect within 3 days; the queued session timed out.";
    Finish(action, "TimeOut");
  }
}

void MdeEmulator::Finish(ActionRecord& action, std::string_view status) {
  action.doc["status"] = status;
  action.doc["lastUpdateDateTimeUtc"] = mde::FormatTime(clock().Now());
}

void MdeEmulator::Advance(ActionRecord& action) {
  ApplyQueueTimeout(action);
  if (action.foreign) return;
  if (action.doc["type"] != "LiveResponse") return AdvanceResponseAction(action);
  const std::string status = action.doc["status"].get<std::string>();
  if (status != "Pending" && status != "InProgress") return;
  auto machine = machines_.find(action.doc["machineId"].get<std::string>());
  if (machine == machines_.end() || machine->second.offline) return;  // queued until online
  ++action.polls;
  if (status == "Pending") {
    action.doc["commands"][0]["startTime"] = mde::FormatTime(clock().Now());
    Finish(action, "InProgress");
  }
  if (action.polls >= options_.action_polls_to_complete) Complete(action, machine->second);
}

void MdeEmulator::Complete(ActionRecord& action, MachineRecord& machine) {
  const std::string now = mde::FormatTime(clock().Now());
  Json& commands = action.doc["commands"];
  auto fail = [&](Json& command, const std::string& error) {
    command["commandStatus"] = "Failed";
    command["errors"].push_back(error);
    command["endTime"] = now;
    Finish(action, "Failed");
  };
  if (machine.fail_next_action) {
    const std::string error = *machine.fail_next_action;
    machine.fail_next_action.reset();
    return fail(commands[0], error);
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    Json& command = commands[i];
    if (command["startTime"].is_null()) command["startTime"] = now;
    const std::string type = command["command"]["type"].get<std::string>();
    if (type == "PutFile") {
      const std::string name = *Param(command, "FileName");
      auto file = library_.find(ToLower(name));
      if (file == library_.end()) return fail(command, "File not found in library");
      const std::string path =
          std::string(kPutFileDir) + file->second.entry["fileName"].get<std::string>();
      machine.files[ToLower(path)] = MachineFile{path, file->second.content};
    } else if (type == "RunScript") {
      const std::string name = *Param(command, "ScriptName");
      auto script = library_.find(ToLower(name));
      if (script == library_.end()) return fail(command, "Script not found in library");
      ScriptRun run{action.doc["id"].get<std::string>(),
                    machine.doc["id"].get<std::string>(),
                    machine.doc["computerDnsName"].get<std::string>(),
                    script->second.entry["fileName"].get<std::string>(),
                    Param(command, "Args"),
                    script->second.content,
                    {}};
      for (const auto& [_, f] : machine.files) run.files[f.path] = f.bytes;
      const bool modelled =
          !custom_script_hook_ && ToLower(run.script_name) == "vmray-connector-collect.ps1";
      const ScriptOutcome outcome =
          modelled ? RunCollectionScript(run, machine) : script_hook_(run);
      if (outcome.command_error) return fail(command, *outcome.command_error);
      action.results[i] = {true, Json{{"script_name", run.script_name},
                                      {"exit_code", outcome.exit_code},
                                      {"script_output", outcome.script_output},
                                      {"script_errors", outcome.script_errors}}
                                     .dump()};
    } else {
      const std::string path = *Param(command, "Path");
      auto file = machine.files.find(ToLower(path));
      if (file == machine.files.end()) return fail(command, "File not found");
      action.results[i] = {true, vc::http::Gzip(file->second.bytes)};
    }
    command["commandStatus"] = "Completed";
    command["endTime"] = now;
  }
  Finish(action, "Succeeded");
}

void MdeEmulator::GetResultDownloadLink(Call& call, size_t index) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& id = call.segments[1];
  auto it = actions_.find(id);
  if (it == actions_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Machine action {} was not found", id));
  }
  ActionRecord& action = it->second;
  if (action.doc["type"] != "LiveResponse") {
    return SendError(call.res, 400, "BadRequest",
                     fmt::format("Machine action {} is a {} action; result links exist only for "
                                 "LiveResponse actions.",
                                 id, action.doc["type"].get<std::string>()));
  }
  if (action.doc["status"] != "Succeeded") {
    return SendError(call.res, 400, "BadRequest",
                     fmt::format("Live response action {} is {}; results can be downloaded only "
                                 "after it has Succeeded.",
                                 id, action.doc["status"].get<std::string>()));
  }
  const Json& commands = action.doc["commands"];
  if (index >= commands.size()) {
    return SendError(call.res, 400, "InvalidInput",
                     fmt::format("Live response action {} has no command with index {} (indexes "
                                 "0 to {}).",
                                 id, index, commands.size() - 1));
  }
  if (commands[index]["commandStatus"] != "Completed" || !action.results[index].available) {
    return SendError(call.res, 400, "BadRequest",
                     fmt::format("Command {} ({}) of action {} has no downloadable result.", index,
                                 commands[index]["command"]["type"].get<std::string>(), id));
  }
  DownloadLink link;
  link.action_id = id;
  link.index = index;
  link.sig = DefaultRandom().HexToken(32);
  link.expires = clock().Now() + std::chrono::seconds(options_.download_link_ttl_seconds);
  link.expiry = FormatIso8601(link.expires);
  const std::string opaque = DefaultRandom().HexToken(16);
  const std::string url =
      fmt::format("{}/_lr/download/{}?se={}&sp=r&sv=2019-07-07&sr=b&sig={}", BaseUrl(), opaque,
                  httplib::detail::encode_query_param(link.expiry), link.sig);
  links_[opaque] = std::move(link);
  SendOData(call.res, 200, Json{{"@odata.context", Context("Edm.String")}, {"value", url}}.dump());
}

void MdeEmulator::Download(const httplib::Request& req, httplib::Response& res) {
  if (req.has_header("Authorization")) {
    return AssertionFailed(req, res, "bearer token sent to a storage download link");
  }
  std::lock_guard lock(state_mutex());
  const TimePoint now = clock().Now();
  const std::string opaque = req.path.substr(req.path.rfind('/') + 1);
  auto it = links_.find(opaque);
  if (it == links_.end()) {
    return SendStorageError(res, 404, "BlobNotFound", "The specified blob does not exist.", "",
                            now);
  }
  const DownloadLink& link = it->second;
  const httplib::Params params = odata::ParseQuery(req.target);
  auto param = [&](const char* name) {
    return params.count(name) == 1 ? odata::ParamValue(params, name) : std::string();
  };
  if (param("sig") != link.sig || param("se") != link.expiry || param("sp") != "r" ||
      param("sr") != "b" || param("sv") != "2019-07-07") {
    return SendStorageError(res, 403, "AuthenticationFailed",
                            "Server failed to authenticate the request. Make sure the value of "
                            "Authorization header is formed correctly including the signature.",
                            "Signature did not match. Use the download link exactly as returned.",
                            now);
  }
  if (now >= link.expires) {
    return SendStorageError(
        res, 403, "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header "
        "is formed correctly including the signature.",
        fmt::format("Signed expiry time [{}] must be after current time [{}]; request a new "
                    "download link.",
                    link.expiry, FormatIso8601(now)),
        now);
  }
  auto action = actions_.find(link.action_id);
  if (action == actions_.end() || link.index >= action->second.results.size()) {
    return SendStorageError(res, 404, "BlobNotFound", "The specified blob does not exist.", "",
                            now);
  }
  res.status = 200;
  res.set_header("x-ms-blob-type", "BlockBlob");
  res.set_header("x-ms-version", "2019-07-07");
  res.set_content(action->second.results[link.index].bytes, "application/octet-stream");
}

}  // namespace vc::emu
