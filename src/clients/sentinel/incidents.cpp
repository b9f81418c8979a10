#include "clients/sentinel/incidents.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/policies.hpp"
#include "http/retry_after.hpp"

namespace vc::sentinel {
namespace {

constexpr std::string_view kService = "sentinel";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "scheme://host[:port]" of an absolute URL, lower-cased; empty when it is not one.
std::string OriginOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return "";
  const size_t host_end = url.find_first_of("/?#", scheme_end + 3);
  const std::string_view origin = url.substr(0, host_end);
  if (origin.size() == scheme_end + 3) return "";
  return Lower(origin);
}

std::optional<TimePoint> TimeOf(const Json& properties, const char* key) {
  auto it = properties.find(key);
  if (it == properties.end() || !it->is_string()) return std::nullopt;
  return ParseIso8601(it->get<std::string>());
}

Error Protocol(const std::string& message) {
  Error e = MakeError(ErrorCode::kProtocol, message);
  e.service = std::string(kService);
  return e;
}

}  // namespace

size_t Utf8Characters(std::string_view text) {
  // Code points, with those outside the BMP counted twice: whether the service counts code
  // points or UTF-16 units (as .NET strings do) is not documented; a comment this lets through
  // is within the limit under either count.
  size_t n = 0;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b & 0xC0) != 0x80) n += b >= 0xF0 ? 2 : 1;
  }
  return n;
}

Error MapArmError(const http::Response& r, const std::string& what) {
  Error e;
  e.service = std::string(kService);
  e.http_status = r.status;
  e.request_id = http::ServiceRequestId(r);
  std::string detail;
  if (auto j = ParseJson(r.body, "Sentinel"); j && j->is_object() && (*j)["error"].is_object()) {
    e.service_code = (*j)["error"].value("code", "");
    detail = (*j)["error"].value("message", "");
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
      e.message = fmt::format("Sentinel refused to {}{}: {}", what, code, detail);
      break;
    case 401:
      e.code = ErrorCode::kUnauthenticated;
      e.message = fmt::format(
          "Sentinel did not accept the token to {}{}: {} (the token must be for "
          "https://management.azure.com)",
          what, code, detail);
      break;
    case 403:
      e.code = ErrorCode::kPermissionDenied;
      e.message = fmt::format(
          "the app registration may not {}{}: give it the role Microsoft Sentinel Contributor "
          "on the workspace — {}",
          what, code, detail);
      break;
    case 404:
      e.code = ErrorCode::kNotFound;
      e.message = fmt::format(
          "Sentinel found nothing to {}{}: {} (check the subscription, resource group and "
          "workspace name)",
          what, code, detail);
      break;
    case 409:
      e.code = ErrorCode::kConflict;
      e.message = fmt::format(
          "Sentinel refused to {}{}: it changed since it was read; read it again and retry — {}",
          what, code, detail);
      break;
    case 429:
      e.code = ErrorCode::kRateLimited;
      e.message = fmt::format("Sentinel is throttling requests to {}{}", what, code);
      break;
    default:
      e.code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol;
      e.message =
          fmt::format("Sentinel answered HTTP {} to {}{}: {}", r.status, what, code, detail);
  }
  return e;
}

Result<SentinelIncident> ParseSentinelIncident(const Json& j) {
  if (!j.is_object()) return Protocol("the Sentinel incident is not an object");
  JsonReader r(j, "incident");
  SentinelIncident out;
  out.name = r.Str("name");
  out.id = r.OptStr("id").value_or("");
  out.etag = r.OptStr("etag").value_or("");
  const Json& p = r.Object("properties");
  if (!r.ok()) return r.status().error();
  JsonReader pr(p, "incident.properties");
  out.title = pr.OptStr("title").value_or("");
  out.severity = pr.OptStr("severity").value_or("");
  out.status = pr.OptStr("status").value_or("");
  out.description = pr.OptStr("description").value_or("");
  out.number = pr.OptInt("incidentNumber", 0).value_or(0);
  out.incident_url = pr.OptStr("incidentUrl").value_or("");
  if (!pr.ok()) return pr.status().error();
  out.created = TimeOf(p, "createdTimeUtc");
  out.last_modified = TimeOf(p, "lastModifiedTimeUtc");
  out.properties = p;
  return out;
}

Result<IncidentEntity> ParseIncidentEntity(const Json& j) {
  if (!j.is_object()) return Protocol("a Sentinel entity is not an object");
  JsonReader r(j, "entity");
  IncidentEntity out;
  out.id = r.OptStr("id").value_or("");
  out.kind = r.Str("kind");
  const Json& p = r.Object("properties");
  if (!r.ok()) return r.status().error();
  JsonReader pr(p, "entity.properties");
  out.friendly_name = pr.OptStr("friendlyName").value_or("");
  if (out.kind == "Url") out.url = pr.Str("url");
  if (!pr.ok()) return pr.status().error();
  out.properties = p;
  return out;
}

IncidentsClient::IncidentsClient(IncidentsOptions options, std::shared_ptr<http::Pipeline> api)
    : options_(std::move(options)), api_(std::move(api)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
}

std::string IncidentsClient::WorkspaceUrl() const {
  return fmt::format(
      "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/"
      "workspaces/{}/providers/Microsoft.SecurityInsights",
      options_.base_url, http::UrlEncode(options_.subscription_id),
      http::UrlEncode(options_.resource_group), http::UrlEncode(options_.workspace_name));
}

std::string IncidentsClient::IncidentUrl(const std::string& incident_id) const {
  return WorkspaceUrl() + "/incidents/" + http::UrlEncode(incident_id);
}

Result<http::Request> IncidentsClient::Make(http::Method method, std::string url,
                                            const std::string& operation,
                                            bool add_api_version) const {
  if (options_.subscription_id.empty() || options_.resource_group.empty() ||
      options_.workspace_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the Sentinel workspace is not configured: set its subscription id, "
                     "resource group and workspace name");
  }
  http::Request r;
  r.method = method;
  r.url = std::move(url);
  if (add_api_version) r.url += "?api-version=" + http::UrlEncode(options_.api_version);
  r.service = std::string(kService);
  r.operation = operation;
  r.headers.Set("Accept", "application/json");
  return r;
}

Result<http::Response> IncidentsClient::Send(http::Request request, const std::string& what) {
  auto resp = api_->Send(std::move(request));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = std::string(kService);  // a token error stays "entra"
    return e;
  }
  if (!resp->ok()) return MapArmError(*resp, what);
  return resp;
}

Result<Json> IncidentsClient::Call(http::Request request, const std::string& what) {
  auto resp = Send(std::move(request), what);
  if (!resp) return resp.error();
  auto body = ParseJson(resp->body, "Sentinel (" + what + ")");
  if (!body) body.error().service = std::string(kService);
  return body;
}

Result<std::vector<SentinelIncident>> IncidentsClient::ListIncidentsCreatedSince(TimePoint cursor) {
  const std::string origin = OriginOf(options_.base_url);
  std::string url =
      WorkspaceUrl() + "/incidents?" +
      http::EncodeQuery({{"api-version", options_.api_version},
                         {"$filter", "properties/createdTimeUtc gt " + FormatIso8601Millis(cursor)},
                         {"$orderby", "properties/createdTimeUtc asc"},
                         {"$top", std::to_string(options_.page_size)}});
  std::vector<SentinelIncident> out;
  for (int page = 0;; ++page) {
    if (page >= options_.max_pages) {
      return Protocol(fmt::format(
          "Sentinel's incident list did not end after {} pages; refusing to follow it further",
          options_.max_pages));
    }
    auto request = Make(http::Method::kGet, url, "incidents.list", false);
    if (!request) return request.error();
    auto body = Call(std::move(*request), "list incidents");
    if (!body) return body.error();
    if (!body->is_object() || !(*body)["value"].is_array())
      return Protocol("Sentinel's incident list has no \"value\" array");
    for (const auto& item : (*body)["value"]) {
      auto incident = ParseSentinelIncident(item);
      if (!incident) {
        incident.error().service = std::string(kService);
        return incident.error();
      }
      out.push_back(std::move(*incident));
    }
    auto next = body->find("nextLink");
    if (next == body->end() || next->is_null()) break;
    if (!next->is_string()) return Protocol("Sentinel's nextLink is not a string");
    const std::string link = next->get<std::string>();
    if (link.empty()) break;
    // The token goes with every request the pipeline sends: a nextLink elsewhere would hand it
    // to whoever wrote that link.
    if (OriginOf(link) != origin) {
      return Protocol(fmt::format(
          "Sentinel's incident list pointed its nextLink to '{}', not to {}; refused so the "
          "token is not sent there",
          Scrub(OriginOf(link).empty() ? link.substr(0, 60) : OriginOf(link)), origin));
    }
    url = link;
  }
  return out;
}

Result<SentinelIncident> IncidentsClient::GetIncident(const std::string& incident_id) {
  if (incident_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "no incident id given");
  auto request = Make(http::Method::kGet, IncidentUrl(incident_id), "incidents.get", true);
  if (!request) return request.error();
  auto body = Call(std::move(*request), "read incident " + Scrub(incident_id));
  if (!body) return body.error();
  auto incident = ParseSentinelIncident(*body);
  if (!incident) incident.error().service = std::string(kService);
  return incident;
}

Result<std::vector<IncidentEntity>> IncidentsClient::ListEntities(const std::string& incident_id) {
  if (incident_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "no incident id given");
  auto request =
      Make(http::Method::kPost, IncidentUrl(incident_id) + "/entities", "incidents.entities", true);
  if (!request) return request.error();
  // A read: repeating it changes nothing.
  request->idempotent = true;
  auto body = Call(std::move(*request), "list the entities of incident " + Scrub(incident_id));
  if (!body) return body.error();
  if (!body->is_object() || !(*body)["entities"].is_array())
    return Protocol("Sentinel's entity list has no \"entities\" array");
  std::vector<IncidentEntity> out;
  for (const auto& item : (*body)["entities"]) {
    auto entity = ParseIncidentEntity(item);
    if (!entity) {
      entity.error().service = std::string(kService);
      return entity.error();
    }
    out.push_back(std::move(*entity));
  }
  return out;
}

Result<IncidentCommentResult> IncidentsClient::PutComment(const std::string& incident_id,
                                                          const std::string& comment_id,
                                                          const std::string& html) {
  if (incident_id.empty() || comment_id.empty())
    return MakeError(ErrorCode::kInvalidArgument, "a comment needs an incident id and its own id");
  if (html.empty()) return MakeError(ErrorCode::kInvalidArgument, "the comment is empty");
  if (const size_t chars = Utf8Characters(html); chars > kMaxCommentCharacters) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the comment has {} characters; Sentinel takes at most {}: "
                                 "shorten it (or split it into several comments)",
                                 chars, kMaxCommentCharacters));
  }
  auto request = Make(http::Method::kPut,
                      IncidentUrl(incident_id) + "/comments/" + http::UrlEncode(comment_id),
                      "incidents.comment", true);
  if (!request) return request.error();
  request->headers.Set("Content-Type", "application/json");
  request->body = Json{{"properties", {{"message", html}}}}.dump();
  // The comment id is ours: a repeat writes the same comment again.
  request->idempotent = true;
  auto resp = Send(std::move(*request), "comment on incident " + Scrub(incident_id));
  if (!resp) return resp.error();
  auto body = ParseJson(resp->body, "Sentinel (comment)");
  if (!body) {
    body.error().service = std::string(kService);
    return body.error();
  }
  if (!body->is_object() || !(*body)["properties"].is_object())
    return Protocol("Sentinel's comment answer has no properties");
  IncidentCommentResult out;
  out.name = body->value("name", comment_id);
  out.message = (*body)["properties"].value("message", "");
  out.created = TimeOf((*body)["properties"], "createdTimeUtc");
  out.created_now = resp->status == 201;
  return out;
}

Result<SentinelIncident> IncidentsClient::CreateIncident(const std::string& incident_id,
                                                         const NewIncident& incident) {
  if (incident_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "no incident id given");
  if (incident.title.empty())
    return MakeError(ErrorCode::kInvalidArgument, "a Sentinel incident needs a title");
  auto request = Make(http::Method::kPut, IncidentUrl(incident_id), "incidents.create", true);
  if (!request) return request.error();
  Json properties = {
      {"title", incident.title}, {"severity", incident.severity}, {"status", incident.status}};
  if (!incident.description.empty()) properties["description"] = incident.description;
  if (!incident.labels.empty()) {
    Json labels = Json::array();
    for (const auto& l : incident.labels) labels.push_back({{"labelName", l}});
    properties["labels"] = labels;
  }
  request->headers.Set("Content-Type", "application/json");
  request->body = Json{{"properties", properties}}.dump();
  request->idempotent = true;
  auto body = Call(std::move(*request), "create incident " + Scrub(incident_id));
  if (!body) return body.error();
  auto created = ParseSentinelIncident(*body);
  if (!created) created.error().service = std::string(kService);
  return created;
}

}  // namespace vc::sentinel
