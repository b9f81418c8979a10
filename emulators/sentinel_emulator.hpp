// The Microsoft Sentinel STIX objects upload API (api-reference.md 3.2):
//   POST /workspaces/{workspaceId}/threat-intelligence-stix-objects:upload
//        ?api-version=2024-02-01-preview
// with {"sourcesystem", "stixobjects": [<= 100]}. It validates each object like the service
// (required fields, id shape, timestamps, pattern syntax, confidence 0-100, valid_until after
// valid_from) and answers 200 with {"errors": [{"recordIndex", "errorMessages"}]} for the
// records it refused (empty body when all were valid), enforces 100 requests per minute per
// client with 429 {"statusCode": 429, "message": "Rate limit is exceeded. Try again in N
// seconds."} plus a Retry-After header, and keeps every accepted object by id (last write wins,
// as the service updates an object uploaded again) for tests to inspect.
//
// Tokens must be issued for https://management.azure.com (or .core.windows.net).
//
// The same server also answers the Sentinel management REST API for incidents, comments and
// entities (api-reference.md 3.5), implemented in sentinel_incidents.cpp.
#pragma once

#include <deque>
#include <map>

#include "emulator_server.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class SentinelEmulator final : public EmulatorServer {
 public:
  static constexpr std::string_view kApiVersion = "2024-02-01-preview";

  struct Options {
    std::vector<std::string> audiences = {"https://management.azure.com",
                                          "https://management.core.windows.net"};
    // Known workspace ids; empty: any GUID is a workspace.
    std::vector<std::string> workspaces;
    int max_objects = 100;          // per request
    int requests_per_window = 100;  // per client, sliding window
    int64_t window_ms = 60000;      // a benchmark scales the minute down
    // False: only ids and upload counts are kept, not the objects (a benchmark uploads hundreds
    // of thousands; tests keep them to inspect).
    bool keep_objects = true;
    // The one workspace the management API knows (ARM path segments); another answers 404.
    std::string subscription_id = "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0";
    std::string resource_group = "myRg";
    std::string workspace_name = "myWorkspace";
    // Items per page of an incident or comment list when the request has no $top.
    int page_size = 50;
    // {"audiences", "workspaces", "max_objects", "requests_per_window", "window_ms",
    //  "keep_objects", "subscription_id", "resource_group", "workspace_name", "page_size"};
    // unknown keys or wrong types throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };

  SentinelEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // {"objects": [<accepted objects by id>], "distinct_objects": <ids accepted>,
  //  "uploads": <accepted requests>, "rejected": <refused records>, "throttled": <429 answers>,
  //  "first_upload"/"last_upload": <times of the first and last accepted request, or null>,
  //  "incidents": [<incident resources, oldest first, each with "comments" and "entities">]}
  Json StateJson() const override;
  // Seed: {"objects": [<STIX objects>], "incidents": [<incident>]}. STIX objects are stored as
  // if uploaded. An incident is {"name": "<guid>", "properties": {"title", "severity",
  // "status", ... optional "createdTimeUtc" to date it in the past}, "entities": [{"kind":
  // "Url", "properties": {"url", "friendlyName"}}, ...], "comments": [{"name"?, "properties":
  // {"message"}}]}; server fields (incidentNumber, incidentUrl, etag, ...) are filled in.
  std::optional<std::string> Seed(const Json& seed) override;
  void ResetState() override;

  // Accepted objects by id (last upload wins), and how often each id was accepted.
  std::map<std::string, Json> Objects() const;
  std::map<std::string, int> UploadCounts() const;
  int64_t throttled() const;
  // Every error message the validator produces for one object (empty: valid). Exposed for the
  // emulator's own tests and for the connector's mapping tests.
  static std::vector<std::string> ValidateObject(const Json& object);
  // Empty when `pattern` is a STIX 2.1 comparison expression the emulator understands
  // ([path op 'string'] joined by AND/OR), else what is wrong.
  static std::string PatternProblem(std::string_view pattern);

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;
  // ARM's {"error": {"code", "message"}} on management routes, FaultBody() elsewhere.
  std::string FaultBodyFor(const httplib::Request& req, int status) const override;

 private:
  void Upload(const httplib::Request& req, httplib::Response& res);
  bool Authenticate(const httplib::Request& req, httplib::Response& res);
  // Seconds until the client may send again (0: now); counts the request when it may.
  int64_t TakeRequestLocked(const std::string& client);

  // Management API (sentinel_incidents.cpp).
  void RegisterIncidentRoutes();
  // Token, api-version and workspace checks shared by every management route; false when an
  // ARM error was answered.
  bool ArmPreamble(const httplib::Request& req, httplib::Response& res);
  void PutIncident(const httplib::Request& req, httplib::Response& res);
  void GetIncident(const httplib::Request& req, httplib::Response& res);
  void ListIncidents(const httplib::Request& req, httplib::Response& res);
  void PutComment(const httplib::Request& req, httplib::Response& res);
  void ListComments(const httplib::Request& req, httplib::Response& res);
  void ListEntities(const httplib::Request& req, httplib::Response& res);
  std::string WorkspacePath() const;
  std::string IncidentPath(const std::string& name) const;
  // Adds server fields and stores; the caller holds state_mutex(). Returns the stored incident.
  Json& StoreIncidentLocked(const std::string& name, Json properties, bool created,
                            std::optional<TimePoint> created_at);
  Json CommentResourceLocked(const std::string& incident, const std::string& name,
                             const std::string& message, const std::string& author);
  // Validates all before storing any, so a bad seed changes nothing.
  std::optional<std::string> SeedIncidentsLocked(const Json& incidents);
  Json IncidentsStateLocked() const;
  std::string NextEtagLocked();

  Options options_;
  TokenRegistry& tokens_;
  // Under state_mutex().
  std::map<std::string, Json> objects_;
  std::map<std::string, int> upload_counts_;
  std::map<std::string, std::deque<int64_t>> requests_;  // client -> accepted request times (ms)
  int64_t uploads_ = 0;
  int64_t rejected_ = 0;
  int64_t throttled_ = 0;
  std::optional<TimePoint> first_upload_, last_upload_;
  // Management API state: incidents by lower-case name (GUID), the resource as answered plus
  // "comments" (array, oldest first) and "entities" (array) kept beside it.
  std::map<std::string, Json> incidents_;
  int64_t next_incident_number_ = 1;
  int64_t next_etag_ = 1;
};

}  // namespace vc::emu
