// The jobs of one incident.
//
// "sentinel_incident" (key sentinel-incident:<name>), one step: read the incident (its number
// labels the indicators), list its entities, decide each Url entity (url_filter.hpp), queue one
// "sentinel_incident_url" job per URL to submit (at most max_urls_per_incident, each URL once),
// or, when the incident had URLs and all were left out, the single explanatory comment.
//
// "sentinel_incident_url" (key sentinel-url:<name>:<sha256 of the URL>):
//   new        -> submit the URL to VMRay (tag url_submission_logic_app), analysing
//   analysing  -> poll the submission (a later next_attempt_at, never a sleeping thread); when
//                 finished read the sample and its VTIs and queue the comment (key
//                 sentinel-incident-comment:<name>:<submission id>) and, for a verdict other
//                 than clean, the IOC upload (sentinel-incident-iocs:<name>:<sample id>)
// A URL VMRay refuses or does not finish in time gets a comment saying why.
#pragma once

#include "clients/sentinel/incidents.hpp"
#include "clients/vmray/client.hpp"
#include "jobs/handler.hpp"
#include "pipelines/sentinel_incidents/options.hpp"
#include "store/store.hpp"

namespace vc::sentinel_incidents {

std::string UrlJobKey(const std::string& incident_name, const std::string& url);

class IncidentJob final : public jobs::JobHandler {
 public:
  IncidentJob(IncidentOptions options, sentinel::IncidentsClient& client, store::Store& store)
      : options_(std::move(options)), client_(client), store_(store) {}
  std::string kind() const override { return std::string(kIncidentJobKind); }
  jobs::StepResult Step(const jobs::StepContext& ctx) override;

 private:
  IncidentOptions options_;
  sentinel::IncidentsClient& client_;
  store::Store& store_;
};

class UrlJob final : public jobs::JobHandler {
 public:
  UrlJob(IncidentOptions options, vmray::Client& vmray)
      : options_(std::move(options)), vmray_(vmray) {}
  std::string kind() const override { return std::string(kUrlJobKind); }
  jobs::StepResult Step(const jobs::StepContext& ctx) override;

 private:
  jobs::StepResult OnNew(const jobs::StepContext& ctx, Json& p);
  jobs::StepResult OnAnalysing(const jobs::StepContext& ctx, Json& p);
  jobs::StepResult Failed(const Json& p, const std::string& reason);

  IncidentOptions options_;
  vmray::Client& vmray_;
};

// The comment write-back: {"incident", "comment_id", "html", "marker"}. Reads the incident's
// comments first and posts only when none carries the marker; the comment id is derived from
// the outbox key, so even a repeated PUT updates the same comment.
class CommentWriter final : public jobs::OutboxHandler {
 public:
  explicit CommentWriter(sentinel::IncidentsClient& client) : client_(client) {}
  std::string kind() const override { return std::string(kCommentKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  sentinel::IncidentsClient& client_;
};

store::NewOutboxItem CommentItem(const std::string& key, const std::string& incident,
                                 const std::string& html, const std::string& marker,
                                 const std::string& job_reason);

}  // namespace vc::sentinel_incidents
