// The durable state of one (alert, file) job: what the alert said, and how far collection and
// analysis got. Stored as JSON in the job row and rewritten by every step.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::defender {

inline constexpr std::string_view kJobKind = "defender_evidence";

struct EvidencePayload {
  // From the alert.
  std::string alert_id;
  std::string incident_id;
  std::string alert_title;
  std::string machine_id;
  std::string computer_dns_name;
  std::string detection_source;
  std::string threat_name;
  std::string threat_family;
  std::string sha256;
  std::string sha1;
  std::string file_name;
  std::string file_path;
  std::string url;          // URL evidence: analysed as a URL, no file, no collection
  std::string skip_reason;  // set for alerts without usable file evidence
  int priority = 0;         // from the alert's severity (SeverityPriority): Live Response order

  // Progress.
  bool owner = false;  // this job collects and submits for the sha256
  int claims = 0;      // times this job tried to take over the sample
  std::optional<TimePoint> collection_started_at;
  int busy_checks = 0;
  int lr_attempts = 0;    // sessions started (or adopted after a crash)
  int expired_links = 0;  // of those, cancelled unrun because their upload link expired
  int not_run = 0;        // of those, shared sessions that stopped at another file's command first
  // Sessions that count against MachineAvailabilityRetry: one the device never ran does not.
  int CountedAttempts() const { return lr_attempts - expired_links - not_run; }
  // Set while the file rides in a session another job started (and holds the slot of).
  int64_t rides_with = 0;
  std::string action_id;
  int command_index = 0;  // index of the GetFile or RunScript command in the machine action
  // Quarantine collection (antivirus alerts): the blob the device uploads to, named before the
  // session starts (write-ahead), and the id the script echoes back in its outcome line.
  std::string blob_name;
  std::string collection_request_id;
  bool encrypted_upload = false;  // the blob holds a quarantine resource file, not the file
  // The classified outcome of the last collection attempt (collected, device_offline, ...).
  std::string outcome;
  std::optional<TimePoint> action_started_at;
  bool accept_cached = false;  // VMRay reused a cached analysis: take it whatever its age
  std::optional<TimePoint> submit_started_at;  // write-ahead mark before a submission
  int64_t submission_id = 0;
  int64_t sample_id = 0;
  std::optional<TimePoint> submitted_at;
  // The result reported on the alert (for the status record and the e-mail).
  std::string verdict;
  std::string report_url;

  // Operator replays (`vmray-connector replay`): how many were asked for, and per write-back
  // (by its first idempotency key) the key it was last queued under, so a replay writes only
  // what changed since then.
  int replays = 0;
  std::map<std::string, std::string> last_write;

  Json ToJson() const;
  std::string Dump() const { return ToJson().dump(); }
  static Result<EvidencePayload> Parse(const std::string& text);

  bool IsAv() const { return detection_source == "WindowsDefenderAv"; }
  bool IsUrl() const { return !url.empty(); }
  // What the alert comment and the write-back key name: the SHA-256, or the URL's hash.
  std::string EvidenceKey() const;
  std::string FullPath() const;
  // The alert's facts without any progress: what a replay of a job that never got a VMRay
  // sample starts again from.
  EvidencePayload Restarted() const;
};

}  // namespace vc::defender
