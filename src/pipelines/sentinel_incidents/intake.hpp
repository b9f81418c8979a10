// How incidents enter the URL detonation: the poller lists the incidents created since a store
// cursor (re-reading an overlap, since incidents can surface late), and the webhook takes one
// incident pushed by an automation rule. Both queue the same job, keyed
// "sentinel-incident:<incident name>", so an incident seen twice (polled and pushed, or read
// again in the overlap) is worked on once. The cursor moves only after the page of incidents
// is in the store.
#pragma once

#include <string>

#include "clients/sentinel/incidents.hpp"
#include "core/json.hpp"
#include "pipelines/sentinel_incidents/options.hpp"
#include "store/store.hpp"

namespace vc::sentinel_incidents {

struct IncidentPollStats {
  int incidents = 0;
  int queued = 0;
  int already_known = 0;
};

// The answer to a webhook call: HTTP status and JSON body.
struct WebhookAnswer {
  int status = 202;
  Json body;
};

// Largest webhook body accepted: an incident object with its alerts and entities is a few
// tens of kilobytes.
inline constexpr size_t kMaxWebhookBody = 1024 * 1024;

std::string IncidentJobKey(const std::string& incident_name);

class IncidentIntake {
 public:
  IncidentIntake(IncidentOptions options, sentinel::IncidentsClient& client, store::Store& store,
                 Clock& clock);

  // One poll: list, queue, then move the cursor to the newest creation time seen.
  Result<IncidentPollStats> PollOnce();
  // Queues the job for one incident; false when it was already queued.
  Result<bool> Queue(const std::string& incident_name, const std::string& arm_id, int64_t number);
  // The webhook: `body` as the automation rule sends it. Accepted shapes: the Sentinel incident
  // trigger's {"object": {"id", "name", "properties": {"incidentNumber"}}, ...}, an incident
  // resource {"id", "name", "properties"}, or {"incidentArmId": "<ARM id>"}. The ARM id must name
  // an incident of the configured workspace.
  WebhookAnswer AcceptWebhook(const std::string& content_type, const std::string& body);

 private:
  IncidentOptions options_;
  sentinel::IncidentsClient& client_;
  store::Store& store_;
  Clock& clock_;
};

}  // namespace vc::sentinel_incidents
