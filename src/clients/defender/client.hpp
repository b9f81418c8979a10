// Microsoft Defender for Endpoint API client: alerts, machines, machine actions and Live
// Response. Calls go through the shared pipeline (Entra token, MDE rate limiters, retry);
// MDE's {"error":{"code","message","target"}} becomes a vc::Error with the target as request id.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clients/defender/models.hpp"
#include "http/pipeline.hpp"

namespace vc::mde {

struct AlertQuery {
  std::optional<TimePoint> created_since;      // alertCreationTime ge ...
  std::vector<std::string> statuses;           // status in (...)
  std::vector<std::string> severities;         // severity in (...)
  std::vector<std::string> detection_sources;  // detectionSource in (...)
  int top = 500;
  int skip = 0;
  bool expand_evidence = true;
};

struct LiveResponseCommand {
  std::string type;  // GetFile, RunScript, PutFile
  std::vector<std::pair<std::string, std::string>> params;
};

// One page of alerts. An alert MDE sends in a shape we cannot read is reported on its own so
// one bad record never blocks the alerts around it.
struct AlertPage {
  std::vector<Alert> alerts;
  struct Rejected {
    std::string id;  // when the record had a readable id
    Error error;
  };
  std::vector<Rejected> rejected;
  size_t records = 0;  // alerts + rejected: tells a full page from the last one
};

// An entry of the Live Response library (GET /api/libraryfiles).
struct LibraryFile {
  std::string file_name;
  std::string sha256;
  std::string description;
  bool has_parameters = false;
  std::string created_by;
  std::optional<TimePoint> last_updated;
};

class Client {
 public:
  // `download` is a pipeline *without* auth, for the storage links Live Response hands out:
  // an MDE token must never be sent to them.
  Client(std::string base_url, std::shared_ptr<http::Pipeline> api,
         std::shared_ptr<http::Pipeline> download);

  // Strict: any unreadable alert fails the call.
  Result<std::vector<Alert>> ListAlerts(const AlertQuery& query);
  // Tolerant: unreadable alerts are returned in `rejected`.
  Result<AlertPage> ListAlertPage(const AlertQuery& query);
  Result<Alert> GetAlert(const std::string& alert_id);
  Status AddAlertComment(const std::string& alert_id, const std::string& comment);
  Result<Machine> GetMachine(const std::string& machine_id);
  // GET /api/machines?$top=N. MDE answers 404 when the tenant has no recent machines; that comes
  // back as a kNotFound error.
  Result<std::vector<Machine>> ListMachines(int top);
  // The Live Response library (Library.Manage).
  Result<std::vector<LibraryFile>> ListLibraryFiles();
  // POST /api/libraryfiles (multipart). `replace` sends OverrideIfExists=true; without it an
  // existing file of that name is a kConflict error.
  Result<LibraryFile> UploadLibraryFile(const std::string& file_name, const std::string& content,
                                        const std::string& description,
                                        const std::string& parameters_description, bool replace);
  Result<std::vector<MachineAction>> ListMachineActions(const std::string& machine_id);
  Result<MachineAction> GetMachineAction(const std::string& action_id);
  Result<MachineAction> CancelMachineAction(const std::string& action_id,
                                            const std::string& comment);
  // `slot_taken`: the caller took the liveresponse.run limiter token itself.
  Result<MachineAction> RunLiveResponse(const std::string& machine_id,
                                        const std::vector<LiveResponseCommand>& commands,
                                        const std::string& comment, bool slot_taken = false);
  Result<std::string> LiveResponseResultLink(const std::string& action_id, int command_index);
  // Downloads a result link's bytes (a gzip for GetFile) with a size ceiling.
  Result<std::string> Download(const std::string& url);
  // Read-only check of URL, token and Alert.Read permission.
  Status HealthCheck();

  // A request to base URL + `path` and its JSON answer with MDE's errors mapped; for the
  // endpoint groups kept in files of their own (indicators.hpp).
  http::Request Make(http::Method method, const std::string& path,
                     const std::string& operation) const;
  Result<Json> Call(http::Request request, const std::string& what);
  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  std::shared_ptr<http::Pipeline> api_;
  std::shared_ptr<http::Pipeline> download_;
};

// An OData string literal: single quotes doubled, the whole value quoted.
std::string ODataString(std::string_view value);

}  // namespace vc::mde
