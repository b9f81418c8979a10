// Microsoft Defender for Endpoint objects the connector reads. Alerts and evidence come from
// outside, so every field we act on is checked; everything else is ignored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::mde {

struct Evidence {
  std::string entity_type;  // File, Process, Url, ...
  std::string sha1;
  std::string sha256;
  std::string file_name;
  std::string file_path;  // directory only; the full path is file_path + "\" + file_name
  std::string url;
  std::string detection_status;
};

struct AlertComment {
  std::string comment;
  std::string created_by;
  std::optional<TimePoint> created_time;
};

struct Alert {
  std::string id;
  std::string incident_id;  // a number in MDE; kept as text
  std::string title;
  std::string severity;
  std::string status;
  std::string detection_source;
  std::string category;
  std::string threat_name;
  std::string threat_family_name;
  std::string machine_id;
  std::string computer_dns_name;
  std::optional<TimePoint> alert_creation_time;
  std::optional<TimePoint> last_update_time;
  std::vector<AlertComment> comments;
  std::vector<Evidence> evidence;
};

struct Machine {
  std::string id;
  std::string computer_dns_name;
  std::string health_status;
  std::string os_platform;
  std::optional<TimePoint> last_seen;
};

struct CommandResult {
  int index = 0;
  std::string type;            // GetFile, RunScript, PutFile
  std::string command_status;  // Created, Completed, Failed
  std::vector<std::string> errors;
};

struct MachineAction {
  std::string id;
  std::string type;    // LiveResponse, Isolate, ...
  std::string status;  // Pending, InProgress, Succeeded, Failed, TimeOut, Cancelled
  std::string machine_id;
  std::string scope;         // Full/Selective (isolation), Full/Quick (scan); empty otherwise
  std::string related_file;  // relatedFileInfo.fileIdentifier (stop and quarantine)
  std::string requestor;
  std::string requestor_comment;
  std::optional<TimePoint> created;
  std::optional<TimePoint> last_update;
  std::vector<CommandResult> commands;

  bool IsActive() const { return status == "Pending" || status == "InProgress"; }
  bool IsFinal() const { return !IsActive(); }
};

Result<Alert> ParseAlert(const Json& j, const std::string& path);
Result<Machine> ParseMachine(const Json& j, const std::string& path);
Result<MachineAction> ParseMachineAction(const Json& j, const std::string& path);

}  // namespace vc::mde
