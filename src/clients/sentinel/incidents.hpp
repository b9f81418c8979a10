// The Sentinel management REST API for incidents (api-reference.md 3.5):
//   {base}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/
//   workspaces/{ws}/providers/Microsoft.SecurityInsights/incidents[...]?api-version=...
// Lists the incidents created after a cursor (following nextLink, only on the configured host),
// reads one incident and its entities (Url entities typed, for URL detonation), writes comments
// and creates incidents under client-chosen GUIDs.
//
// Calls go through the shared pipeline (Entra token for https://management.azure.com, retry with
// Retry-After). ARM's {"error":{"code","message"}} becomes a vc::Error with service "sentinel".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"

namespace vc::sentinel {

// A stable version with incidents, comments and entities (the reference recommends 2024-09-01
// or 2025-09-01; the real examples the emulator is checked against are 2025-09-01).
inline constexpr std::string_view kManagementApiVersion = "2025-09-01";
inline constexpr std::string_view kDefaultManagementBaseUrl = "https://management.azure.com";
// The service refuses longer comment messages; counted in characters, not bytes.
inline constexpr size_t kMaxCommentCharacters = 30000;

struct IncidentsOptions {
  std::string base_url = std::string(kDefaultManagementBaseUrl);
  std::string subscription_id;
  std::string resource_group;
  std::string workspace_name;  // the workspace's name, not its GUID
  std::string api_version = std::string(kManagementApiVersion);
  int page_size = 50;   // $top of each list page
  int max_pages = 200;  // a list that never ends is a protocol error, not a hang
};

struct SentinelIncident {
  std::string name;  // the incident id (GUID) in the resource path
  std::string id;    // the ARM resource id
  std::string etag;
  std::string title;
  std::string severity;
  std::string status;
  std::string description;
  int64_t number = 0;        // incidentNumber, as analysts see it
  std::string incident_url;  // portal link
  std::optional<TimePoint> created;
  std::optional<TimePoint> last_modified;
  Json properties;  // everything the service sent, for fields not typed here
};

struct IncidentEntity {
  std::string id;
  std::string kind;           // "Url", "Account", "File", ...
  std::string url;            // properties.url of a Url entity, else empty
  std::string friendly_name;  // properties.friendlyName when present
  Json properties;
};

struct IncidentCommentResult {
  std::string name;
  std::string message;
  std::optional<TimePoint> created;
  bool created_now = false;  // 201 (new) rather than 200 (an existing comment id updated)
};

struct NewIncident {
  std::string title;
  std::string severity = "Informational";  // High, Medium, Low, Informational
  std::string status = "New";              // New, Active, Closed
  std::string description;
  std::vector<std::string> labels;  // sent as {"labelName": ...}
};

class IncidentsClient {
 public:
  IncidentsClient(IncidentsOptions options, std::shared_ptr<http::Pipeline> api);

  // GET .../incidents with $filter=properties/createdTimeUtc gt {cursor}, oldest first, every
  // page. A nextLink to another scheme or host than base_url is refused (kProtocol): the token
  // would go with it.
  Result<std::vector<SentinelIncident>> ListIncidentsCreatedSince(TimePoint cursor);
  // GET .../incidents/{id}; an unknown incident is kNotFound.
  Result<SentinelIncident> GetIncident(const std::string& incident_id);
  // POST .../incidents/{id}/entities (a read, despite the method).
  Result<std::vector<IncidentEntity>> ListEntities(const std::string& incident_id);
  // PUT .../incidents/{id}/comments/{comment_id}. The caller picks the comment id (a GUID), so a
  // repeat after a lost answer updates the same comment instead of adding a second one. More
  // than kMaxCommentCharacters is refused here, before any request.
  Result<IncidentCommentResult> PutComment(const std::string& incident_id,
                                           const std::string& comment_id, const std::string& html);
  // PUT .../incidents/{id} under a client-chosen GUID (safe to repeat).
  Result<SentinelIncident> CreateIncident(const std::string& incident_id,
                                          const NewIncident& incident);

  const IncidentsOptions& options() const { return options_; }

 private:
  std::string WorkspaceUrl() const;
  std::string IncidentUrl(const std::string& incident_id) const;
  Result<http::Request> Make(http::Method method, std::string url, const std::string& operation,
                             bool add_api_version) const;
  Result<http::Response> Send(http::Request request, const std::string& what);
  Result<Json> Call(http::Request request, const std::string& what);

  IncidentsOptions options_;
  std::shared_ptr<http::Pipeline> api_;
};

Result<SentinelIncident> ParseSentinelIncident(const Json& j);
Result<IncidentEntity> ParseIncidentEntity(const Json& j);
// ARM's error envelope as a vc::Error with service "sentinel"; 409 (stale etag) is kConflict.
Error MapArmError(const http::Response& r, const std::string& what);
// Characters of UTF-8 text as the comment limit is checked here: code points, those outside the
// BMP counted twice (the larger of a code-point and a UTF-16 count).
size_t Utf8Characters(std::string_view text);

}  // namespace vc::sentinel
