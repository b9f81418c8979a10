// The VMRay REST API (Analyzer / FinalVerdict / TotalInsight) as the connector uses it: api_key
// auth, the {"result","data"} envelope, hash lookup, multipart submit, submission polling,
// analyses, jobs, VTIs, IOCs, MITRE ATT&CK, server-side paging with continuation ids, and the
// report pages the sample links open. Responses are built from the real captures under
// tests/fixtures/real/vmray (compiled in). Everything lives in memory, indexed by id and hash.
//
// Seed (Seed() or POST /_emulator/state), all keys optional:
//   {"samples": [{"sha256": "<64 hex>", "md5": opt, "sha1": opt, "filename": opt,
//                 "verdict": "malicious|suspicious|clean", "classifications": opt [...],
//                 "threat_names": opt [...], "vti_score": opt 0-100,
//                 "analysed_at": opt "YYYY-MM-DDTHH:MM:SS" (default: now - 1 day),
//                 "child_sample_ids": opt [<sample id> | "<sha256 of a seeded sample>", ...],
//                 "pending": opt bool,
//                 "iocs": opt {"domains": [...], "ips": [...], ...} (served as given)}],
//    "verdicts": {"<sha256 or url>": {"verdict": ..., "classifications": opt,
//                                     "threat_names": opt, "vti_score": opt}},
//    "soft_error_for": ["<sha256>", ...],
//    "generate": {"count": n, "iocs_per_sample": opt 10, "seed": opt 1,
//                 "from": opt "YYYY-MM-DDTHH:MM:SS", "to": opt ...} (vmray_generator.hpp)}
// A seeded sample gets one finished submission and analysis (finish time = analysed_at). With
// "pending": true it gets one submission created now that is still running instead; it finishes
// like a submitted one (finish_after_polls, analysis_ms) with the seeded verdict.
// "verdicts" decides the result of later submissions of that file or URL; without an entry the
// content decides (EICAR string -> malicious, "VC-SUSPICIOUS" -> suspicious, else clean; for
// URLs the words "malicious"/"suspicious").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/secret.hpp"
#include "emulator_server.hpp"
#include "token_registry.hpp"
#include "vmray_generator.hpp"
#include "vmray_model.hpp"

namespace vc::emu {

class VmrayEmulator final : public EmulatorServer {
 public:
  static constexpr std::string_view kDefaultApiKey = "emu-vmray-key-DO-NOT-LOG";

  struct Options {
    Secret<std::string> api_key{std::string(kDefaultApiKey)};  // the only key accepted
    // A submission finishes on its Nth GET /rest/submission/{id} once analysis_ms of Clock
    // time have passed since it was submitted.
    int finish_after_polls = 2;
    int64_t analysis_ms = 0;
    int page_size = 100;         // items per list response before a continuation_id
    std::string webif_base_url;  // empty: the emulator's own base URL
    int64_t max_upload_size = 209715200;
    // GET /rest/api_key/quota answers {"quota_limit": this, "used_quota": accepted submissions}.
    // 0 means no limit, as VMRay reports it. Minimal on purpose: the real shape is known only
    // from one client (polarityio/vmray), and the emulator does not refuse submissions past it.
    int64_t quota_limit = 0;

    // {"api_key", "finish_after_polls", "analysis_ms", "page_size", "webif_base_url",
    //  "max_upload_size", "quota_limit"}, all optional. Throws std::invalid_argument naming the
    //  bad key.
    static Options FromJson(const Json& j);
  };

  VmrayEmulator(Options options, Clock& clock, TokenRegistry& tokens);
  ~VmrayEmulator() override;

  // {"samples": [{id, sha256, md5, sha1, filename, url, verdict, classifications, threat_names,
  //               vti_score, child_sample_ids, parent_sample_ids}],
  //  "submissions": [{id, sample_id, sha256, filename, url, tags, comment, user_config,
  //                   analyzer_mode, finished, verdict, polls, shareable, max_jobs,
  //                   archive_password, document_password, sample_type}],
  //  "submit_count": <POST /rest/sample/submit accepted, soft errors included>}
  Json StateJson() const override;
  std::optional<std::string> Seed(const Json& seed) override;
  void ResetState() override;

  const Options& options() const { return options_; }
  // Base of sample_webif_url and the other report links.
  std::string WebifBaseUrl() const;

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  enum class ListKind { kSubmissions, kAnalyses };
  struct Continuation {
    ListKind kind;
    std::shared_ptr<const std::vector<int64_t>> ids;
    size_t offset = 0;
  };

  // Registers an authenticated API route. `params`: the query parameters it accepts (anything
  // else is a contract violation); nullopt skips that check (form-urlencoded submit).
  void Api(const std::string& method, const std::string& pattern,
           std::optional<std::vector<std::string>> params, Handler handler);

  void GetSystemInfo(const httplib::Request& req, httplib::Response& res);
  void GetApiKeyQuota(const httplib::Request& req, httplib::Response& res);
  void GetSamplesByHash(const httplib::Request& req, httplib::Response& res);
  void GetSample(const httplib::Request& req, httplib::Response& res);
  void PostSubmit(const httplib::Request& req, httplib::Response& res);
  void GetVtis(const httplib::Request& req, httplib::Response& res);
  void GetIocs(const httplib::Request& req, httplib::Response& res);
  void GetMitre(const httplib::Request& req, httplib::Response& res);
  void GetSubmission(const httplib::Request& req, httplib::Response& res);
  void ListSubmissions(const httplib::Request& req, httplib::Response& res);
  void ListSubmissionsOfSample(const httplib::Request& req, httplib::Response& res);
  void GetContinuation(const httplib::Request& req, httplib::Response& res);
  void ListAnalyses(const httplib::Request& req, httplib::Response& res);
  void ListAnalysesOfSubmission(const httplib::Request& req, httplib::Response& res);
  void ListAnalysesOfSample(const httplib::Request& req, httplib::Response& res);
  void GetAnalysis(const httplib::Request& req, httplib::Response& res);
  void GetJobsOfSubmission(const httplib::Request& req, httplib::Response& res);
  void GetSampleView(const httplib::Request& req, httplib::Response& res);
  void GetAnalysisView(const httplib::Request& req, httplib::Response& res);

  // The numeric id in path group `group`; records an assertion and returns nullopt otherwise.
  std::optional<int64_t> PathId(const httplib::Request& req, httplib::Response& res, int group);
  // The sample of path group 1, or nullopt after answering (assertion or 404).
  const vmray::Sample* SampleFromPathLocked(const httplib::Request& req, httplib::Response& res);

  // All *Locked functions need state_mutex() held.
  vmray::Sample& CreateSampleLocked(const std::string& sha256, const std::string& sha1,
                                    const std::string& md5);
  void ReindexHashesLocked(vmray::Sample& sample, const std::string& sha1, const std::string& md5);
  vmray::Submission& CreateSubmissionLocked(vmray::Sample& sample, TimePoint created);
  void FinishLocked(vmray::Submission& submission, TimePoint now,
                    std::optional<vmray::Outcome> outcome);
  // Pages `ids` (already filtered and ordered) and answers the first page.
  void SendListLocked(httplib::Response& res, ListKind kind,
                      std::shared_ptr<const std::vector<int64_t>> ids, size_t offset);
  std::optional<Json> ListItemLocked(ListKind kind, int64_t id) const;
  void ClearLocked();
  // Seed "generate": finished samples whose IOCs are derived per request.
  void GenerateLocked(const vmray::GenerateSpec& spec);

  Options options_;
  [[maybe_unused]] TokenRegistry& tokens_;  // VMRay uses api keys, not Entra tokens

  std::map<int64_t, vmray::Sample> samples_;
  std::unordered_map<std::string, int64_t> sample_by_sha256_;
  std::unordered_map<std::string, std::vector<int64_t>> samples_by_sha1_;
  std::unordered_map<std::string, std::vector<int64_t>> samples_by_md5_;
  std::map<int64_t, vmray::Submission> submissions_;
  std::unordered_map<int64_t, std::vector<int64_t>> submissions_by_sample_;
  std::set<std::pair<int64_t, int64_t>> finished_by_time_;  // (finish unix seconds, id)
  std::map<int64_t, int64_t> submission_by_analysis_;
  std::map<std::string, vmray::Outcome> seeded_verdicts_;
  std::unordered_set<std::string> soft_error_for_;
  std::map<int64_t, Continuation> continuations_;
  int64_t next_sample_id_ = 0;
  int64_t next_submission_id_ = 0;
  int64_t next_job_id_ = 0;
  int64_t next_continuation_id_ = 0;
  int64_t submit_count_ = 0;
};

}  // namespace vc::emu
