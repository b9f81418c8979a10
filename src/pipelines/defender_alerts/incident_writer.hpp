// Write-backs on the alert's parent incident through Microsoft Graph (AddTagsToIncident,
// AddCommentsToIncident of the original 1.1.x), queued by EvidenceJob::Report next to the alert
// comment and delivered from the outbox:
//
// - "incident_tags", one per (incident, alert, evidence): the incident carries one tag with the
//   most severe VMRay verdict among its alerts' files (a store cursor per incident remembers the
//   most severe so far) and one tag per threat name, sanitized as VMRay tags are. Graph replaces
//   customTags as a whole, so each delivery reads the incident, keeps every tag others set,
//   replaces only our older verdict tag and writes the merged list; a repeat writes the same.
// - "incident_comment", one per incident (key incident-comment:<incidentId>): the first alert's
//   comment text, headed by a marker line. Before posting, the writer looks for the marker among
//   the incident's comments, so a crash between "posted" and "recorded" never posts twice.
//
// Neither completes the job: the alert comment does. A dry run logs them (jobs::DryRunDelivery).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "clients/graph/incidents.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kIncidentTagsKind = "incident_tags";
inline constexpr std::string_view kIncidentCommentKind = "incident_comment";
// Our verdict tag is this prefix and the verdict ("VMRay Verdict: Malicious").
inline constexpr std::string_view kVerdictTagPrefix = "VMRay Verdict: ";
// The first line of our incident comments: how a repeat recognises one already posted.
inline constexpr std::string_view kIncidentCommentMarker = "VMRay Connector enrichment";

// Verdict severity for the incident tag: malicious > suspicious > clean > anything else (0).
int VerdictRank(const std::string& verdict);
// "malicious" -> "VMRay Verdict: Malicious"; empty for verdicts that rank 0.
std::string VerdictTag(const std::string& verdict);
// The threat names of the sample and its children, sanitized like VMRay tags, each once.
std::vector<std::string> ThreatTags(const SampleResult& result);
// Our tags merged into `existing`: others' tags stay in their order, any older verdict tag of
// ours gives way to `verdict_tag` (if non-empty), threat tags not there yet are appended.
std::vector<std::string> MergeIncidentTags(const std::vector<std::string>& existing,
                                           const std::string& verdict_tag,
                                           const std::vector<std::string>& threat_tags);
// The incident comment: the marker line naming the alert, then the alert comment.
std::string IncidentCommentText(const std::string& alert_id, const std::string& alert_comment);

store::NewOutboxItem IncidentTagsItem(const std::string& incident_id, const std::string& alert_id,
                                      const std::string& evidence_key, const SampleResult& result);
store::NewOutboxItem IncidentCommentItem(const std::string& incident_id,
                                         const std::string& alert_id,
                                         const std::string& alert_comment);
// The store cursor holding the most severe verdict seen so far for an incident.
std::string IncidentVerdictCursor(const std::string& incident_id);

class IncidentTagWriter final : public jobs::OutboxHandler {
 public:
  IncidentTagWriter(store::Store& store, graph::IncidentClient& graph)
      : store_(store), graph_(graph) {}
  std::string kind() const override { return std::string(kIncidentTagsKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  store::Store& store_;
  graph::IncidentClient& graph_;
  // Read-merge-write of one incident's tags and its verdict cursor must not interleave.
  std::mutex mu_;
};

class IncidentCommentWriter final : public jobs::OutboxHandler {
 public:
  explicit IncidentCommentWriter(graph::IncidentClient& graph) : graph_(graph) {}
  std::string kind() const override { return std::string(kIncidentCommentKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  graph::IncidentClient& graph_;
};

}  // namespace vc::defender
