// What each enrichment operation asks of VMRay and how the answer is shaped. Both HTTP APIs
// (the original's /api/<Function> routes and /api/v1) call these after validating the input.
#pragma once

#include <functional>

#include "clients/vmray/client.hpp"
#include "server/enrichment/api_error.hpp"
#include "server/enrichment/inputs.hpp"

namespace vc::enrichment {

// Builds custom_resp of GetVMRayIOCs ({api_resp, custom_resp}): the STIX indicators of
// `api_resp` (VMRay's IOC payload) for the request's verdicts, labels and expiry. It must build a
// fresh list per call (the original's module-level list accumulated across calls). The STIX
// mapping belongs to the Sentinel TI feed; the daemon passes it in. Unset: the variant is
// refused with 501 before VMRay is called.
using CustomRespBuilder =
    std::function<Result<Json>(const IocsInput& request, const Json& api_resp)>;

struct SubmitOutcome {
  Json summary;         // {"vmray_job": [...], "vmray_sample": [...], "vmray_submission": [...]}
  bool reused = false;  // VMRay already had the file and resubmit was off: nothing was submitted
  Json errors = Json::array();  // VMRay's soft errors (HTTP 200 with data.errors[])
};

// The original's submission summary from VMRay's submit answer (jobs, samples, submissions).
Json SubmissionSummary(const Json& submit_data);

struct OperationsOptions {
  bool resubmit = true;                          // enrichment.resubmit
  int64_t max_file_bytes = 200LL * 1024 * 1024;  // vmray.max_file_size_bytes
  CustomRespBuilder custom_resp;                 // may be empty
};

class Operations {
 public:
  Operations(vmray::Client& vmray, OperationsOptions options);

  int64_t max_file_bytes() const { return options_.max_file_bytes; }

  Result<SubmitOutcome> SubmitUrl(const vmray::SubmitRequest& request);
  // Looks the SHA-256 up first; reuses the newest known sample unless resubmit is on.
  Result<SubmitOutcome> SubmitFile(const FileSubmitInput& input);
  Result<Json> Submission(int64_t id) { return vmray_.SubmissionRaw(id); }
  Result<Json> Sample(int64_t id) { return vmray_.SampleRaw(id); }
  Result<Json> SamplesByHash(const std::string& hash) { return vmray_.SamplesByHashRaw(hash); }
  Result<Json> Vtis(int64_t id) { return vmray_.VtisRaw(id); }
  Result<Json> ThreatIndicators(int64_t id) { return vmray_.ThreatIndicatorsRaw(id); }
  Result<Json> Analyses(const AnalysesInput& in) {
    return vmray_.AnalysesOfSampleRaw(in.sample_id, in.limit);
  }
  Result<Json> Iocs(int64_t id) { return vmray_.Iocs(id); }
  bool CanBuildCustomResp() const { return static_cast<bool>(options_.custom_resp); }
  // {"api_resp": <raw IOCs>, "custom_resp": [STIX indicators]}.
  Result<Json> IocsWithIndicators(const IocsInput& in);

 private:
  Result<SubmitOutcome> Reuse(const Json& sample);

  vmray::Client& vmray_;
  OperationsOptions options_;
};

}  // namespace vc::enrichment
