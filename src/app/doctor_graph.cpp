// The Microsoft Graph rows: the application permissions in the roles claim of a Graph token
// against what the enabled Graph features need (incident tags and comments, sendMail). The
// doctor stays read-only, so no incident is touched and no mail is sent to find out.
#include <fmt/format.h>

#include <algorithm>

#include "app/doctor_context.hpp"
#include "app/jwt_claims.hpp"

namespace vc::app {
namespace {

std::string GraphGrantFix(std::string_view role, const config::Config& c) {
  return fmt::format(
      "in the Azure portal open App registrations > {} > API permissions > Add a permission > "
      "Microsoft Graph > Application permissions, add {}, then Grant admin consent",
      c.azure.client_id, role);
}

}  // namespace

void CheckGraph(DoctorContext& ctx) {
  const auto& c = ctx.config();
  struct Need {
    std::string_view check;  // short enough for the table's first column
    std::string_view role;
    std::string_view why;
    bool needed;
    std::string_view off;
  };
  const bool incidents =
      c.defender.enabled && (c.defender.incidents.tags || c.defender.incidents.comments);
  const Need needs[] = {
      {"graph: incidents", "SecurityIncident.ReadWrite.All",
       "to tag and comment the alert's parent incident", incidents,
       "AddTagsToIncident and AddCommentsToIncident are off"},
      {"graph: Mail.Send", "Mail.Send", "to send the alert mails through Graph sendMail",
       c.mail.enabled && c.mail.transport == "graph", "mail.transport is not graph"},
  };
  if (std::none_of(std::begin(needs), std::end(needs), [](const Need& n) { return n.needed; })) {
    return ctx.Emit("graph: permissions", CheckOutcome::kSkipped,
                    "no Graph feature is on (incident tags and comments, mail through Graph)",
                    "nothing to do");
  }
  const std::string& resource = c.defender.incidents.graph_resource;
  auto token = ctx.Tokens()->Token(resource);
  if (!token) {
    return ctx.Emit("graph: permissions", CheckOutcome::kProblem,
                    fmt::format("no token for {}: {}", resource, token.error().message),
                    "check AzureTenantID, AzureClientID, AzureClientSecret and "
                    "defender.incidents.graph_resource (https://graph.microsoft.com)");
  }
  auto payload = JwtPayload(*token);
  if (!payload) {
    return ctx.Emit("graph: permissions", CheckOutcome::kSkipped,
                    fmt::format("cannot read the roles claim: {}", payload.error().message),
                    "a missing permission shows as HTTP 403 in the log of the first write-back");
  }
  const std::vector<std::string> roles = RolesClaim(*payload);
  for (const auto& n : needs) {
    const std::string check(n.check);
    if (!n.needed) {
      ctx.Emit(check, CheckOutcome::kSkipped, fmt::format("{} not needed: {}", n.role, n.off),
               fmt::format("grant it before turning on the feature that needs it ({})", n.why));
    } else if (std::find(roles.begin(), roles.end(), n.role) != roles.end()) {
      ctx.Emit(check, CheckOutcome::kOk, fmt::format("{} granted: {}", n.role, n.why));
    } else {
      ctx.Emit(check, CheckOutcome::kProblem,
               fmt::format("{} missing: needed {} (granted: {})", n.role, n.why, JoinRoles(roles)),
               GraphGrantFix(n.role, c));
    }
  }
}

}  // namespace vc::app
