// What the Defender pipeline needs from the configuration, in its own units. The app maps the
// user's settings (original app-setting names included) onto this.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace vc::defender {

// One automated response action (response_actions.hpp), as configured.
struct ResponseActionSetting {
  bool enabled = false;
  std::vector<std::string> verdicts;  // lower-case VMRay verdicts
  std::string scope;                  // IsolationType / ScanType where the action has one
  std::string comment;                // first words of the comment MDE shows
};

struct DefenderOptions {
  // Alert intake.
  Millis poll_interval{60'000};
  Millis initial_lookback{60 * 60'000};
  Millis overlap{10 * 60'000};  // alerts can surface in the API after their creation time
  int page_size = 500;
  std::vector<std::string> severities;         // empty: all
  std::vector<std::string> statuses;           // empty: all
  std::vector<std::string> detection_sources;  // empty: all
  std::vector<std::string> title_filters;      // FilterAlertTitleWith; empty: all titles
  bool fetch_quarantined_files = true;

  // VMRay.
  int resubmit_after_days = 7;  // 0: always collect and submit again
  Millis analysis_poll_interval{30'000};
  Millis analysis_timeout{30 * 60'000};
  int analysis_duration_seconds = 120;
  std::string submission_comment =
      "Sample from VMRay Analyzer - Microsoft Defender for Endpoint Connector";
  int64_t max_file_size = 200LL * 1024 * 1024;
  bool add_alert_id_tags = false;
  // Submission budget per UTC day and cap on our analyses in flight (submission_budget.hpp);
  // 0: unlimited.
  int64_t daily_submission_budget = 0;
  int64_t max_concurrent_analyses = 0;

  // Live Response.
  Millis lr_poll_interval{30'000};
  Millis busy_wait{120'000};  // MachineAvailabilityTimeout / MachineAvailabilityRetry
  int lr_max_attempts = 5;    // MachineAvailabilityRetry: collections started per job
  Millis lr_give_up{24 * 3600'000LL};
  int max_concurrent_sessions = 25;
  int max_files_per_session = 5;  // files of one device in one Live Response session

  // Quarantine collection (antivirus alerts), active when a storage account is configured.
  bool quarantine_encrypted = true;   // upload the encrypted resource file, decrypt here
  Millis upload_window{30 * 60'000};  // SAS lifetime; a session still queued is asked again

  Millis wait_for_sample_poll{60'000};

  // MDE indicators from the IOCs (indicator_writer.hpp): queued when the sample or one of its
  // children has a verdict in `indicator_verdicts` (lower-case VMRay verdicts).
  bool indicators = false;
  std::vector<std::string> indicator_verdicts = {"malicious"};

  // The parent incident through Microsoft Graph (incident_writer.hpp): verdict and threat-name
  // tags (AddTagsToIncident), the comment once per incident (AddCommentsToIncident).
  bool incident_tags = false;
  bool incident_comments = false;

  // Automated response actions on the alert's device, indexed by mde::ResponseAction (in the
  // order they run: investigation package, antivirus scan, stop and quarantine, isolate).
  std::array<ResponseActionSetting, 4> response_actions;

  // Write-backs besides the comment.
  bool mail_notifications = false;  // one e-mail per settled alert (mail_notification.hpp)  //
                                    // safety net; waiters are woken when the owner finishes
};

}  // namespace vc::defender
