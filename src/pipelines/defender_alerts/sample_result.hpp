// The VMRay results every alert comment about one file needs, cached in the sample row so that
// a second alert with the same file is answered without calling VMRay again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/vmray/models.hpp"
#include "core/json.hpp"

namespace vc::defender {

struct SampleResult {
  int64_t sample_id = 0;
  int64_t submission_id = 0;
  std::string sha256;
  std::string verdict;
  std::string webif_url;
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  std::vector<vmray::Vti> vtis;  // sorted by score, highest first
  std::optional<TimePoint> analysed_at;

  static SampleResult From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis,
                           std::optional<TimePoint> analysed_at);
  std::string Dump() const;
  static Result<SampleResult> Parse(const std::string& text);
};

// The alert comment, with the original connector's sections in its order: "Evidence SHA256:",
// "VMRAY Analyzer Verdict:", "Sample Url:", "Classifications:", "Threat Names:", "VTI's:".
// `url`: URL evidence, named first instead of a file's SHA-256.
std::string BuildAlertComment(const SampleResult& result, const std::string& url = "");

// The comment posted when no verdict could be produced, so the analyst sees why.
std::string BuildFailureComment(const std::string& sha256, const std::string& file_name,
                                const std::string& reason);

}  // namespace vc::defender
