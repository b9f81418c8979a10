// Doctor row "sentinel: incidents": the incident URL detonation reads incidents, their
// entities and comments and writes comments through the Sentinel management API. Listing one
// incident proves the token, the workspace path (subscription, resource group, workspace name)
// and a role that can read incidents; writing comments needs Microsoft Sentinel Contributor,
// which no read-only call shows.
#include <fmt/format.h>

#include "app/doctor_context.hpp"
#include "app/version.hpp"
#include "clients/sentinel/incidents.hpp"

namespace vc::app {

void CheckSentinelIncidents(DoctorContext& ctx) {
  const auto& s = ctx.config().sentinel_incidents;
  if (!s.enabled) {
    return ctx.Emit("sentinel: incidents", CheckOutcome::kSkipped,
                    "the incident URL detonation is off (sentinel_incidents.enabled)",
                    "nothing to do unless you turn it on");
  }
  sentinel::IncidentsOptions o;
  o.base_url = s.management_base_url;
  o.subscription_id = s.subscription_id;
  o.resource_group = s.resource_group;
  o.workspace_name = s.workspace_name;
  sentinel::IncidentsClient client(
      o, ctx.Pipeline(kUserAgent, std::make_shared<auth::EntraCredential>(
                                      ctx.Tokens(), "https://management.azure.com")));
  auto listed = client.ListFirstIncidents(1);
  if (!listed) {
    return ctx.Emit("sentinel: incidents", CheckOutcome::kProblem,
                    fmt::format("listing incidents of workspace {} failed: {}", s.workspace_name,
                                listed.error().message),
                    "check sentinel_incidents.subscription_id, resource_group and workspace_name, "
                    "and give the app registration Microsoft Sentinel Contributor on the "
                    "workspace");
  }
  ctx.Emit("sentinel: incidents", CheckOutcome::kOk,
           fmt::format("incidents of workspace {} readable ({} listed); posting comments needs "
                       "Microsoft Sentinel Contributor, which a read cannot show",
                       s.workspace_name, listed->size()));
}

}  // namespace vc::app
