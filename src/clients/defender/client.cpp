#include "clients/defender/client.hpp"

#include <fmt/format.h>

#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::mde {
namespace {

Error MapError(const http::Response& r, const std::string& what) {
  Error e;
  e.service = "mde";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "MDE"); j && j->is_object() && (*j)["error"].is_object()) {
    const Json& err = (*j)["error"];
    e.service_code = err.value("code", "");
    detail = err.value("message", "");
    if (err.contains("target") && err["target"].is_string())
      e.request_id = err["target"].get<std::string>();
  } else {
    detail = r.body.substr(0, 200);
  }
  detail = Scrub(detail);
  if (auto ra = r.headers.Get("Retry-After")) {
    if (auto wait = http::ParseRetryAfter(*ra, std::chrono::system_clock::now())) {
      e.retry_after = std::chrono::ceil<std::chrono::seconds>(*wait);
    }
  }
  const std::string code = e.service_code.empty() ? "" : " (" + e.service_code + ")";
  switch (r.status) {
    case 400:
      e.code = e.service_code == "ActiveRequestAlreadyExists" ? ErrorCode::kConflict
                                                              : ErrorCode::kInvalidArgument;
      e.message = fmt::format("MDE refused to {}{}: {}", what, code, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format("MDE did not accept the token to {}{}: {}", what, code, detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app registration may not {}{}: grant the WindowsDefenderATP application "
          "permission it needs and admin consent — {}",
          what, code, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format("MDE could not find what is needed to {}{}: {}", what, code, detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("MDE is throttling requests to {}{}", what, code);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message = fmt::format("MDE answered HTTP {} to {}{}: {}", r.status, what, code, detail);
  }
  return e;
}

std::string InList(std::string_view field, const std::vector<std::string>& values) {
  std::string out = std::string(field) + " in (";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += ODataString(values[i]);
  }
  return out + ")";
}

// One LibraryFile entity, as listed or as answered to an upload.
Result<LibraryFile> ParseLibraryFile(const Json& j, const std::string& where) {
  if (!j.is_object()) return MakeError(ErrorCode::kProtocol, where + " is not an object");
  JsonReader f(j, where);
  LibraryFile file;
  file.file_name = f.Str("fileName");
  file.sha256 = f.OptStr("sha256").value_or("");
  file.description = f.OptStr("description").value_or("");
  file.has_parameters = f.OptBool("hasParameters").value_or(false);
  file.created_by = f.OptStr("createdBy").value_or("");
  if (auto t = f.OptStr("lastUpdatedTime")) file.last_updated = ParseIso8601(*t);
  if (!f.ok()) return f.status().error();
  return file;
}

}  // namespace

std::string ODataString(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

Client::Client(std::string base_url, std::shared_ptr<http::Pipeline> api,
               std::shared_ptr<http::Pipeline> download)
    : base_url_(std::move(base_url)), api_(std::move(api)), download_(std::move(download)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

http::Request Client::Make(http::Method method, const std::string& path,
                           const std::string& operation) const {
  http::Request r;
  r.method = method;
  r.url = base_url_ + path;
  r.service = "mde";
  r.operation = operation;
  r.headers.Set("Accept", "application/json");
  return r;
}

Result<Json> Client::Call(http::Request request, const std::string& what) {
  auto resp = api_->Send(std::move(request));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "mde";  // a token error stays "entra"
    return e;
  }
  if (!resp->ok()) return MapError(*resp, what);
  if (resp->body.empty()) return Json::object();
  auto body = ParseJson(resp->body, "MDE (" + what + ")");
  if (!body) body.error().service = "mde";
  return body;
}

Result<AlertPage> Client::ListAlertPage(const AlertQuery& q) {
  std::vector<std::string> clauses;
  if (q.created_since) clauses.push_back("alertCreationTime ge " + FormatIso8601(*q.created_since));
  if (!q.statuses.empty()) clauses.push_back(InList("status", q.statuses));
  if (!q.severities.empty()) clauses.push_back(InList("severity", q.severities));
  if (!q.detection_sources.empty())
    clauses.push_back(InList("detectionSource", q.detection_sources));
  std::vector<std::pair<std::string, std::string>> params;
  if (!clauses.empty()) {
    std::string filter;
    for (const auto& c : clauses) filter += (filter.empty() ? "" : " and ") + c;
    params.emplace_back("$filter", filter);
  }
  params.emplace_back("$top", std::to_string(q.top));
  if (q.skip > 0) params.emplace_back("$skip", std::to_string(q.skip));
  if (q.expand_evidence) params.emplace_back("$expand", "evidence");
  auto body =
      Call(Make(http::Method::kGet, "/api/alerts?" + http::EncodeQuery(params), "alerts.list"),
           "list alerts");
  if (!body) return body.error();
  JsonReader r(*body, "alerts");
  const Json& value = r.Array("value");
  if (!r.ok()) return r.status().error();
  AlertPage page;
  page.records = value.size();
  page.alerts.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    auto a = ParseAlert(value[i], fmt::format("value[{}]", i));
    if (a) {
      page.alerts.push_back(std::move(*a));
      continue;
    }
    a.error().service = "mde";
    std::string id;
    if (value[i].is_object() && value[i].contains("id") && value[i]["id"].is_string()) {
      id = value[i]["id"].get<std::string>();
    }
    page.rejected.push_back({std::move(id), std::move(a.error())});
  }
  return page;
}

Result<std::vector<Alert>> Client::ListAlerts(const AlertQuery& q) {
  auto page = ListAlertPage(q);
  if (!page) return page.error();
  if (!page->rejected.empty()) return page->rejected.front().error;
  return std::move(page->alerts);
}

Result<Alert> Client::GetAlert(const std::string& alert_id) {
  auto body =
      Call(Make(http::Method::kGet, "/api/alerts/" + http::UrlEncode(alert_id), "alerts.get"),
           "read alert " + alert_id);
  if (!body) return body.error();
  return ParseAlert(*body, "alert");
}

Status Client::AddAlertComment(const std::string& alert_id, const std::string& comment) {
  http::Request r =
      Make(http::Method::kPatch, "/api/alerts/" + http::UrlEncode(alert_id), "alerts.update");
  r.headers.Set("Content-Type", "application/json");
  r.body = Json{{"comment", comment}}.dump();
  auto body = Call(std::move(r), "comment on alert " + alert_id);
  if (!body) return body.error();
  return Ok();
}

Result<Machine> Client::GetMachine(const std::string& machine_id) {
  auto body =
      Call(Make(http::Method::kGet, "/api/machines/" + http::UrlEncode(machine_id), "machines.get"),
           "read machine " + machine_id);
  if (!body) return body.error();
  return ParseMachine(*body, "machine");
}

Result<std::vector<Machine>> Client::ListMachines(int top) {
  const std::string query = http::EncodeQuery({{"$top", std::to_string(top)}});
  auto body =
      Call(Make(http::Method::kGet, "/api/machines?" + query, "machines.list"), "list machines");
  if (!body) return body.error();
  JsonReader r(*body, "machines");
  const Json& value = r.Array("value");
  if (!r.ok()) return r.status().error();
  std::vector<Machine> out;
  for (size_t i = 0; i < value.size(); ++i) {
    auto m = ParseMachine(value[i], fmt::format("value[{}]", i));
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

Result<std::vector<LibraryFile>> Client::ListLibraryFiles() {
  auto body = Call(Make(http::Method::kGet, "/api/libraryfiles", "library.list"),
                   "list the Live Response library");
  if (!body) return body.error();
  JsonReader r(*body, "libraryfiles");
  const Json& value = r.Array("value");
  if (!r.ok()) return r.status().error();
  std::vector<LibraryFile> out;
  for (size_t i = 0; i < value.size(); ++i) {
    auto file = ParseLibraryFile(value[i], fmt::format("libraryfiles.value[{}]", i));
    if (!file) return file.error();
    out.push_back(std::move(*file));
  }
  return out;
}

Result<LibraryFile> Client::UploadLibraryFile(const std::string& file_name,
                                              const std::string& content,
                                              const std::string& description,
                                              const std::string& parameters_description,
                                              bool replace) {
  http::Request r = Make(http::Method::kPost, "/api/libraryfiles", "library.upload");
  r.form.push_back({"file", content, file_name, "application/octet-stream"});
  r.form.push_back({"Description", description, "", ""});
  r.form.push_back({"ParametersDescription", parameters_description, "", ""});
  r.form.push_back({"HasParameters", parameters_description.empty() ? "false" : "true", "", ""});
  r.form.push_back({"OverrideIfExists", replace ? "true" : "false", "", ""});
  // Replacing with the same bytes twice leaves the same library: safe to repeat.
  r.idempotent = replace;
  auto body = Call(std::move(r), "upload " + file_name + " to the Live Response library");
  if (!body) return body.error();
  return ParseLibraryFile(*body, "libraryfile");
}

Result<std::vector<MachineAction>> Client::ListMachineActions(const std::string& machine_id) {
  const std::string query =
      http::EncodeQuery({{"$filter", "machineId eq " + ODataString(machine_id)}});
  auto body = Call(Make(http::Method::kGet, "/api/machineactions?" + query, "machineactions.list"),
                   "list actions of machine " + machine_id);
  if (!body) return body.error();
  JsonReader r(*body, "machineactions");
  const Json& value = r.Array("value");
  if (!r.ok()) return r.status().error();
  std::vector<MachineAction> out;
  for (size_t i = 0; i < value.size(); ++i) {
    auto a = ParseMachineAction(value[i], fmt::format("value[{}]", i));
    if (!a) return a.error();
    out.push_back(std::move(*a));
  }
  return out;
}

Result<MachineAction> Client::GetMachineAction(const std::string& action_id) {
  auto body = Call(Make(http::Method::kGet, "/api/machineactions/" + http::UrlEncode(action_id),
                        "machineactions.get"),
                   "read machine action " + action_id);
  if (!body) return body.error();
  return ParseMachineAction(*body, "machineaction");
}

Result<MachineAction> Client::CancelMachineAction(const std::string& action_id,
                                                  const std::string& comment) {
  http::Request r =
      Make(http::Method::kPost, "/api/machineactions/" + http::UrlEncode(action_id) + "/cancel",
           "machineactions.cancel");
  r.headers.Set("Content-Type", "application/json");
  r.body = Json{{"Comment", comment}}.dump();
  r.idempotent = true;  // cancelling twice is harmless
  auto body = Call(std::move(r), "cancel machine action " + action_id);
  if (!body) return body.error();
  return ParseMachineAction(*body, "machineaction");
}

Result<MachineAction> Client::RunLiveResponse(const std::string& machine_id,
                                              const std::vector<LiveResponseCommand>& commands,
                                              const std::string& comment, bool slot_taken) {
  Json cmds = Json::array();
  for (const auto& c : commands) {
    Json params = Json::array();
    for (const auto& [k, v] : c.params) params.push_back({{"key", k}, {"value", v}});
    cmds.push_back({{"type", c.type}, {"params", params}});
  }
  http::Request r =
      Make(http::Method::kPost, "/api/machines/" + http::UrlEncode(machine_id) + "/runliveresponse",
           "liveresponse.run");
  r.headers.Set("Content-Type", "application/json");
  r.body = Json{{"Commands", cmds}, {"Comment", comment}}.dump();
  r.rate_limit_prepaid = slot_taken;
  auto body = Call(std::move(r), "start Live Response on machine " + machine_id);
  if (!body) return body.error();
  return ParseMachineAction(*body, "machineaction");
}

Result<std::string> Client::LiveResponseResultLink(const std::string& action_id,
                                                   int command_index) {
  auto body =
      Call(Make(http::Method::kGet,
                fmt::format("/api/machineactions/{}/GetLiveResponseResultDownloadLink(index={})",
                            http::UrlEncode(action_id), command_index),
                "liveresponse.link"),
           "get the Live Response result link of action " + action_id);
  if (!body) return body.error();
  JsonReader r(*body, "link");
  std::string url = r.Str("value");
  if (!r.ok()) return r.status().error();
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return MakeError(ErrorCode::kProtocol, "Live Response result link is not an http(s) URL");
  }
  Redactor::Global().Register(
      url.substr(url.find('?') == std::string::npos ? url.size() : url.find('?')));
  return url;
}

Result<std::string> Client::Download(const std::string& url) {
  http::Request r;
  r.url = url;
  r.service = "mde-download";
  r.operation = "download";
  auto resp = download_->Send(std::move(r));
  if (!resp) return resp.error();
  if (!resp->ok()) {
    Error e = MakeError(
        resp->status == 403 || resp->status == 404 ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
        fmt::format("downloading the Live Response result failed with HTTP {} "
                    "(links expire after 30 minutes; a new one will be requested)",
                    resp->status));
    e.service = "mde-download";
    e.http_status = resp->status;
    e.request_id = http::ServiceRequestId(*resp);
    return e;
  }
  return std::move(resp->body);
}

Status Client::HealthCheck() {
  auto body = Call(Make(http::Method::kGet, "/api/alerts?%24top=1", "alerts.list"), "list alerts");
  if (!body) return body.error();
  return Ok();
}

}  // namespace vc::mde
