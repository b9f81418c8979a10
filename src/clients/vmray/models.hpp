// VMRay REST objects, as far as the connector uses them. Parsing is strict on the fields we rely
// on (ids, hashes, verdicts) and lenient on the rest, so a new VMRay field never breaks us but a
// missing id is a clear Protocol error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::vmray {

struct Sample {
  int64_t sample_id = 0;
  std::string sha256;
  std::string sha1;
  std::string md5;
  std::string filename;
  std::string type;
  std::string verdict;  // malicious, suspicious, clean, not_available; may be empty on old servers
  std::string severity;
  std::string webif_url;
  int64_t vti_score = 0;
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  std::vector<int64_t> child_sample_ids;
  std::optional<TimePoint> created;
};

struct Submission {
  int64_t submission_id = 0;
  int64_t sample_id = 0;
  bool finished = false;
  bool has_errors = false;
  std::string verdict;
  std::string webif_url;
  std::vector<std::string> tags;
  std::optional<TimePoint> created;
  std::optional<TimePoint> finish_time;
};

struct SoftError {
  std::string message;
  std::string filename;
};

struct SubmitResult {
  std::vector<Submission> submissions;
  std::vector<Sample> samples;
  std::vector<SoftError> errors;  // HTTP 200 with data.errors[]: nothing was submitted for these
};

struct Vti {
  std::string category;
  std::string operation;
  int score = 0;  // 1..5
  std::vector<std::string> classifications;
};

struct Analysis {
  int64_t analysis_id = 0;
  std::string severity;
  std::string verdict;
  std::string result_str;
};

Result<Sample> ParseSample(const Json& j, const std::string& path);
Result<Submission> ParseSubmission(const Json& j, const std::string& path);
Result<SubmitResult> ParseSubmitResult(const Json& data);
Result<std::vector<Vti>> ParseVtis(const Json& data);
Result<Analysis> ParseAnalysis(const Json& j, const std::string& path);

}  // namespace vc::vmray
