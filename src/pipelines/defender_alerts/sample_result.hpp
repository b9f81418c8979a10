// The VMRay results every alert comment about one file needs, cached in the sample row so that
// a second alert with the same file is answered without calling VMRay again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/vmray/models.hpp"
#include "core/json.hpp"

namespace vc::defender {

// What the comment shows of one analysed sample, in the original connector's sections.
struct SampleSections {
  int64_t sample_id = 0;
  std::string sha256;
  std::string verdict;
  std::string webif_url;
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  std::vector<vmray::Vti> vtis;  // sorted by score, highest first

  static SampleSections From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis);
};

// One descendant of the analysed sample (a dropped or downloaded file VMRay analysed on its own),
// with the same sections the original connector commented for each child.
struct ChildSampleResult : SampleSections {
  int64_t parent_sample_id = 0;  // the sample that named it in child_sample_ids

  static ChildSampleResult From(const vmray::Sample& sample, int64_t parent_sample_id,
                                std::vector<vmray::Vti> vtis);
};

struct SampleResult : SampleSections {
  int64_t submission_id = 0;
  std::optional<TimePoint> analysed_at;
  // Descendants, breadth first, each once (child_samples.hpp reads them).
  std::vector<ChildSampleResult> children;
  // Descendants left unread because of the bound on how many are read.
  int64_t children_not_read = 0;
  // Why a descendant is missing (VMRay no longer has it), for the comment.
  std::vector<std::string> child_notes;

  static SampleResult From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis,
                           std::optional<TimePoint> analysed_at);
  std::string Dump() const;
  // Rows cached before children were read parse with no children.
  static Result<SampleResult> Parse(const std::string& text);
};

// How many descendants of one sample are read (one GetSample and one Vtis call each).
inline constexpr size_t kMaxChildSamples = 20;

// Upper bound on the comment's length; longer text is cut at a line and says so.
inline constexpr size_t kMaxAlertComment = 20'000;

// The alert comment, with the original connector's sections in its order: "Evidence SHA256:",
// "VMRAY Analyzer Verdict:", "Sample Url:", "Classifications:", "Threat Names:", "VTI's:".
// Each child sample with a verdict follows in a block of the same sections headed
// "Child sample SHA256:"; children without a verdict share one short line.
// `url`: URL evidence, named first instead of a file's SHA-256.
std::string BuildAlertComment(const SampleResult& result, const std::string& url = "");

// The comment posted when no verdict could be produced, so the analyst sees why.
std::string BuildFailureComment(const std::string& sha256, const std::string& file_name,
                                const std::string& reason);

}  // namespace vc::defender
