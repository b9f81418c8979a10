// The Sentinel STIX objects upload API (api-reference.md 3.2):
//   POST {base}/workspaces/{workspaceId}/threat-intelligence-stix-objects:upload
//        ?api-version=2024-02-01-preview   {"sourcesystem", "stixobjects": [<= 100]}
// Batches of at most 100 objects, paced by the client's own limiter at the documented 100
// requests per minute so the normal case sees no 429. A 429 that comes anyway is waited out as
// the service asks (Retry-After header, else the "Try again in N seconds" text). A 200 may carry
// {"errors": [{"recordIndex", "errorMessages"}]}: those objects come back as rejected with their
// reasons, so the caller records them instead of losing them (the original ignored this body).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"
#include "http/rate_limiter.hpp"

namespace vc::sentinel {

inline constexpr std::string_view kStixApiVersion = "2024-02-01-preview";
inline constexpr std::string_view kDefaultTiBaseUrl = "https://api.ti.sentinel.azure.com";
inline constexpr std::string_view kSourceSystem = "VMRayThreatIntelligence";
inline constexpr int kMaxObjectsPerRequest = 100;

struct TiUploadOptions {
  std::string base_url = std::string(kDefaultTiBaseUrl);
  std::string workspace_id;  // Log Analytics workspace GUID (AzureWorkspaceID)
  std::string source_system = std::string(kSourceSystem);
  int requests_per_minute = 100;  // the documented per-user limit
  Millis window{60'000};          // the limit's window (a benchmark scales it down)
  int max_throttle_waits = 5;     // 429s waited out per batch before giving up
  Millis max_throttle_wait{120'000};
};

struct RejectedObject {
  std::string id;      // the object's id ("" when it had none)
  std::string reason;  // the service's errorMessages joined with "; "
};

struct UploadResult {
  size_t accepted = 0;
  std::vector<RejectedObject> rejected;
  int requests = 0;
  int throttled = 0;  // 429 answers waited out
};

class TiUploader {
 public:
  // `pipeline` carries the Entra credential for https://management.azure.com and the retry
  // policy, whose retry statuses should leave out 429: the uploader waits 429s out itself, as
  // long as the service asks (the retry policy only reads the header, not the "Try again in N
  // seconds" text). The uploader brings its own limiter (shared by every caller of it).
  TiUploader(TiUploadOptions options, std::shared_ptr<http::Pipeline> pipeline, Clock& clock);

  // Uploads `objects` in batches of <= 100, in order. Stops at the first batch that fails (the
  // error says what to do); batches before it stay uploaded (ids are deterministic, so a
  // repeat updates them). Rejected records are no failure: they are in the result.
  Result<UploadResult> Upload(const std::vector<Json>& objects);
  // One request of <= 100 objects.
  Result<UploadResult> UploadBatch(const std::vector<Json>& batch);

  http::RateLimiter& limiter() { return limiter_; }

 private:
  Result<http::Response> SendPaced(const std::string& body);

  TiUploadOptions options_;
  std::shared_ptr<http::Pipeline> pipeline_;
  Clock& clock_;
  http::RateLimiter limiter_;
  std::string url_;
};

// The wait a 429 asks for: Retry-After (seconds or date), else "Try again in N seconds" in the
// body's message; nullopt when neither says.
std::optional<Millis> ThrottleWait(const http::Response& response, TimePoint now);
// The per-record errors of a 200 answer, mapped back to the ids of `batch`.
Result<std::vector<RejectedObject>> ParseRecordErrors(const std::string& body,
                                                      const std::vector<Json>& batch);

}  // namespace vc::sentinel
