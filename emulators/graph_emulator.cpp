#include "graph_emulator.hpp"

#include <fmt/format.h>

#include <charconv>
#include <set>
#include <stdexcept>

#include "core/random.hpp"
#include "core/time.hpp"

namespace vc::emu {
namespace {

constexpr std::string_view kCommentType = "microsoft.graph.security.alertComment";
// What PATCH /security/incidents/{id} may change (Graph v1.0 incident resource).
const std::set<std::string> kUpdatable = {"assignedTo",       "classification", "customTags",
                                          "description",      "determination",  "displayName",
                                          "resolvingComment", "status",         "summary"};

std::optional<int64_t> ParseId(const std::string& text) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 0) return std::nullopt;
  return id;
}

}  // namespace

GraphEmulator::Options GraphEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (!j.is_object()) throw std::invalid_argument("graph options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "audiences") {
      throw std::invalid_argument("unknown graph option '" + key + "' (known: audiences)");
    }
    if (!value.is_array() || value.empty()) {
      throw std::invalid_argument("graph.audiences must be a non-empty array of strings");
    }
    o.audiences.clear();
    for (const auto& a : value) {
      if (!a.is_string()) throw std::invalid_argument("graph.audiences must hold strings");
      std::string aud = a.get<std::string>();
      while (!aud.empty() && aud.back() == '/') aud.pop_back();
      o.audiences.push_back(aud);
    }
  }
  return o;
}

GraphEmulator::GraphEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("graph", clock), options_(std::move(options)), tokens_(tokens) {}

void GraphEmulator::SetIncidentLookup(IncidentLookup lookup) {
  std::lock_guard lock(state_mutex());
  lookup_ = std::move(lookup);
}

void GraphEmulator::RegisterRoutes() {
  const std::string incidents = R"(/v1\.0/security/incidents(/.*)?)";
  auto handle = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  const std::string send_mail = R"(/v1\.0/users/[^/]+/sendMail)";
  auto mail = [this](const httplib::Request& req, httplib::Response& res) {
    HandleSendMail(req, res);
  };
  for (const char* method : {"GET", "POST", "PATCH", "DELETE", "PUT"}) {
    On(method, incidents, handle);
    On(method, send_mail, mail);
  }
}

void GraphEmulator::Handle(const httplib::Request& req, httplib::Response& res) {
  constexpr std::string_view kPrefix = "/v1.0/security/incidents/";
  if (req.path.rfind(kPrefix, 0) != 0) {
    return AssertionFailed(req, res,
                           "listing incidents is not emulated; ask for one: GET "
                           "/v1.0/security/incidents/{id}");
  }
  std::string rest = req.path.substr(kPrefix.size());
  bool comments = false;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/comments") {
      return AssertionFailed(req, res,
                             fmt::format("no route {} {} in the Graph emulator (emulated: "
                                         "security/incidents/{{id}} and .../comments)",
                                         req.method, req.path));
    }
    comments = true;
    rest.resize(slash);
  }
  const char* allowed = comments ? "POST" : "GET, PATCH";
  if ((comments && req.method != "POST") ||
      (!comments && req.method != "GET" && req.method != "PATCH")) {
    return AssertionFailed(
        req, res,
        fmt::format("method {} is not allowed on {} (allowed: {})", req.method, req.path, allowed));
  }
  if (!req.params.empty()) {
    return AssertionFailed(req, res,
                           fmt::format("unexpected query parameter '{}' (this route takes none)",
                                       req.params.begin()->first));
  }
  std::optional<Json> body;
  if (req.method != "GET") {
    const std::string type = HeaderOr(req, "Content-Type");
    if (type.rfind("application/json", 0) != 0) {
      return AssertionFailed(req, res, "Content-Type must be application/json, was '" + type + "'");
    }
    try {
      body = Json::parse(req.body);
    } catch (const Json::exception&) {
      return SendError(res, 400, "BadRequest", "The request body is not valid JSON.");
    }
    if (!body->is_object()) {
      return AssertionFailed(req, res, "the request body must be a JSON object");
    }
  }

  std::lock_guard lock(state_mutex());
  if (!Authenticate(req, res)) return;
  // Reading takes either incident permission, writing (tags, comments) the ReadWrite one. (Each
  // role list lives in its own call: an initializer_list picked by ?: would dangle.)
  const bool permitted =
      req.method == "GET"
          ? RequireRole(req, res, {"SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"},
                        "Forbidden",
                        "Missing application roles. API required roles: "
                        "SecurityIncident.Read.All or SecurityIncident.ReadWrite.All.")
          : RequireRole(req, res, {"SecurityIncident.ReadWrite.All"}, "Forbidden",
                        "Missing application roles. API required roles: "
                        "SecurityIncident.ReadWrite.All.");
  if (!permitted) return;
  auto id = ParseId(rest);
  Json* incident = id ? Find(*id) : nullptr;
  if (!incident) {
    return SendError(res, 404, "NotFound",
                     fmt::format("Incident '{}' was not found in the tenant.", rest));
  }
  const std::string now = FormatIso8601(clock().Now());

  if (req.method == "GET") return SendJson(res, 200, IncidentBody(*incident));

  if (req.method == "PATCH") {
    for (const auto& [key, value] : body->items()) {
      if (!kUpdatable.count(key)) {
        return AssertionFailed(req, res,
                               fmt::format("'{}' is not an updatable incident property", key));
      }
    }
    if (body->contains("customTags")) {
      const Json& tags = (*body)["customTags"];
      if (!tags.is_array()) {
        return SendError(res, 400, "BadRequest", "customTags must be an array of strings.");
      }
      for (const auto& t : tags) {
        if (!t.is_string()) {
          return SendError(res, 400, "BadRequest", "customTags must be an array of strings.");
        }
      }
    }
    for (const auto& [key, value] : body->items()) (*incident)[key] = value;
    (*incident)["lastUpdateDateTime"] = now;
    return SendJson(res, 200, IncidentBody(*incident));
  }

  // POST .../comments
  const std::string type = body->value("@odata.type", "");
  if (type != kCommentType && type != "#" + std::string(kCommentType)) {
    return AssertionFailed(
        req, res, fmt::format("@odata.type must be \"{}\", was \"{}\"", kCommentType, type));
  }
  if (!(*body)["comment"].is_string() || (*body)["comment"].get<std::string>().empty()) {
    return SendError(res, 400, "BadRequest", "comment must be a non-empty string.");
  }
  std::string author = "app";
  if (auto claims = tokens_.ClaimsOf(BearerToken(HeaderOr(req, "Authorization")))) {
    author = claims->value("appid", author);
  }
  (*incident)["comments"].push_back({{"@odata.type", "#" + std::string(kCommentType)},
                                     {"comment", (*body)["comment"]},
                                     {"createdByDisplayName", author},
                                     {"createdDateTime", now}});
  (*incident)["lastUpdateDateTime"] = now;
  SendJson(res, 200,
           {{"@odata.context",
             BaseUrl() + "/v1.0/$metadata#Collection(microsoft.graph.security.alertComment)"},
            {"value", (*incident)["comments"]}});
}

bool GraphEmulator::Authenticate(const httplib::Request& req, httplib::Response& res) {
  const std::string token = BearerToken(HeaderOr(req, "Authorization"));
  std::string problem;
  if (token.empty()) {
    problem = "Access token is empty.";
  } else {
    switch (tokens_.Validate(token, options_.audiences, clock().Now())) {
      case TokenRegistry::Check::kValid:
        return true;
      case TokenRegistry::Check::kUnknown:
        problem = "Invalid access token.";
        break;
      case TokenRegistry::Check::kExpired:
        problem = "Lifetime validation failed, the token is expired.";
        break;
      case TokenRegistry::Check::kWrongAudience:
        problem = fmt::format("Invalid audience: request the token with scope {}/.default.",
                              options_.audiences.front());
        break;
    }
  }
  res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  SendError(res, 401, "InvalidAuthenticationToken", problem);
  return false;
}

bool GraphEmulator::RequireRole(const httplib::Request& req, httplib::Response& res,
                                std::initializer_list<std::string_view> accepted,
                                std::string_view code, const std::string& message) {
  const auto roles = tokens_.RolesOf(BearerToken(HeaderOr(req, "Authorization")));
  for (const auto& role : roles) {
    for (auto want : accepted) {
      if (role == want) return true;
    }
  }
  SendError(res, 403, code, message);
  return false;
}

Json* GraphEmulator::Find(int64_t id) {
  auto it = incidents_.find(id);
  if (it != incidents_.end()) return &it->second;
  if (!lookup_ || !lookup_(id)) return nullptr;
  return &incidents_.emplace(id, NewIncident(id)).first->second;
}

Json GraphEmulator::NewIncident(int64_t id) const {
  const std::string now = FormatIso8601(clock().Now());
  return {{"id", std::to_string(id)},
          {"displayName", fmt::format("Incident {}", id)},
          {"status", "active"},
          {"severity", "high"},
          {"classification", "unknown"},
          {"determination", "unknown"},
          {"assignedTo", nullptr},
          {"createdDateTime", now},
          {"lastUpdateDateTime", now},
          {"incidentWebUrl", fmt::format("https://security.microsoft.com/incidents/{}", id)},
          {"customTags", Json::array()},
          {"comments", Json::array()}};
}

Json GraphEmulator::IncidentBody(const Json& incident) const {
  Json out = incident;
  out["@odata.context"] = BaseUrl() + "/v1.0/$metadata#security/incidents/$entity";
  out["@odata.type"] = "#microsoft.graph.security.incident";
  return out;
}

void GraphEmulator::SendError(httplib::Response& res, int status, std::string_view code,
                              const std::string& message) const {
  res.status = status;
  res.set_content(
      Json{{"error",
            {{"code", code},
             {"message", message},
             {"innerError",
              {{"date", FormatIso8601(clock().Now())}, {"request-id", DefaultRandom().Uuid4()}}}}}}
          .dump(),
      "application/json");
}

std::string GraphEmulator::FaultBody(int status) const {
  std::string_view code = status == 429   ? "TooManyRequests"
                          : status == 503 ? "ServiceUnavailable"
                          : status >= 500 ? "InternalServerError"
                                          : "BadRequest";
  return Json{{"error", {{"code", code}, {"message", fmt::format("injected {}", status)}}}}.dump();
}

std::optional<std::string> GraphEmulator::Seed(const Json& seed) {
  if (!seed.is_object()) return "graph seed must be a JSON object";
  std::map<int64_t, Json> seeded;
  for (const auto& [key, value] : seed.items()) {
    if (key != "incidents") return "unknown graph seed key '" + key + "' (known: incidents)";
    if (!value.is_array()) return "graph.incidents must be an array";
    for (const auto& i : value) {
      if (!i.is_object() || !i.contains("id") || !i["id"].is_number_integer()) {
        return "each graph incident needs a numeric id";
      }
      Json incident = NewIncident(i["id"].get<int64_t>());
      for (const auto& [k, v] : i.items()) {
        if (k == "id") continue;
        if ((k == "customTags" || k == "comments") && !v.is_array()) {
          return "graph incident " + k + " must be an array";
        }
        if (k == "comments") {
          Json comments = Json::array();
          for (const auto& c : v) {
            if (!c.is_object() || !c.contains("comment") || !c["comment"].is_string())
              return "each graph incident comment needs a comment text";
            Json full = {{"@odata.type", "#" + std::string(kCommentType)},
                         {"createdByDisplayName", "analyst@contoso.com"},
                         {"createdDateTime", FormatIso8601(clock().Now())}};
            full.update(c);
            comments.push_back(std::move(full));
          }
          incident["comments"] = std::move(comments);
        } else {
          incident[k] = v;
        }
      }
      seeded[i["id"].get<int64_t>()] = std::move(incident);
    }
  }
  std::lock_guard lock(state_mutex());
  for (auto& [id, incident] : seeded) incidents_[id] = std::move(incident);
  return std::nullopt;
}

Json GraphEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  Json incidents = Json::array();
  for (const auto& [_, i] : incidents_) incidents.push_back(i);
  return {{"incidents", incidents}, {"sent_mail", sent_mail_}};
}

void GraphEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  incidents_.clear();
  sent_mail_ = Json::array();
}

}  // namespace vc::emu
