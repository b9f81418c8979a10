#include "entra_emulator.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "core/random.hpp"
#include "core/time.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

constexpr std::string_view kDefaultSuffix = "/.default";

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Entra's own error text layout: "AADSTS<n>: <text>\r\nTrace ID: ...\r\nCorrelation ID: ...".
Json EntraErrorBody(const std::string& error, int aadsts, const std::string& description,
                    TimePoint now) {
  const std::string trace_id = DefaultRandom().Uuid4();
  const std::string correlation_id = DefaultRandom().Uuid4();
  std::string timestamp = FormatIso8601(now);  // "YYYY-MM-DDTHH:MM:SSZ"
  timestamp[10] = ' ';
  return {{"error", error},
          {"error_description",
           fmt::format("AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                       aadsts, description, trace_id, correlation_id, timestamp)},
          {"error_codes", Json::array({aadsts})},
          {"timestamp", timestamp},
          {"trace_id", trace_id},
          {"correlation_id", correlation_id},
          {"error_uri", fmt::format("https://login.microsoftonline.com/error?code={}", aadsts)}};
}

// The base class logs request bodies (/_emulator/calls); a client secret must never be in
// them. Handlers run before the logger, so the value is blanked in place in the request.
void RedactSecret(const httplib::Request& req) {
  auto& body = const_cast<std::string&>(req.body);
  constexpr std::string_view kKey = "client_secret=";
  size_t pos = 0;
  while ((pos = body.find(kKey, pos)) != std::string::npos) {
    if (pos == 0 || body[pos - 1] == '&') {
      const size_t start = pos + kKey.size();
      const size_t end = std::min(body.find('&', start), body.size());
      body.replace(start, end - start, "[redacted]");
    }
    pos += kKey.size();
  }
}

// A list of WindowsDefenderATP permission names, or why not.
std::optional<std::string> ReadRoles(const Json& value, std::vector<std::string>& roles) {
  if (!value.is_array()) return "granted_roles must be an array of permission names";
  std::vector<std::string> out;
  for (const auto& r : value) {
    if (!r.is_string() || !mde::OneOf(r.get<std::string>(), mde::kPermissions)) {
      return fmt::format("granted_roles: {} is not a WindowsDefenderATP permission (known: {})",
                         r.dump(), mde::JoinSet(mde::kPermissions));
    }
    out.push_back(r.get<std::string>());
  }
  roles = std::move(out);
  return std::nullopt;
}

// A list of Microsoft Graph application permissions the connector could use, or why not.
std::optional<std::string> ReadGraphRoles(const Json& value, std::vector<std::string>& roles) {
  static constexpr std::string_view kGraphPermissions[] = {"SecurityIncident.Read.All",
                                                           "SecurityIncident.ReadWrite.All",
                                                           "Mail.Send",
                                                           "Mail.Read",
                                                           "Mail.ReadBasic.All",
                                                           "Mail.ReadWrite"};
  if (!value.is_array()) return "graph_granted_roles must be an array of permission names";
  std::vector<std::string> out;
  for (const auto& r : value) {
    if (!r.is_string() || !mde::OneOf(r.get<std::string>(), kGraphPermissions)) {
      return fmt::format(
          "graph_granted_roles: {} is not a Graph permission the emulator knows "
          "(known: {})",
          r.dump(), mde::JoinSet(kGraphPermissions));
    }
    out.push_back(r.get<std::string>());
  }
  roles = std::move(out);
  return std::nullopt;
}

constexpr std::string_view kGraphResource = "https://graph.microsoft.com";

}  // namespace

EntraEmulator::Options EntraEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (!j.is_object()) throw std::invalid_argument("entra options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    auto text = [&](std::string& target) {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        throw std::invalid_argument("entra." + key + " must be a non-empty string");
      }
      target = value.get<std::string>();
    };
    if (key == "tenant_id") {
      text(o.tenant_id);
    } else if (key == "client_id") {
      text(o.client_id);
    } else if (key == "client_secret") {
      text(o.client_secret);
    } else if (key == "token_lifetime_seconds") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1) {
        throw std::invalid_argument("entra.token_lifetime_seconds must be a positive integer");
      }
      o.token_lifetime_seconds = value.get<int>();
    } else if (key == "resources") {
      if (!value.is_array() || value.empty()) {
        throw std::invalid_argument("entra.resources must be a non-empty array of strings");
      }
      o.resources.clear();
      for (const auto& r : value) {
        if (!r.is_string()) throw std::invalid_argument("entra.resources must hold strings");
        o.resources.push_back(StripTrailingSlashes(r.get<std::string>()));
      }
    } else if (key == "granted_roles") {
      if (auto problem = ReadRoles(value, o.granted_roles)) {
        throw std::invalid_argument("entra." + *problem);
      }
    } else if (key == "graph_granted_roles") {
      if (auto problem = ReadGraphRoles(value, o.graph_granted_roles)) {
        throw std::invalid_argument("entra." + *problem);
      }
    } else {
      throw std::invalid_argument("unknown entra option '" + key +
                                  "' (known: tenant_id, client_id, client_secret, "
                                  "token_lifetime_seconds, resources, granted_roles, "
                                  "graph_granted_roles)");
    }
  }
  return o;
}

EntraEmulator::EntraEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("entra", clock),
      options_(std::move(options)),
      tokens_(tokens),
      client_secret_(options_.client_secret),
      granted_roles_(options_.granted_roles),
      graph_granted_roles_(options_.graph_granted_roles) {}

void EntraEmulator::RegisterRoutes() {
  On("POST", R"(/([^/]+)/oauth2/token)",
     [this](const httplib::Request& req, httplib::Response& res) { HandleToken(req, res, false); });
  On("POST", R"(/([^/]+)/oauth2/v2\.0/token)",
     [this](const httplib::Request& req, httplib::Response& res) { HandleToken(req, res, true); });
}

void EntraEmulator::SendEntraError(httplib::Response& res, int status, const std::string& error,
                                   int aadsts, const std::string& description) {
  ++errors_[error];
  res.status = status;
  res.set_header("Cache-Control", "no-store, no-cache");
  res.set_content(EntraErrorBody(error, aadsts, description, clock().Now()).dump(),
                  "application/json; charset=utf-8");
}

std::string EntraEmulator::FaultBody(int status) const {
  if (status == 400) {
    return EntraErrorBody("invalid_request", 900144, "Injected bad request.", clock().Now()).dump();
  }
  if (status == 401) {
    return EntraErrorBody("invalid_client", 7000215, "Injected authentication failure.",
                          clock().Now())
        .dump();
  }
  return EntraErrorBody("temporarily_unavailable", 90033,
                        "A transient error has occurred. Please try again.", clock().Now())
      .dump();
}

void EntraEmulator::HandleToken(const httplib::Request& req, httplib::Response& res, bool v2) {
  if (req.target.find('?') != std::string::npos) {
    return AssertionFailed(req, res,
                           "the token endpoint takes its parameters in the form body, not in the "
                           "URL (a client secret in a URL ends up in proxy and server logs)");
  }
  const std::string content_type = HeaderOr(req, "Content-Type");
  if (ToLower(content_type).rfind("application/x-www-form-urlencoded", 0) != 0) {
    return AssertionFailed(req, res,
                           "token requests need Content-Type: application/x-www-form-urlencoded, "
                           "got '" +
                               content_type + "'");
  }
  httplib::Params form;
  httplib::detail::parse_query_text(req.body, form);
  RedactSecret(req);
  auto field = [&](const char* name) -> std::optional<std::string> {
    auto it = form.find(name);
    if (it == form.end()) return std::nullopt;
    return it->second;
  };
  const std::string tenant = req.matches[1];

  std::lock_guard lock(state_mutex());
  if (!IEquals(tenant, options_.tenant_id)) {
    return SendEntraError(
        res, 400, "invalid_request", 90002,
        fmt::format("Tenant '{}' not found. Check to make sure you have the correct tenant ID and "
                    "are signing into the correct cloud.",
                    tenant));
  }
  auto missing = [&](const char* name) {
    SendEntraError(
        res, 400, "invalid_request", 900144,
        fmt::format("The request body must contain the following parameter: '{}'.", name));
  };
  const auto grant_type = field("grant_type");
  if (!grant_type) return missing("grant_type");
  if (*grant_type != "client_credentials") {
    return SendEntraError(res, 400, "unsupported_grant_type", 70003,
                          fmt::format("The app requested an unsupported grant type '{}'. This "
                                      "endpoint supports client_credentials.",
                                      *grant_type));
  }
  const auto client_id = field("client_id");
  if (!client_id) return missing("client_id");
  if (!IEquals(*client_id, options_.client_id)) {
    return SendEntraError(
        res, 400, "unauthorized_client", 700016,
        fmt::format("Application with identifier '{}' was not found in the directory '{}'. This "
                    "can happen if the application has not been installed by the administrator "
                    "of the tenant or consented to by any user in the tenant. You may have sent "
                    "your authentication request to the wrong tenant.",
                    *client_id, options_.tenant_id));
  }
  const auto secret = field("client_secret");
  if (!secret) {
    return SendEntraError(res, 400, "invalid_client", 7000218,
                          "The request body must contain the following parameter: "
                          "'client_assertion' or 'client_secret'.");
  }
  if (*secret != client_secret_) {
    return SendEntraError(
        res, 401, "invalid_client", 7000215,
        fmt::format("Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    "app '{}'.",
                    options_.client_id));
  }

  std::string requested;
  if (v2) {
    const auto scope = field("scope");
    if (!scope) return missing("scope");
    if (scope->find(' ') != std::string::npos || scope->size() <= kDefaultSuffix.size() ||
        scope->compare(scope->size() - kDefaultSuffix.size(), kDefaultSuffix.size(),
                       kDefaultSuffix) != 0) {
      return SendEntraError(
          res, 400, "invalid_scope", 70011,
          fmt::format("The provided request must include a 'scope' input parameter. The provided "
                      "value for the input parameter 'scope' is not valid. The scope {} is not "
                      "valid. Client credential flows must have a scope value with /.default "
                      "suffixed to the resource identifier (application ID URI).",
                      *scope));
    }
    requested = scope->substr(0, scope->size() - kDefaultSuffix.size());
  } else {
    const auto resource = field("resource");
    if (!resource) return missing("resource");
    requested = *resource;
  }
  const std::string wanted = StripTrailingSlashes(requested);
  const std::string* audience = nullptr;
  for (const auto& r : options_.resources) {
    if (IEquals(r, wanted)) audience = &r;
  }
  if (!audience) {
    return SendEntraError(
        res, 400, "invalid_resource", 500011,
        fmt::format("The resource principal named {} was not found in the tenant named {}. This "
                    "can happen if the application has not been installed by the administrator "
                    "of the tenant or consented to by any user in the tenant. You might have "
                    "sent your authentication request to the wrong tenant.",
                    requested, options_.tenant_id));
  }

  const TimePoint now = clock().Now();
  const auto lifetime = std::chrono::seconds(options_.token_lifetime_seconds);
  // The claims of an app-only access token; v1-format, as the WindowsDefenderATP API accepts.
  Json claims = {{"iss", fmt::format("https://sts.windows.net/{}/", options_.tenant_id)},
                 {"tid", options_.tenant_id},
                 {"appid", options_.client_id},
                 {"appidacr", "1"},
                 {"idtyp", "app"},
                 {"ver", "1.0"}};
  // Entra leaves the claim out when no role is granted.
  for (const auto& r : options_.defender_resources) {
    if (IEquals(r, *audience) && !granted_roles_.empty()) claims["roles"] = granted_roles_;
  }
  if (IEquals(kGraphResource, *audience) && !graph_granted_roles_.empty())
    claims["roles"] = graph_granted_roles_;
  const std::string token = tokens_.Issue(*audience, lifetime, now, claims);
  issued_tokens_.insert(token);
  ++issued_per_resource_[*audience];
  Json body;
  if (v2) {
    body = {{"token_type", "Bearer"},
            {"expires_in", options_.token_lifetime_seconds},
            {"ext_expires_in", options_.token_lifetime_seconds},
            {"access_token", token}};
  } else {
    // The v1 endpoint writes every number as a string.
    const auto unix_now =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    body = {{"token_type", "Bearer"},
            {"expires_in", std::to_string(options_.token_lifetime_seconds)},
            {"ext_expires_in", std::to_string(options_.token_lifetime_seconds)},
            {"expires_on", std::to_string(unix_now + options_.token_lifetime_seconds)},
            {"not_before", std::to_string(unix_now)},
            {"resource", requested},
            {"access_token", token}};
  }
  res.set_header("Cache-Control", "no-store, no-cache");
  res.set_header("Pragma", "no-cache");
  res.status = 200;
  res.set_content(body.dump(), "application/json; charset=utf-8");
}

Json EntraEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  return {{"tenant_id", options_.tenant_id},       {"client_id", options_.client_id},
          {"granted_roles", granted_roles_},       {"graph_granted_roles", graph_granted_roles_},
          {"tokens_issued", issued_per_resource_}, {"errors", errors_}};
}

std::optional<std::string> EntraEmulator::Seed(const Json& seed) {
  if (!seed.is_object()) return "the Entra seed must be a JSON object";
  std::optional<std::vector<std::string>> roles;
  std::optional<std::vector<std::string>> graph_roles;
  for (const auto& [key, value] : seed.items()) {
    if (key == "expire_all_tokens") {
      if (!value.is_boolean()) return "expire_all_tokens must be true or false";
    } else if (key == "client_secret") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        return "client_secret must be a non-empty string";
      }
    } else if (key == "granted_roles") {
      roles.emplace();
      if (auto problem = ReadRoles(value, *roles)) return problem;
    } else if (key == "graph_granted_roles") {
      graph_roles.emplace();
      if (auto problem = ReadGraphRoles(value, *graph_roles)) return problem;
    } else {
      return "unknown Entra seed key '" + key +
             "' (known: expire_all_tokens, client_secret, granted_roles, graph_granted_roles)";
    }
  }
  std::lock_guard lock(state_mutex());
  if (seed.value("expire_all_tokens", false)) tokens_.ExpireAll();
  if (seed.contains("client_secret")) client_secret_ = seed["client_secret"].get<std::string>();
  if (roles) granted_roles_ = std::move(*roles);
  if (graph_roles) graph_granted_roles_ = std::move(*graph_roles);
  return std::nullopt;
}

void EntraEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  client_secret_ = options_.client_secret;
  granted_roles_ = options_.granted_roles;
  graph_granted_roles_ = options_.graph_granted_roles;
  issued_per_resource_.clear();
  errors_.clear();
}

std::optional<std::string> EntraEmulator::ClientIdOf(const std::string& token) const {
  std::lock_guard lock(state_mutex());
  if (issued_tokens_.count(token)) return options_.client_id;
  return std::nullopt;
}

}  // namespace vc::emu
