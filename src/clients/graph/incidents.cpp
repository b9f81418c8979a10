#include "clients/graph/incidents.hpp"

#include <fmt/format.h>

#include "clients/graph/errors.hpp"
#include "core/json.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::graph {
namespace {

constexpr std::string_view kIncidentsPath = "/v1.0/security/incidents/";
const GraphErrorContext kIncidentErrors{"SecurityIncident.ReadWrite.All", "the incident"};

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
  if (!resp->ok()) return MapGraphError(*resp, what, kIncidentErrors);
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
