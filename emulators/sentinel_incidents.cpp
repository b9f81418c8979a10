// The Sentinel management REST API for incidents (api-reference.md 3.5), served by the Sentinel
// emulator next to the STIX upload API:
//   .../incidents/{id}                    PUT (201 create, 200 update), GET
//   .../incidents                         GET with $filter (createdTimeUtc gt|ge), $orderby, $top,
//                                         $skipToken; {"value", "nextLink"}
//   .../incidents/{id}/comments/{cid}     PUT (201/200; message <= 30,000 characters)
//   .../incidents/{id}/comments           GET, paged like the incident list
//   .../incidents/{id}/entities           POST (empty body): {"entities", "metaData"}
// under /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/
// workspaces/{ws}/providers/Microsoft.SecurityInsights/. Errors are ARM's
// {"error": {"code", "message"}}; every route wants a management token and a stable api-version.
#include "sentinel_incidents.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <regex>

#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "sentinel_emulator.hpp"

namespace vc::emu {
namespace sentinel_mgmt {

const std::vector<std::string>& StableApiVersions() {
  static const std::vector<std::string> kVersions = {"2020-01-01", "2021-04-01", "2024-03-01",
                                                     "2024-09-01", "2025-06-01", "2025-09-01"};
  return kVersions;
}

const std::vector<std::string>& EntityKinds() {
  static const std::vector<std::string> kKinds = {"Account",
                                                  "AzureResource",
                                                  "CloudApplication",
                                                  "DnsResolution",
                                                  "File",
                                                  "FileHash",
                                                  "Host",
                                                  "Ip",
                                                  "Malware",
                                                  "Process",
                                                  "RegistryKey",
                                                  "RegistryValue",
                                                  "SecurityAlert",
                                                  "SecurityGroup",
                                                  "Url",
                                                  "IoTDevice",
                                                  "Mailbox",
                                                  "MailCluster",
                                                  "MailMessage",
                                                  "SubmissionMail"};
  return kKinds;
}

size_t CharacterCount(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace sentinel_mgmt

namespace {

using namespace sentinel_mgmt;

const std::string kWorkspaceRoute =
    "/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
    "Microsoft.OperationalInsights/workspaces/([^/]+)/providers/Microsoft.SecurityInsights";
const std::regex kGuid(
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

bool IsManagementPath(const std::string& path) {
  return path.rfind("/subscriptions/", 0) == 0;
}

void ArmError(httplib::Response& res, int status, std::string_view code,
              const std::string& message) {
  res.status = status;
  res.set_content(Json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                  "application/json");
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// The resource as answered: the stored incident without the emulator's side arrays.
Json IncidentResource(const Json& stored) {
  Json out = stored;
  out.erase("comments");
  out.erase("entities");
  return out;
}

TimePoint CreatedOf(const Json& resource) {
  return ParseIso8601(resource["properties"].value("createdTimeUtc", "")).value_or(TimePoint{});
}

// Checks an incident body; empty when it is one the service accepts.
std::string IncidentProblem(const Json& body) {
  if (!body.is_object()) return "The request body must be a JSON object.";
  auto p = body.find("properties");
  if (p == body.end() || !p->is_object()) return "The 'properties' object is required.";
  auto title = p->find("title");
  if (title == p->end() || !title->is_string() || title->get<std::string>().empty())
    return "The title field is required.";
  static const std::vector<std::string> kSeverities = {"High", "Medium", "Low", "Informational"};
  static const std::vector<std::string> kStatuses = {"New", "Active", "Closed"};
  auto one_of = [&](const char* key, const std::vector<std::string>& allowed) -> std::string {
    auto v = p->find(key);
    if (v == p->end() || v->is_null()) return fmt::format("The {} field is required.", key);
    if (!v->is_string() ||
        std::find(allowed.begin(), allowed.end(), v->get<std::string>()) == allowed.end())
      return fmt::format("The value '{}' is not valid for {}; allowed: {}.",
                         v->is_string() ? v->get<std::string>() : v->dump(), key, Joined(allowed));
    return "";
  };
  if (auto problem = one_of("severity", kSeverities); !problem.empty()) return problem;
  if (auto problem = one_of("status", kStatuses); !problem.empty()) return problem;
  if (auto labels = p->find("labels"); labels != p->end() && !labels->is_array())
    return "labels must be an array.";
  return "";
}

std::string EntityProblem(const Json& e) {
  if (!e.is_object()) return "an entity must be a JSON object";
  auto kind = e.find("kind");
  const auto& kinds = EntityKinds();
  if (kind == e.end() || !kind->is_string() ||
      std::find(kinds.begin(), kinds.end(), kind->get<std::string>()) == kinds.end())
    return "entity kind " + (kind == e.end() ? std::string("(missing)") : kind->dump()) +
           " is not one of " + Joined(kinds);
  auto p = e.find("properties");
  if (p == e.end() || !p->is_object()) return "entity properties must be an object";
  if (*kind == "Url" && (!p->contains("url") || !(*p)["url"].is_string()))
    return "a Url entity needs properties.url (string)";
  return "";
}

// One page of `items` as {"value": [...], "nextLink"?}; `next` builds the next page's link from
// its $skipToken.
Json Page(const std::vector<Json>& items, size_t offset, size_t top,
          const std::function<std::string(const std::string&)>& next) {
  Json value = Json::array();
  for (size_t i = offset; i < items.size() && i < offset + top; ++i) value.push_back(items[i]);
  Json out = {{"value", value}};
  if (offset + top < items.size()) out["nextLink"] = next(std::to_string(offset + top));
  return out;
}

}  // namespace

std::string SentinelEmulator::FaultBodyFor(const httplib::Request& req, int status) const {
  if (!IsManagementPath(req.path)) return FaultBody(status);
  const char* code = status == 429   ? "TooManyRequests"
                     : status >= 500 ? "InternalServerError"
                                     : "InjectedFault";
  return Json{{"error", {{"code", code}, {"message", fmt::format("injected {}", status)}}}}.dump();
}

void SentinelEmulator::RegisterIncidentRoutes() {
  auto bind =
      [this](void (SentinelEmulator::*handler)(const httplib::Request&, httplib::Response&)) {
        return [this, handler](const httplib::Request& req, httplib::Response& res) {
          if (!ArmPreamble(req, res)) return;
          (this->*handler)(req, res);
        };
      };
  On("PUT", kWorkspaceRoute + "/incidents/([^/]+)", bind(&SentinelEmulator::PutIncident));
  On("GET", kWorkspaceRoute + "/incidents/([^/]+)", bind(&SentinelEmulator::GetIncident));
  On("GET", kWorkspaceRoute + "/incidents/?", bind(&SentinelEmulator::ListIncidents));
  On("PUT", kWorkspaceRoute + "/incidents/([^/]+)/comments/([^/]+)",
     bind(&SentinelEmulator::PutComment));
  On("GET", kWorkspaceRoute + "/incidents/([^/]+)/comments/?",
     bind(&SentinelEmulator::ListComments));
  On("POST", kWorkspaceRoute + "/incidents/([^/]+)/entities",
     bind(&SentinelEmulator::ListEntities));
}

bool SentinelEmulator::ArmPreamble(const httplib::Request& req, httplib::Response& res) {
  // ARM authenticates before it looks at anything else.
  const std::string token = BearerToken(HeaderOr(req, "Authorization"));
  if (token.empty()) {
    ArmError(res, 401, "AuthenticationFailed",
             "Authentication failed. The 'Authorization' header is missing.");
    return false;
  }
  switch (tokens_.Validate(token, options_.audiences, clock().Now())) {
    case TokenRegistry::Check::kValid:
      break;
    case TokenRegistry::Check::kUnknown:
      ArmError(res, 401, "InvalidAuthenticationToken", "The access token is invalid.");
      return false;
    case TokenRegistry::Check::kExpired:
      ArmError(res, 401, "ExpiredAuthenticationToken",
               "The access token expiry UTC time is "
               "in the past.");
      return false;
    case TokenRegistry::Check::kWrongAudience:
      ArmError(res, 401, "InvalidAuthenticationTokenAudience",
               "The access token has been obtained for wrong audience or resource; request it "
               "for https://management.azure.com.");
      return false;
  }
  if (!req.has_param("api-version")) {
    ArmError(res, 400, "MissingApiVersionParameter",
             "The api-version query parameter (?api-version=) is required for all requests.");
    return false;
  }
  const std::string version = req.get_param_value("api-version");
  const auto& versions = StableApiVersions();
  if (std::find(versions.begin(), versions.end(), version) == versions.end()) {
    ArmError(res, 400, "InvalidApiVersionParameter",
             fmt::format("The api-version '{}' is invalid. The supported versions are '{}'.",
                         version, Joined(versions)));
    return false;
  }
  if (!IEquals(req.matches[1].str(), options_.subscription_id)) {
    ArmError(res, 404, "SubscriptionNotFound",
             fmt::format("The subscription '{}' could not be found.", req.matches[1].str()));
    return false;
  }
  if (!IEquals(req.matches[2].str(), options_.resource_group) ||
      !IEquals(req.matches[3].str(), options_.workspace_name)) {
    ArmError(res, 404, "ResourceNotFound",
             fmt::format("The Resource 'Microsoft.OperationalInsights/workspaces/{}' under "
                         "resource group '{}' was not found.",
                         req.matches[3].str(), req.matches[2].str()));
    return false;
  }
  return true;
}

std::string SentinelEmulator::WorkspacePath() const {
  return fmt::format(
      "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/"
      "{}",
      options_.subscription_id, options_.resource_group, options_.workspace_name, kProvider);
}

std::string SentinelEmulator::IncidentPath(const std::string& name) const {
  return WorkspacePath() + "/incidents/" + name;
}

std::string SentinelEmulator::NextEtagLocked() {
  // Quoted, in the shape of the service's etags.
  return fmt::format("\"{:08x}-0000-0000-0000-{:012x}\"", next_etag_++, 0x5c37296e0000LL);
}

Json& SentinelEmulator::StoreIncidentLocked(const std::string& name, Json properties, bool created,
                                            std::optional<TimePoint> created_at) {
  const std::string key = ToLower(name);
  const std::string now = FormatIso8601Millis(clock().Now());
  Json previous = created ? Json::object() : incidents_[key];
  Json& p = properties;
  if (created) {
    const int64_t number = next_incident_number_++;
    p["incidentNumber"] = number;
    p["providerIncidentId"] = std::to_string(number);
    p["createdTimeUtc"] = created_at ? FormatIso8601Millis(*created_at) : now;
    p["additionalData"] = {{"alertsCount", 0},
                           {"bookmarksCount", 0},
                           {"commentsCount", 0},
                           {"alertProductNames", Json::array()},
                           {"tactics", Json::array()}};
    p["relatedAnalyticRuleIds"] = Json::array();
  } else {
    // Server fields survive an update; the caller's copies of them are ignored.
    for (const char* k : {"incidentNumber", "providerIncidentId", "createdTimeUtc",
                          "additionalData", "relatedAnalyticRuleIds"}) {
      p[k] = previous["properties"][k];
    }
  }
  p["lastModifiedTimeUtc"] = now;
  p["providerName"] = "Azure Sentinel";
  p["incidentUrl"] = "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident" +
                     IncidentPath(name);
  if (!p.contains("labels")) p["labels"] = Json::array();
  if (!p.contains("owner")) {
    p["owner"] = {{"objectId", nullptr},
                  {"email", nullptr},
                  {"assignedTo", nullptr},
                  {"userPrincipalName", nullptr}};
  }
  Json stored = {{"id", IncidentPath(name)},
                 {"name", name},
                 {"type", "Microsoft.SecurityInsights/incidents"},
                 {"etag", NextEtagLocked()},
                 {"properties", std::move(p)},
                 {"comments", created ? Json::array() : previous["comments"]},
                 {"entities", created ? Json::array() : previous["entities"]}};
  return incidents_[key] = std::move(stored);
}

void SentinelEmulator::PutIncident(const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[4].str();
  if (!std::regex_match(name, kGuid))
    return ArmError(res, 400, "BadRequest", "The incident id '" + name + "' must be a GUID.");
  Json body;
  try {
    body = Json::parse(req.body);
  } catch (const Json::exception&) {
    return ArmError(res, 400, "BadRequest", "The request body is not valid JSON.");
  }
  if (auto problem = IncidentProblem(body); !problem.empty())
    return ArmError(res, 400, "BadRequest", problem);
  std::lock_guard lock(state_mutex());
  auto it = incidents_.find(ToLower(name));
  const bool created = it == incidents_.end();
  if (!created) {
    // The etag the caller last saw, from If-Match or the body; a stale one is a lost update.
    std::string expected = HeaderOr(req, "If-Match");
    if (expected.empty() && body.contains("etag") && body["etag"].is_string())
      expected = body["etag"].get<std::string>();
    if (!expected.empty() && expected != "*" && expected != it->second["etag"]) {
      return ArmError(res, 409, "Conflict",
                      fmt::format("The etag '{}' does not match the incident's current etag; "
                                  "read the incident again and retry.",
                                  expected));
    }
  }
  const Json& stored = StoreIncidentLocked(name, body["properties"], created, std::nullopt);
  SendJson(res, created ? 201 : 200, IncidentResource(stored));
}

void SentinelEmulator::GetIncident(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(state_mutex());
  auto it = incidents_.find(ToLower(req.matches[4].str()));
  if (it == incidents_.end()) {
    return ArmError(res, 404, "NotFound",
                    fmt::format("Incident '{}' was not found.", req.matches[4].str()));
  }
  SendJson(res, 200, IncidentResource(it->second));
}

void SentinelEmulator::ListIncidents(const httplib::Request& req, httplib::Response& res) {
  std::optional<TimePoint> after;
  bool inclusive = false;
  const std::string filter = req.get_param_value("$filter");
  if (!filter.empty()) {
    static const std::regex kCreatedSince(
        R"(\s*properties/createdTimeUtc\s+(gt|ge)\s+'?([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)'?\s*)");
    std::smatch m;
    if (!std::regex_match(filter, m, kCreatedSince) || !(after = ParseIso8601(m[2].str()))) {
      return ArmError(res, 400, "BadRequest",
                      "The $filter '" + filter +
                          "' is not supported by this emulator; use "
                          "'properties/createdTimeUtc gt <ISO-8601 time>' (or ge).");
    }
    inclusive = m[1] == "ge";
  }
  bool descending = false;
  const std::string orderby = req.get_param_value("$orderby");
  if (!orderby.empty()) {
    static const std::regex kOrder(R"(\s*properties/createdTimeUtc(\s+(asc|desc))?\s*)");
    std::smatch m;
    if (!std::regex_match(orderby, m, kOrder)) {
      return ArmError(res, 400, "BadRequest",
                      "The $orderby '" + orderby +
                          "' is not supported; use 'properties/createdTimeUtc asc' or 'desc'.");
    }
    descending = m[2] == "desc";
  }
  size_t top = static_cast<size_t>(options_.page_size);
  size_t offset = 0;
  try {
    if (req.has_param("$top")) {
      const long long t = std::stoll(req.get_param_value("$top"));
      if (t < 1 || t > 1000) throw std::out_of_range("top");
      top = static_cast<size_t>(t);
    }
    if (req.has_param("$skipToken")) offset = std::stoull(req.get_param_value("$skipToken"));
  } catch (const std::exception&) {
    return ArmError(res, 400, "BadRequest",
                    "$top must be an integer from 1 to 1000 and $skipToken a token from a "
                    "nextLink.");
  }
  std::vector<Json> items;
  {
    std::lock_guard lock(state_mutex());
    for (const auto& [_, stored] : incidents_) {
      if (after) {
        const TimePoint created = CreatedOf(stored);
        if (inclusive ? created < *after : created <= *after) continue;
      }
      items.push_back(IncidentResource(stored));
    }
  }
  std::stable_sort(items.begin(), items.end(), [&](const Json& a, const Json& b) {
    const auto ka = std::pair(CreatedOf(a), a["name"].get<std::string>());
    const auto kb = std::pair(CreatedOf(b), b["name"].get<std::string>());
    return descending ? kb < ka : ka < kb;
  });
  auto next = [&](const std::string& token) {
    std::vector<std::pair<std::string, std::string>> q = {
        {"api-version", req.get_param_value("api-version")}};
    if (!filter.empty()) q.emplace_back("$filter", filter);
    if (!orderby.empty()) q.emplace_back("$orderby", orderby);
    q.emplace_back("$top", std::to_string(top));
    q.emplace_back("$skipToken", token);
    return BaseUrl() + WorkspacePath() + "/incidents?" + http::EncodeQuery(q);
  };
  SendJson(res, 200, Page(items, offset, top, next));
}

Json SentinelEmulator::CommentResourceLocked(const std::string& incident, const std::string& name,
                                             const std::string& message,
                                             const std::string& author) {
  const std::string now = FormatIso8601Millis(clock().Now());
  return {{"id", IncidentPath(incident) + "/comments/" + name},
          {"name", name},
          {"type", "Microsoft.SecurityInsights/incidents/comments"},
          {"etag", NextEtagLocked()},
          {"properties",
           {{"message", message},
            {"createdTimeUtc", now},
            {"lastModifiedTimeUtc", now},
            {"author",
             {{"objectId", author},
              {"email", nullptr},
              {"userPrincipalName", nullptr},
              {"name", author}}}}}};
}

void SentinelEmulator::PutComment(const httplib::Request& req, httplib::Response& res) {
  const std::string incident = req.matches[4].str();
  const std::string name = req.matches[5].str();
  if (!std::regex_match(name, kGuid))
    return ArmError(res, 400, "BadRequest", "The comment id '" + name + "' must be a GUID.");
  Json body;
  try {
    body = Json::parse(req.body);
  } catch (const Json::exception&) {
    return ArmError(res, 400, "BadRequest", "The request body is not valid JSON.");
  }
  const Json* message = nullptr;
  if (body.is_object() && body.contains("properties") && body["properties"].is_object() &&
      body["properties"].contains("message") && body["properties"]["message"].is_string() &&
      !body["properties"]["message"].get_ref<const std::string&>().empty()) {
    message = &body["properties"]["message"];
  }
  if (!message) return ArmError(res, 400, "BadRequest", "The message field is required.");
  const size_t chars = CharacterCount(message->get_ref<const std::string&>());
  if (chars > kMaxCommentCharacters) {
    return ArmError(res, 400, "BadRequest",
                    fmt::format("The comment message has {} characters; at most {} are allowed.",
                                chars, kMaxCommentCharacters));
  }
  std::string author = "unknown";
  if (auto claims = tokens_.ClaimsOf(BearerToken(HeaderOr(req, "Authorization")))) {
    author = claims->value("appid", author);
  }
  std::lock_guard lock(state_mutex());
  auto it = incidents_.find(ToLower(incident));
  if (it == incidents_.end()) {
    return ArmError(res, 404, "NotFound", fmt::format("Incident '{}' was not found.", incident));
  }
  Json& comments = it->second["comments"];
  for (auto& c : comments) {
    if (IEquals(c["name"].get<std::string>(), name)) {
      c["properties"]["message"] = *message;
      c["properties"]["lastModifiedTimeUtc"] = FormatIso8601Millis(clock().Now());
      c["etag"] = NextEtagLocked();
      return SendJson(res, 200, c);
    }
  }
  comments.push_back(CommentResourceLocked(incident, name, message->get<std::string>(), author));
  Json& count = it->second["properties"]["additionalData"]["commentsCount"];
  count = count.get<int64_t>() + 1;
  SendJson(res, 201, comments.back());
}

void SentinelEmulator::ListComments(const httplib::Request& req, httplib::Response& res) {
  const std::string incident = req.matches[4].str();
  size_t top = static_cast<size_t>(options_.page_size);
  size_t offset = 0;
  try {
    if (req.has_param("$top")) {
      const long long t = std::stoll(req.get_param_value("$top"));
      if (t < 1 || t > 1000) throw std::out_of_range("top");
      top = static_cast<size_t>(t);
    }
    if (req.has_param("$skipToken")) offset = std::stoull(req.get_param_value("$skipToken"));
  } catch (const std::exception&) {
    return ArmError(res, 400, "BadRequest",
                    "$top must be an integer from 1 to 1000 and $skipToken a token from a "
                    "nextLink.");
  }
  std::vector<Json> items;
  {
    std::lock_guard lock(state_mutex());
    auto it = incidents_.find(ToLower(incident));
    if (it == incidents_.end()) {
      return ArmError(res, 404, "NotFound", fmt::format("Incident '{}' was not found.", incident));
    }
    for (const auto& c : it->second["comments"]) items.push_back(c);
  }
  auto next = [&](const std::string& token) {
    return BaseUrl() + IncidentPath(incident) + "/comments?" +
           http::EncodeQuery({{"api-version", req.get_param_value("api-version")},
                              {"$top", std::to_string(top)},
                              {"$skipToken", token}});
  };
  SendJson(res, 200, Page(items, offset, top, next));
}

void SentinelEmulator::ListEntities(const httplib::Request& req, httplib::Response& res) {
  const std::string incident = req.matches[4].str();
  if (!req.body.empty()) {
    Json body;
    try {
      body = Json::parse(req.body);
    } catch (const Json::exception&) {
      return ArmError(res, 400, "BadRequest", "The request body is not valid JSON.");
    }
    if (!body.is_object() || !body.empty()) {
      return AssertionFailed(req, res, "the entities list takes an empty body, got " + req.body);
    }
  }
  std::lock_guard lock(state_mutex());
  auto it = incidents_.find(ToLower(incident));
  if (it == incidents_.end()) {
    return ArmError(res, 404, "NotFound", fmt::format("Incident '{}' was not found.", incident));
  }
  std::map<std::string, int> counts;
  for (const auto& e : it->second["entities"]) ++counts[e["kind"].get<std::string>()];
  Json meta = Json::array();
  for (const auto& [kind, n] : counts) meta.push_back({{"entityKind", kind}, {"count", n}});
  SendJson(res, 200, {{"entities", it->second["entities"]}, {"metaData", meta}});
}

std::optional<std::string> SentinelEmulator::SeedIncidentsLocked(const Json& incidents) {
  if (!incidents.is_array()) return "sentinel.incidents must be an array";
  for (const auto& i : incidents) {
    if (!i.is_object() || !i.contains("name") || !i["name"].is_string() ||
        !std::regex_match(i["name"].get<std::string>(), kGuid))
      return "each seeded incident needs a GUID \"name\"";
    for (const auto& [key, _] : i.items()) {
      if (key != "name" && key != "properties" && key != "entities" && key != "comments")
        return "unknown key '" + key +
               "' in a seeded incident (known: name, properties, "
               "entities, comments)";
    }
    if (auto problem = IncidentProblem(i); !problem.empty())
      return "incident " + i["name"].get<std::string>() + ": " + problem;
    if (auto c = i["properties"].find("createdTimeUtc");
        c != i["properties"].end() && (!c->is_string() || !ParseIso8601(c->get<std::string>())))
      return "incident " + i["name"].get<std::string>() + ": createdTimeUtc must be ISO-8601";
    for (const auto& e : i.value("entities", Json::array())) {
      if (auto problem = EntityProblem(e); !problem.empty())
        return "incident " + i["name"].get<std::string>() + ": " + problem;
    }
    for (const auto& c : i.value("comments", Json::array())) {
      if (!c.is_object() || !c.contains("properties") || !c["properties"].is_object() ||
          !c["properties"].contains("message") || !c["properties"]["message"].is_string())
        return "incident " + i["name"].get<std::string>() +
               ": a seeded comment needs properties.message";
    }
  }
  for (const auto& i : incidents) {
    const std::string name = i["name"].get<std::string>();
    std::optional<TimePoint> created_at;
    if (i["properties"].contains("createdTimeUtc"))
      created_at = ParseIso8601(i["properties"]["createdTimeUtc"].get<std::string>());
    const bool created = !incidents_.count(ToLower(name));
    Json& stored = StoreIncidentLocked(name, i["properties"], created, created_at);
    Json entities = Json::array();
    int n = 0;
    for (Json e : i.value("entities", Json::array())) {
      // Entity ids as the service forms them: a GUID under the workspace's Entities.
      const std::string id =
          e.value("name", fmt::format("{:08x}-0000-4000-8000-{:012x}",
                                      stored["properties"]["incidentNumber"].get<int64_t>(), ++n));
      e["id"] = WorkspacePath() + "/Entities/" + id;
      e["name"] = id;
      e["type"] = "Microsoft.SecurityInsights/Entities";
      entities.push_back(std::move(e));
    }
    stored["entities"] = std::move(entities);
    for (const auto& c : i.value("comments", Json::array())) {
      const std::string cid =
          c.value("name", fmt::format("{:08x}-0000-4000-8000-{:012x}", next_etag_, 0));
      stored["comments"].push_back(
          CommentResourceLocked(name, cid, c["properties"]["message"].get<std::string>(), "seed"));
    }
    stored["properties"]["additionalData"]["commentsCount"] = stored["comments"].size();
  }
  return std::nullopt;
}

Json SentinelEmulator::IncidentsStateLocked() const {
  std::vector<const Json*> all;
  for (const auto& [_, stored] : incidents_) all.push_back(&stored);
  std::stable_sort(all.begin(), all.end(), [](const Json* a, const Json* b) {
    return (*a)["properties"]["incidentNumber"].get<int64_t>() <
           (*b)["properties"]["incidentNumber"].get<int64_t>();
  });
  Json out = Json::array();
  for (const Json* s : all) out.push_back(*s);
  return out;
}

}  // namespace vc::emu
