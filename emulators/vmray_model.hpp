// What the VMRay emulator holds in memory: samples, submissions and the result an analysis
// produced. Analyses and jobs are not stored on their own: a submission has exactly one dynamic
// job, and its analysis (same id as the job, as in the real captures) exists once it finished.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"

namespace vc::emu::vmray {

enum class Verdict { kNotAvailable, kClean, kSuspicious, kMalicious };

std::string_view VerdictName(Verdict verdict);
// "malicious", "suspicious", "clean" or "not_available".
std::optional<Verdict> ParseVerdict(std::string_view text);
// The legacy severity VMRay reports next to the verdict ("not_suspicious" for clean).
std::string_view SeverityName(Verdict verdict);

// Exactly "YYYY-MM-DDTHH:MM:SS" (UTC), the only time format VMRay's API reads and writes.
std::optional<TimePoint> ParseVmrayTime(std::string_view text);

// IOCs derived on request from a generator seed instead of stored (vmray_generator.hpp).
struct GeneratedIocs {
  uint64_t seed = 0;
  int64_t index = 0;
  int count = 0;
};

// The result of an analysis, copied to the sample when its submission finishes.
struct Outcome {
  Verdict verdict = Verdict::kNotAvailable;
  std::vector<std::string> classifications;
  std::vector<std::string> threat_names;
  int vti_score = 0;  // 0-100
};

// Malicious and suspicious take classifications and threat names from the real sample capture;
// clean has none and a low score.
Outcome DefaultOutcome(Verdict verdict);

struct Sample {
  int64_t id = 0;
  std::string sha256, sha1, md5, ssdeep;  // lower-case hex
  std::string filename;
  int64_t filesize = 0;
  std::string type;                // "Windows Exe (x86-32)", "URL", ...
  std::optional<std::string> url;  // URL samples only
  TimePoint created;
  Outcome outcome;  // of the last finished submission; kNotAvailable before
  std::vector<int64_t> child_ids, parent_ids;
  std::vector<int64_t> analysis_ids;            // every finished analysis, oldest first
  std::vector<int64_t> last_analysis_ids;       // those of the last finished submission
  std::optional<Json> seeded_iocs;              // IOC families from the seed, served as given
  std::optional<GeneratedIocs> generated_iocs;  // derived per request (benchmarks)
};

struct Submission {
  int64_t id = 0;
  int64_t sample_id = 0;
  int64_t job_id = 0;                        // also the id of its analysis
  std::string filename;                      // as VMRay shows it (b64 name wins over the part)
  std::optional<std::string> original_name;  // name of the uploaded part
  std::optional<std::string> url;
  std::vector<std::string> tags;
  std::optional<std::string> comment;
  Json user_config;  // null when not sent
  std::string analyzer_mode = "reputation_static_dynamic";
  bool shareable = false;
  bool reanalyze = false;
  std::optional<int64_t> max_jobs;
  std::optional<std::string> archive_password;
  std::optional<std::string> document_password;
  std::optional<std::string> sample_type;
  std::string client_ip = "127.0.0.1";
  TimePoint created;
  std::optional<TimePoint> finish_time;  // whole seconds, as VMRay reports it
  int polls = 0;                         // GET /rest/submission/{id} calls so far
  std::optional<TimePoint> job_started;  // first poll: the job moves from "queued" to "inwork"
  Verdict content_verdict = Verdict::kNotAvailable;  // decided from the bytes at submit time
  Outcome outcome;                                   // valid once finished

  bool finished() const { return finish_time.has_value(); }
};

}  // namespace vc::emu::vmray
