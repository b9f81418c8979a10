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
    // {"audiences", "workspaces", "max_objects", "requests_per_window", "window_ms",
    //  "keep_objects"}; unknown keys or wrong types throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };

  SentinelEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // {"objects": [<accepted objects by id>], "distinct_objects": <ids accepted>,
  //  "uploads": <accepted requests>, "rejected": <refused records>, "throttled": <429 answers>,
  //  "first_upload"/"last_upload": <times of the first and last accepted request, or null>}
  Json StateJson() const override;
  // Seed: {"objects": [<STIX objects>]}, stored as if uploaded.
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

 private:
  void Upload(const httplib::Request& req, httplib::Response& res);
  bool Authenticate(const httplib::Request& req, httplib::Response& res);
  // Seconds until the client may send again (0: now); counts the request when it may.
  int64_t TakeRequestLocked(const std::string& client);

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
};

}  // namespace vc::emu
