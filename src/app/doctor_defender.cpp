// The Defender rows: an Entra token for the MDE resource (and which part of the app registration
// is wrong when there is none), the application permissions in the token's `roles` claim against
// what the enabled features need, and read-only probes of the API routes those features call.
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "app/doctor_context.hpp"
#include "app/jwt_claims.hpp"
#include "clients/defender/client.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

constexpr const char* kTokenCheck = "entra: token for MDE";

bool Has(const std::vector<std::string>& roles, std::string_view role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string GrantFix(std::string_view role, const config::Config& c) {
  return fmt::format(
      "in the Azure portal open App registrations > {} > API permissions > Add a permission > APIs "
      "my organization uses > WindowsDefenderATP > Application permissions, add {}, then Grant "
      "admin consent",
      c.azure.client_id, role);
}

// The AADSTS number in an Entra error text, or 0.
int AadstsCode(const std::string& text) {
  static const std::regex kCode("AADSTS([0-9]+)");
  std::smatch m;
  if (!std::regex_search(text, m, kCode)) return 0;
  return std::stoi(m[1].str());
}

// Names the part of the app registration Entra objected to, with what to change.
void EmitTokenProblem(DoctorContext& ctx, const Error& e) {
  const auto& c = ctx.config();
  const int code = AadstsCode(e.message);
  std::string what;
  std::string fix;
  if (e.http_status == 0) {
    what = fmt::format("cannot reach the Entra token endpoint {}: {}", c.azure.authority_host,
                       e.message);
    fix = "check azure.authority_host, http.proxy and that outbound HTTPS to it is allowed";
  } else if (code == 90002 || code == 900023 || code == 90013) {
    what = fmt::format("Entra does not know the tenant {} (AADSTS{})", c.azure.tenant_id, code);
    fix = "set AzureTenantID to the Directory (tenant) ID on the app registration's Overview page";
  } else if (e.service_code == "unauthorized_client" || code == 700016) {
    what = fmt::format("there is no application {} in tenant {} (AADSTS{})", c.azure.client_id,
                       c.azure.tenant_id, code);
    fix =
        "set AzureClientID to the Application (client) ID on the app registration's Overview "
        "page, in the tenant named by AzureTenantID";
  } else if (code == 7000222) {
    what = fmt::format("the client secret of application {} has expired (AADSTS7000222)",
                       c.azure.client_id);
    fix =
        "add a new client secret under Certificates & secrets and set AzureClientSecret to its "
        "Value";
  } else if (e.service_code == "invalid_client") {
    what = fmt::format("Entra rejected the client secret of application {} (AADSTS{})",
                       c.azure.client_id, code);
    fix =
        "set AzureClientSecret to the secret's Value (not its Secret ID) from Certificates & "
        "secrets, or add a new secret there";
  } else if (e.service_code == "invalid_resource" || e.service_code == "invalid_scope") {
    what = fmt::format("Entra does not know the resource {} (AADSTS{})", c.defender.resource, code);
    fix =
        "set defender.resource to the WindowsDefenderATP application ID URI "
        "(https://api.securitycenter.microsoft.com) and check azure.authority_host for "
        "sovereign clouds";
  } else {
    what = fmt::format("Entra refused the token request (HTTP {}): {}", e.http_status, e.message);
    fix = "check AzureTenantID, AzureClientID, AzureClientSecret and azure.authority_host";
  }
  ctx.Emit(kTokenCheck, CheckOutcome::kProblem, what, fix);
}

struct RoleNeed {
  std::string_view role;
  std::string_view why;
  bool needed;
  std::string_view off;  // why it is not needed
};

void CheckRoles(DoctorContext& ctx, const std::string& token) {
  const auto& c = ctx.config();
  auto payload = JwtPayload(token);
  if (!payload) {
    return ctx.Emit("mde: permissions", CheckOutcome::kSkipped,
                    fmt::format("cannot read the roles claim: {}", payload.error().message),
                    "rely on the API probes below; a 403 there names the missing permission");
  }
  const std::vector<std::string> roles = RolesClaim(*payload);
  const std::string granted = fmt::format("granted: {}", JoinRoles(roles));

  // Alerts: ReadWrite covers reading; Read alone lets intake work and every comment fail.
  if (Has(roles, "Alert.ReadWrite.All")) {
    ctx.Emit("mde: Alert.ReadWrite.All", CheckOutcome::kOk, "granted: read alerts, write comments");
  } else if (Has(roles, "Alert.Read.All")) {
    ctx.Emit("mde: Alert.ReadWrite.All", CheckOutcome::kProblem,
             fmt::format("only Alert.Read.All is granted: alerts are read, but the verdict "
                         "comment cannot be written ({})",
                         granted),
             GrantFix("Alert.ReadWrite.All", c));
  } else {
    ctx.Emit(
        "mde: Alert.ReadWrite.All", CheckOutcome::kProblem,
        fmt::format("missing: needed to read alerts and write the verdict comment ({})", granted),
        GrantFix("Alert.ReadWrite.All", c));
  }

  const auto& actions = c.defender.response_actions;
  const RoleNeed needs[] = {
      {"Machine.Read.All", "to read devices and Live Response actions", true, ""},
      {"Machine.LiveResponse", "to collect files from devices with Live Response", true, ""},
      {"Library.Manage", "to upload the quarantine script to the Live Response library",
       c.defender.fetch_quarantined_files, "FetchQuarantinedFiles is off"},
      {"Ti.ReadWrite.All", "to import, update and evict the MDE indicators made from VMRay IOCs",
       c.defender.indicators.enabled, "CreateIndicatorsInDefender is off"},
      {"Machine.Isolate", "to isolate devices (response action)", actions.isolate,
       "defender.response_actions.isolate is off"},
      {"Machine.Scan", "to start antivirus scans (response action)", actions.antivirus_scan,
       "defender.response_actions.antivirus_scan is off"},
      {"Machine.StopAndQuarantine", "to stop and quarantine files (response action)",
       actions.stop_and_quarantine, "defender.response_actions.stop_and_quarantine is off"},
      {"Machine.CollectForensics", "to collect investigation packages (response action)",
       actions.investigation_package, "defender.response_actions.investigation_package is off"},
  };
  for (const auto& n : needs) {
    const std::string check = fmt::format("mde: {}", n.role);
    bool ok = Has(roles, n.role);
    // Machine.ReadWrite.All includes reading; Ti.ReadWrite covers the indicators the app itself
    // created, which are the only ones the connector touches.
    if (n.role == "Machine.Read.All") ok = ok || Has(roles, "Machine.ReadWrite.All");
    if (n.role == "Ti.ReadWrite.All") ok = ok || Has(roles, "Ti.ReadWrite");
    if (!n.needed) {
      ctx.Emit(check, CheckOutcome::kSkipped, fmt::format("not needed: {}", n.off),
               fmt::format("grant it before turning on the feature that needs it ({})", n.why));
    } else if (ok) {
      ctx.Emit(check, CheckOutcome::kOk, fmt::format("granted: {}", n.why));
    } else {
      ctx.Emit(check, CheckOutcome::kProblem,
               fmt::format("missing: needed {} ({})", n.why, granted), GrantFix(n.role, c));
    }
  }
}

// One live read-only call; `role` is the permission a 403 points at.
void EmitProbe(DoctorContext& ctx, const std::string& check, const Status& status,
               std::string_view role, const std::string& ok_detail) {
  const auto& c = ctx.config();
  if (status) return ctx.Emit(check, CheckOutcome::kOk, ok_detail);
  const Error& e = status.error();
  if (e.http_status == 0 && e.service != "entra") {
    return ctx.Emit(check, CheckOutcome::kProblem,
                    fmt::format("cannot reach {}: {}", c.defender.api_base_url, e.message),
                    "check defender.api_base_url, http.proxy, http.ca_file and that outbound "
                    "HTTPS to it is allowed");
  }
  switch (e.code) {
    case ErrorCode::kPermissionDenied:
      return ctx.Emit(
          check, CheckOutcome::kProblem, fmt::format("answered HTTP 403: {}", e.message),
          fmt::format("{}; if the token already carries it, admin consent may be missing or the "
                      "tenant may lack a Defender for Endpoint licence",
                      GrantFix(role, c)));
    case ErrorCode::kUnauthenticated:
      return ctx.Emit(check, CheckOutcome::kProblem,
                      fmt::format("answered HTTP {}: {}", e.http_status, e.message),
                      "set defender.resource to the audience the API at defender.api_base_url "
                      "accepts (https://api.securitycenter.microsoft.com)");
    default:
      return ctx.Emit(check, CheckOutcome::kProblem,
                      fmt::format("answered HTTP {}: {}", e.http_status, e.message),
                      "retry later; if it persists, check the service health of Microsoft "
                      "Defender in the Microsoft 365 admin center");
  }
}

void ProbeApi(DoctorContext& ctx) {
  const auto& c = ctx.config();
  auto credential = std::make_shared<auth::EntraCredential>(ctx.Tokens(), c.defender.resource);
  mde::Client client(c.defender.api_base_url, ctx.Pipeline(kMdeUserAgent, credential),
                     ctx.Pipeline(kMdeUserAgent, nullptr));

  EmitProbe(ctx, "mde: GET /api/alerts", client.HealthCheck(), "Alert.ReadWrite.All",
            "answered 200");

  auto machines = client.ListMachines(1);
  if (!machines && machines.error().code == ErrorCode::kNotFound) {
    // Documented: a tenant without recently seen devices answers 404 to the list.
    ctx.Emit("mde: GET /api/machines", CheckOutcome::kOk,
             "answered 404 (no recently seen devices); the permission works");
  } else {
    EmitProbe(ctx, "mde: GET /api/machines", machines ? Ok() : Status(machines.error()),
              "Machine.Read.All", "answered 200");
  }

  if (!c.defender.fetch_quarantined_files) {
    ctx.Emit("mde: GET /api/libraryfiles", CheckOutcome::kSkipped,
             "not needed: FetchQuarantinedFiles is off",
             "nothing to do unless you turn FetchQuarantinedFiles on");
  } else {
    auto files = client.ListLibraryFiles();
    EmitProbe(ctx, "mde: GET /api/libraryfiles", files ? Ok() : Status(files.error()),
              "Library.Manage",
              files ? fmt::format("answered 200 ({} file{} in the library)", files->size(),
                                  files->size() == 1 ? "" : "s")
                    : "");
  }
}

}  // namespace

void CheckDefender(DoctorContext& ctx) {
  const auto& c = ctx.config();
  if (!c.defender.enabled) {
    for (const char* check : {kTokenCheck, "mde: permissions", "mde: API probes"}) {
      ctx.Emit(check, CheckOutcome::kSkipped, "Defender alert enrichment is off",
               "nothing to do unless you set defender.enabled = true");
    }
    return;
  }
  auto token = ctx.Tokens()->Token(c.defender.resource);
  if (!token) {
    EmitTokenProblem(ctx, token.error());
    ctx.Emit("mde: permissions", CheckOutcome::kSkipped, "no token to read them from",
             "fix the Entra row first");
    ctx.Emit("mde: API probes", CheckOutcome::kSkipped, "no token to call the API with",
             "fix the Entra row first");
  } else {
    ctx.Emit(kTokenCheck, CheckOutcome::kOk,
             fmt::format("issued for {} to application {} in tenant {}", c.defender.resource,
                         c.azure.client_id, c.azure.tenant_id));
    CheckRoles(ctx, *token);
    ProbeApi(ctx);
  }

  // Whether Live Response (and unsigned scripts) are on is a tenant setting no read-only API
  // shows; the first collection would tell, too late for a diagnosis.
  const bool scripts = c.defender.fetch_quarantined_files;
  ctx.Emit(
      "mde: Live Response settings", CheckOutcome::kSkipped,
      scripts ? "not detectable with read-only calls: Live Response and unsigned script execution "
                "must be on"
              : "not detectable with read-only calls: Live Response must be on",
      fmt::format("in the Microsoft Defender portal open Settings > Endpoints > Advanced features "
                  "and turn on Live Response{}; docs/runbook.md explains why",
                  scripts ? " and Live Response unsigned script execution (the quarantine "
                            "script is not signed)"
                          : ""));
}

}  // namespace vc::app
