// The Sentinel STIX objects upload API (api-reference.md 3.2):
//   POST {base}/workspaces/{workspaceId}/threat-intelligence-stix-objects:upload
//        ?api-version=2024-02-01-preview   {"sourcesystem", "stixobjects": [<= 100]}
// Batches of at most 100 objects, paced by the client itself at the documented 100 requests per
// minute so the normal case sees no 429. The window is counted from when each answer arrived,
// not from the send: the service counts a request on arrival, somewhere between the two, and
// only the answer time is sure not to be earlier. Counted from the send, a request that
// travelled slowly and the one a window later that travelled fast reach the service less than
// a window apart, and the 100th after it is answered 429 (bench-ti-feed saw exactly that). A 429
// that comes anyway is waited out as the service asks (Retry-After header, else the "Try again in N
// seconds" text). A 200 may carry
// {"errors": [{"recordIndex", "errorMessages"}]}: those objects come back as rejected with their
// reasons, so the caller records them instead of losing them (the original ignored this body).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"

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
  // seconds" text). The uploader paces itself (one pace shared by every caller of it).
  TiUploader(TiUploadOptions options, std::shared_ptr<http::Pipeline> pipeline, Clock& clock);

  // Uploads `objects` in batches of <= 100, in order. Stops at the first batch that fails (the
  // error says what to do); batches before it stay uploaded (ids are deterministic, so a
  // repeat updates them). Rejected records are no failure: they are in the result.
  Result<UploadResult> Upload(const std::vector<Json>& objects);
  // One request of <= 100 objects.
  Result<UploadResult> UploadBatch(const std::vector<Json>& batch);

  // Wakes a pacing or 429 wait at once (daemon shutdown: at the limit that wait lasts up to a
  // minute): the upload in progress fails with kCancelled, and so does every later one. The
  // caller's window keeps its checkpoint, so the next start repeats it.
  void RequestStop();

 private:
  Result<http::Response> SendPaced(const std::string& body);
  // 0 when a request may go now (the slot is taken), else how long until one is free.
  Millis TakeSlot();
  // The answer to a request sent in a slot has arrived (or the send failed).
  void AnswerArrived();
  // Sleeps `wait` on the clock; on the real clock the sleep ends early when a stop is requested.
  // kCancelled when stopped.
  Status Wait(Millis wait);

  TiUploadOptions options_;
  std::shared_ptr<http::Pipeline> pipeline_;
  Clock& clock_;
  std::string url_;
  // Pacing: when the answers to the requests of the last window arrived, and the requests
  // sent whose answer is outstanding. Under pace_mu_.
  std::mutex pace_mu_;
  std::deque<TimePoint> answered_;
  int in_flight_ = 0;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // under stop_mu_
};

// The wait a 429 asks for: Retry-After (seconds or date), else "Try again in N seconds" in the
// body's message; nullopt when neither says.
std::optional<Millis> ThrottleWait(const http::Response& response, TimePoint now);
// The per-record errors of a 200 answer, mapped back to the ids of `batch`.
Result<std::vector<RejectedObject>> ParseRecordErrors(const std::string& body,
                                                      const std::vector<Json>& batch);

}  // namespace vc::sentinel
