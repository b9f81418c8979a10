// VMRay REST client (Analyzer, FinalVerdict, TotalInsight). Every call goes through the shared
// HTTP pipeline; answers are unwrapped from the {"result","data"} envelope, lists follow
// continuation ids, and VMRay's error envelope becomes a vc::Error that says what to do.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients/vmray/models.hpp"
#include "http/pipeline.hpp"

namespace vc::vmray {

struct SubmitRequest {
  std::string filename;  // file submissions
  std::string content;   // the file's bytes
  std::string url;       // URL submissions (then filename/content are empty)
  std::vector<std::string> tags;
  std::string comment;
  Json user_config = Json::object();  // e.g. {"timeout": 120}
  // Sent only when set: the enrichment API passes these through from its callers.
  std::string archive_password;
  std::string document_password;
  std::string sample_type;
  std::optional<bool> shareable;
  std::optional<int64_t> max_jobs;
};

// GET /rest/api_key/quota. The shape is known from one public client only (polarityio/vmray):
// {"quota_limit": n, "used_quota": n}, quota_limit 0 meaning no limit.
struct ApiKeyQuota {
  int64_t quota_limit = 0;
  int64_t used_quota = 0;
};

class Client {
 public:
  // `base_url` is the console URL (https://eu.cloud.vmray.com); a missing scheme means https.
  Client(std::string base_url, std::shared_ptr<http::Pipeline> pipeline);

  Result<Json> SystemInfo();
  // Servers that do not offer the route answer 404 (kNotFound).
  Result<ApiKeyQuota> Quota();
  // Chooses md5/sha1/sha256 by length; an empty list means VMRay has never seen the hash.
  Result<std::vector<Sample>> SamplesByHash(const std::string& hash);
  Result<Sample> GetSample(int64_t sample_id);
  Result<SubmitResult> Submit(const SubmitRequest& request);
  Result<Submission> GetSubmission(int64_t submission_id);
  Result<std::vector<Submission>> SubmissionsOfSample(int64_t sample_id);
  Result<std::vector<Analysis>> AnalysesOfSubmission(int64_t submission_id);
  Result<std::vector<Vti>> Vtis(int64_t sample_id);
  // `verdict` empty: all IOCs; else /iocs/verdict/<verdict>.
  Result<Json> Iocs(int64_t sample_id, const std::string& verdict = "");
  // GET /rest/submission?submission_finish_time=<from>~<to>&submission_verdict=<verdict> (UTC,
  // both ends inclusive), page by page along the continuation ids: `on_page` sees one page
  // before the next is read, so a feed over a long window holds one page at a time. An error of
  // a page or of `on_page` stops the walk and is returned.
  using SubmissionPage = std::function<Status(std::vector<Submission>& page)>;
  Status FinishedSubmissions(TimePoint from, TimePoint to, const std::string& verdict,
                             const SubmissionPage& on_page);
  // VMRay's `data` payload unchanged, for the enrichment API, which hands it to its callers as
  // the original function app did.
  Result<Json> SubmitRaw(const SubmitRequest& request);
  Result<Json> SampleRaw(int64_t sample_id);
  Result<Json> SubmissionRaw(int64_t submission_id);
  Result<Json> SamplesByHashRaw(const std::string& hash);  // array; [] when never seen
  Result<Json> SubmissionsOfSampleRaw(int64_t sample_id);  // array
  Result<Json> VtisRaw(int64_t sample_id);
  Result<Json> ThreatIndicatorsRaw(int64_t sample_id);
  // `limit` unset: no _limit parameter (the original sent a null one).
  Result<Json> AnalysesOfSampleRaw(int64_t sample_id, std::optional<int64_t> limit);
  // Read-only check that the URL and key work (system_info).
  Status HealthCheck();

  const std::string& base_url() const { return base_url_; }

 private:
  http::Request Get(const std::string& path, const std::string& operation) const;
  // Sends, maps errors, checks the envelope; returns the whole body ("data" and paging keys).
  Result<Json> Call(http::Request request, const std::string& what);
  Result<Json> Data(http::Request request, const std::string& what);
  // Concatenates the data arrays of a list and its continuation pages.
  Result<std::vector<Json>> List(http::Request request, const std::string& what);
  Status Pages(http::Request request, const std::string& what,
               const std::function<Status(Json& data)>& on_page);
  http::Request SubmitHttpRequest(const SubmitRequest& s) const;

  std::string base_url_;
  std::shared_ptr<http::Pipeline> pipeline_;
};

// "md5", "sha1" or "sha256" by length and hex digits; empty when it is none of them.
std::string HashType(std::string_view hash);

// VMRay tags allow letters, digits and _.:- (threat names like "Trojan:Win32/X!ml" are not).
std::string SanitizeTag(std::string_view tag);

}  // namespace vc::vmray
