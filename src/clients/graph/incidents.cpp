#include "clients/graph/incidents.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::graph {
namespace {

constexpr std::string_view kIncidentsPath = "/v1.0/security/incidents/";

Error MapError(const http::Response& r, const std::string& what) {
  Error e;
  e.service = "graph";
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "Graph"); j && j->is_object() && (*j)["error"].is_object()) {
    const Json& err = (*j)["error"];
    e.service_code = err.value("code", "");
    detail = err.value("message", "");
    if (err.contains("innerError") && err["innerError"].is_object() &&
        err["innerError"].value("request-id", "") != "") {
      e.request_id = err["innerError"]["request-id"].get<std::string>();
    }
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
      e.code = ErrorCode::kInvalidArgument;
      e.message = fmt::format("Graph refused to {}{}: {}", what, code, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format("Graph did not accept the token to {}{}: {}", what, code, detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app registration may not {}{}: grant it the Microsoft Graph application "
          "permission SecurityIncident.ReadWrite.All and admin consent — {}",
          what, code, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format("Graph does not know the incident to {}{}: {}", what, code, detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("Graph is throttling requests to {}{}", what, code);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message = fmt::format("Graph answered HTTP {} to {}{}: {}", r.status, what, code, detail);
  }
  return e;
}

}  // namespace

Result<Incident> ParseIncident(const Json& j) {
  if (!j.is_object()) return MakeError(ErrorCode::kProtocol, "the Graph incident is not an object");
  JsonReader r(j, "incident");
  Incident out;
  out.id = r.Str("id");
  out.display_name = r.OptStr("displayName").value_or("");
  out.status = r.OptStr("status").value_or("");
  out.custom_tags = r.StrArray("customTags");
  const Json& comments = r.OptArray("comments");
  if (!r.ok()) return r.status().error();
  for (size_t i = 0; i < comments.size(); ++i) {
    if (!comments[i].is_object()) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("incident.comments[{}] is not an object", i));
    }
    JsonReader c(comments[i], fmt::format("incident.comments[{}]", i));
    IncidentComment comment;
    comment.comment = c.OptStr("comment").value_or("");
    comment.created_by = c.OptStr("createdByDisplayName").value_or("");
    if (auto t = c.OptStr("createdDateTime")) comment.created = ParseIso8601(*t);
    if (!c.ok()) return c.status().error();
    out.comments.push_back(std::move(comment));
  }
  return out;
}

IncidentClient::IncidentClient(std::string base_url, std::shared_ptr<http::Pipeline> api)
    : base_url_(std::move(base_url)), api_(std::move(api)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<http::Request> IncidentClient::Make(http::Method method, const std::string& incident_id,
                                           const std::string& suffix,
                                           const std::string& operation) const {
  // MDE's incidentId is a long; anything else would not name an incident (and must not shape
  // the URL).
  if (incident_id.empty() || incident_id.size() > 19 ||
      incident_id.find_first_not_of("0123456789") != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + Scrub(incident_id.substr(0, 40)) +
                         "' is not an incident id (MDE's incidentId is a number)");
  }
  http::Request r;
  r.method = method;
  r.url = base_url_ + std::string(kIncidentsPath) + http::UrlEncode(incident_id) + suffix;
  r.service = "graph";
  r.operation = operation;
  r.headers.Set("Accept", "application/json");
  return r;
}

Result<Json> IncidentClient::Call(http::Request request, const std::string& what) {
  auto resp = api_->Send(std::move(request));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "graph";  // a token error stays "entra"
    return e;
  }
  if (!resp->ok()) return MapError(*resp, what);
  if (resp->body.empty()) return Json::object();
  auto body = ParseJson(resp->body, "Graph (" + what + ")");
  if (!body) body.error().service = "graph";
  return body;
}

Result<Incident> IncidentClient::GetIncident(const std::string& incident_id) {
  auto request = Make(http::Method::kGet, incident_id, "", "incidents.get");
  if (!request) return request.error();
  auto body = Call(std::move(*request), "read incident " + incident_id);
  if (!body) return body.error();
  auto incident = ParseIncident(*body);
  if (!incident) incident.error().service = "graph";
  return incident;
}

Result<Incident> IncidentClient::SetCustomTags(const std::string& incident_id,
                                               const std::vector<std::string>& tags) {
  auto request = Make(http::Method::kPatch, incident_id, "", "incidents.update");
  if (!request) return request.error();
  request->headers.Set("Content-Type", "application/json");
  request->body = Json{{"customTags", tags}}.dump();
  // The whole list is sent: a repeat sets the same list again.
  request->idempotent = true;
  auto body = Call(std::move(*request), "tag incident " + incident_id);
  if (!body) return body.error();
  auto incident = ParseIncident(*body);
  if (!incident) incident.error().service = "graph";
  return incident;
}

Status IncidentClient::AddComment(const std::string& incident_id, const std::string& comment) {
  auto request = Make(http::Method::kPost, incident_id, "/comments", "incidents.comment");
  if (!request) return request.error();
  request->headers.Set("Content-Type", "application/json");
  request->body =
      Json{{"@odata.type", "microsoft.graph.security.alertComment"}, {"comment", comment}}.dump();
  auto body = Call(std::move(*request), "comment on incident " + incident_id);
  if (!body) return body.error();
  return Ok();
}

}  // namespace vc::graph
