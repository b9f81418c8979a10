// Validation of every enrichment operation's parameters. Each parser either returns the request
// to send to VMRay or an ApiError; a request that fails here never reaches VMRay.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clients/vmray/client.hpp"
#include "server/enrichment/api_error.hpp"
#include "server/enrichment/params.hpp"

namespace vc::enrichment {

template <class T>
using Parsed = std::variant<T, ApiError>;

struct FileSubmitInput {
  vmray::SubmitRequest request;
  std::optional<bool> resubmit;  // the request's own choice; unset: enrichment.resubmit
};

struct AnalysesInput {
  int64_t sample_id = 0;
  std::optional<int64_t> limit;
};

struct IocsInput {
  int64_t sample_id = 0;
  std::optional<int64_t> submission_id;
  std::optional<std::vector<std::string>> sample_verdict;  // malicious / suspicious / clean
  std::string incident_id;                                 // Sentinel incident number
  std::optional<int> valid_until_days;
  // The original answers {api_resp, custom_resp} when both submission_id and sample_verdict
  // are given, the raw VMRay IOCs otherwise.
  bool WantsCustomResp() const { return submission_id.has_value() && sample_verdict.has_value(); }
};

// url (required), shareable, max_jobs, tags, net_scheme_name.
Parsed<vmray::SubmitRequest> ParseUrlSubmit(const Params& p);
// file (required, base64), name, document_password, archive_password, sample_type, shareable,
// max_jobs, tags, net_scheme_name, resubmit. `max_file_bytes` bounds the decoded file.
Parsed<FileSubmitInput> ParseFileSubmit(const Params& p, int64_t max_file_bytes);
// A VMRay id: a JSON integer or a string of digits, 1 or more.
Parsed<int64_t> ParseId(const Params& p, const std::string& name);
// md5, sha1 or sha256 in hex; returned in lower case.
Parsed<std::string> ParseHash(const Params& p);
Parsed<AnalysesInput> ParseAnalyses(const Params& p);
Parsed<IocsInput> ParseIocs(const Params& p);

// Why `url` cannot be analysed, or empty when it can: http(s) only, a host, no user name or
// password (they would be handed to the sandbox and stored in its reports), no whitespace or
// control characters. Ports and internationalised host names are fine.
std::string UrlProblem(const std::string& url);

}  // namespace vc::enrichment
