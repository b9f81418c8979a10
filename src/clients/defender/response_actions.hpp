// MDE response actions on a device (the standalone connector's automated response, <= 1.1):
// isolate, antivirus scan, stop and quarantine a file, collect an investigation package. Each is
// one POST /api/machines/{id}/<action> with a JSON body whose property names are case-sensitive;
// MDE answers 201 Created with the new MachineAction (type, scope, status Pending). The calls go
// through the shared pipeline like every MDE call; errors come back mapped, with the permission
// the app registration lacks named in a 403.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "clients/defender/client.hpp"

namespace vc::mde {

// In the order the original fired them for one device: investigation package first (evidence
// before anything changes), isolation last (it cuts the device off).
enum class ResponseAction {
  kCollectInvestigationPackage = 0,
  kAntivirusScan = 1,
  kStopAndQuarantineFile = 2,
  kIsolate = 3,
};
inline constexpr ResponseAction kResponseActionOrder[] = {
    ResponseAction::kCollectInvestigationPackage, ResponseAction::kAntivirusScan,
    ResponseAction::kStopAndQuarantineFile, ResponseAction::kIsolate};

// Our name of the action (config keys, idempotency keys, logs): investigation_package,
// antivirus_scan, stop_and_quarantine, isolate.
std::string_view ResponseActionName(ResponseAction action);
std::optional<ResponseAction> ResponseActionFromName(std::string_view name);
// The MachineAction `type` MDE gives the action (CollectInvestigationPackage, RunAntiVirusScan,
// StopAndQuarantineFile, Isolate).
std::string_view MachineActionType(ResponseAction action);
// The WindowsDefenderATP application permission the call needs.
std::string_view ResponseActionPermission(ResponseAction action);
// "isolate", "run an antivirus scan on", ... (for messages).
std::string_view ResponseActionVerb(ResponseAction action);

struct ResponseActionRequest {
  ResponseAction action = ResponseAction::kIsolate;
  std::string machine_id;
  std::string comment;  // required by MDE, shown on the device's action center
  // IsolationType (Full | Selective) for kIsolate, ScanType (Full | Quick) for kAntivirusScan.
  std::string scope;
  std::string sha1;  // kStopAndQuarantineFile: the file to stop and quarantine (required)
};

class ResponseActionApi {
 public:
  explicit ResponseActionApi(Client& client) : client_(client) {}
  // POST /api/machines/{id}/isolate | runAntiVirusScan | StopAndQuarantineFile |
  // collectInvestigationPackage. A request the connector cannot send correctly (empty comment,
  // wrong scope, missing SHA-1) is refused here with kInvalidArgument, before any call.
  Result<MachineAction> Request(const ResponseActionRequest& request);

 private:
  Client& client_;
};

// The JSON body of a request (exposed for tests).
Json ResponseActionBody(const ResponseActionRequest& request);

}  // namespace vc::mde
