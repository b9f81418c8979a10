// One (alert, file) job from alert to comment. Each Step is one short piece of work: a VMRay
// lookup, one Live Response call, one download and submission, one poll. Waiting for a device or
// an analysis is a later attempt, never a sleeping thread.
//
// Files are single-flight: the sample row for a sha256 names one owner job that looks it up,
// collects and submits; other jobs for the same file wait on the row and are woken when the
// owner finishes, then comment on their own alert from the cached result.
#pragma once

#include <atomic>
#include <functional>
#include <variant>

#include "clients/blob/client.hpp"
#include "clients/defender/client.hpp"
#include "clients/vmray/client.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/library_sync.hpp"
#include "pipelines/defender_alerts/options.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"
#include "pipelines/defender_alerts/session_gate.hpp"

namespace vc::defender {

// What quarantine collection needs besides MDE: the storage account the device uploads to and
// the library that holds the collection script. Without a blob client, antivirus alerts end in
// waiting_for_quarantine_collection until a storage account is configured.
struct QuarantineHandOff {
  blob::BlobClient* blob = nullptr;
  std::shared_ptr<LibrarySync> library;
  // Each finishing job queues a rewrite of its alert's status record (status_record.hpp).
  bool status_records = false;
};

class EvidenceJob final : public jobs::JobHandler {
 public:
  EvidenceJob(DefenderOptions options, store::Store& store, vmray::Client& vmray, mde::Client& mde,
              std::shared_ptr<SessionGate> sessions, std::function<void()> notify,
              QuarantineHandOff quarantine = {});
  std::string kind() const override { return std::string(kJobKind); }
  // How a step takes a job that is leased and queued but not started out of the scheduler's
  // queue (jobs::Scheduler::Withdraw), to collect its file in the same Live Response session.
  void SetWithdraw(std::function<bool(int64_t)> withdraw) { withdraw_ = std::move(withdraw); }
  // Our runliveresponse limiter (the tenant's 10 sessions a minute): `free_in` tells how long
  // until it has a slot (http::RateLimiter::FreeIn), `take` takes one or tells how long to wait
  // (RateLimiter::TryAcquire). A job looks before it takes a session slot and takes the token
  // before it lists the device's actions, so only the job that will start a session spends a
  // call of the machineactions.list quota (100/min, 1,500/h), however many wake at once.
  void SetLiveResponseLimiter(std::function<Millis()> free_in, std::function<Millis()> take) {
    lr_free_in_ = std::move(free_in);
    lr_take_ = std::move(take);
  }
  jobs::StepResult Step(const jobs::StepContext& ctx) override;

 private:
  using StepResult = jobs::StepResult;
  // `took_session` is set when the step took a Live Response session slot.
  StepResult Dispatch(const jobs::StepContext& ctx, EvidencePayload& p, bool& took_session);
  StepResult OnNew(const jobs::StepContext& ctx, EvidencePayload& p);
  // URL evidence: submitted as a URL analysis, then analysed and reported like a file.
  StepResult OnUrlNew(const jobs::StepContext& ctx, EvidencePayload& p);
  StepResult OnLookup(const jobs::StepContext& ctx, EvidencePayload& p, bool& took_session);
  StepResult OnWaiting(const jobs::StepContext& ctx, EvidencePayload& p);
  StepResult OnCollecting(const jobs::StepContext& ctx, EvidencePayload& p, bool& took_session);
  StepResult OnCollectionPending(const jobs::StepContext& ctx, EvidencePayload& p);
  StepResult OnDownloading(const jobs::StepContext& ctx, EvidencePayload& p);
  StepResult OnAnalysing(const jobs::StepContext& ctx, EvidencePayload& p);
  // Checks the file's hash and submits it to VMRay (GetFile and quarantine paths alike).
  StepResult SubmitFile(const jobs::StepContext& ctx, EvidencePayload& p, std::string file);

  // Quarantine collection (quarantine_collection.cpp). PrepareQuarantine names the blob
  // (write-ahead), signs its upload link and builds the RunScript command; a StepResult comes
  // back when the session cannot start now.
  std::optional<StepResult> PrepareQuarantine(const jobs::StepContext& ctx, EvidencePayload& p,
                                              mde::LiveResponseCommand& command);
  StepResult OnQuarantineDownload(const jobs::StepContext& ctx, EvidencePayload& p);
  // Another session for a failed attempt, or the failure once the attempts are spent.
  StepResult RetryCollection(const jobs::StepContext& ctx, EvidencePayload& p,
                             const std::string& outcome, const std::string& detail, Millis delay);
  // Shared sessions (shared_session.cpp): the files of other jobs waiting for the same device
  // go into this job's session. Each rider is leased by this step until it is settled.
  struct Rider {
    store::Job job;
    EvidencePayload payload;
    mde::LiveResponseCommand command;
  };
  std::vector<Rider> GatherRiders(const jobs::StepContext& ctx, const EvidencePayload& leader);
  // After runliveresponse: each rider follows `action_id` at its command index, or, when no
  // action was started (`action_id` empty), is handed back as it was.
  void SettleRiders(const jobs::StepContext& ctx, std::vector<Rider>& riders,
                    const std::string& action_id);
  // Deletes the upload blob once the job no longer needs it (outbox housekeeping).
  void RetireBlob(const jobs::StepContext& ctx, StepResult& r) const;

  // The daily submission budget (submission_budget.hpp): nullopt when the job holds its unit,
  // else the step's result (the alert is skipped with a comment, or the store is retried).
  std::optional<StepResult> TakeBudgetUnit(const jobs::StepContext& ctx, EvidencePayload& p);
  // The cap on analyses in flight: nullopt when the job holds a slot, else it waits in
  // waiting_for_analysis_slot.
  std::optional<StepResult> TakeAnalysisSlot(const jobs::StepContext& ctx, EvidencePayload& p);
  // An earlier submission attempt may have reached VMRay before a crash: find and adopt it.
  std::optional<StepResult> RecoverSubmission(const jobs::StepContext& ctx, EvidencePayload& p);
  // The sample's results as VMRay has them now (sample, VTIs, descendants), or the step's
  // result when a read failed.
  std::variant<SampleResult, StepResult> ReadResult(const jobs::StepContext& ctx, int64_t sample_id,
                                                    TimePoint analysed_at);
  // An operator replay (replay.cpp): read the verdict again and write back what changed.
  StepResult OnReplay(const jobs::StepContext& ctx, EvidencePayload& p);
  StepResult Finished(const jobs::StepContext& ctx, EvidencePayload& p, const SampleResult& result);
  StepResult Report(EvidencePayload& p, const SampleResult& result);
  // Ends the job with a failure comment; an owner also marks the sample failed so waiting jobs
  // can take over ("collection") or fail alike ("analysis").
  StepResult Fail(const jobs::StepContext& ctx, EvidencePayload& p, const std::string& kind,
                  const std::string& reason);
  Status MarkSample(int64_t owner_job_id, const EvidencePayload& p, const std::string& state,
                    TimePoint now, const std::string& reason = "",
                    const std::string& result_json = "", const std::string& verdict = "",
                    std::optional<TimePoint> analysed_at = {});
  void WakeWaiters(const std::string& sha256, TimePoint now);
  std::string DeviceName(const EvidencePayload& p) const;

  DefenderOptions options_;
  store::Store& store_;
  vmray::Client& vmray_;
  mde::Client& mde_;
  std::shared_ptr<SessionGate> sessions_;
  std::function<void()> notify_;
  QuarantineHandOff quarantine_;
  std::atomic<bool> container_ready_{false};
  std::function<bool(int64_t)> withdraw_;
  std::function<Millis()> lr_free_in_;
  std::function<Millis()> lr_take_;
};

// Delivers "blob_delete" outbox items: the upload blob of a finished collection. A blob that is
// already gone counts as deleted.
class BlobDeleter final : public jobs::OutboxHandler {
 public:
  explicit BlobDeleter(blob::BlobClient& blob) : blob_(blob) {}
  std::string kind() const override { return "blob_delete"; }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  blob::BlobClient& blob_;
};

// Delivers "alert_comment" outbox items: PATCH the alert with the comment, exactly once. An
// item whose earlier attempt may have gone out is first checked against the alert's comments.
class AlertCommentWriter final : public jobs::OutboxHandler {
 public:
  explicit AlertCommentWriter(mde::Client& mde) : mde_(mde) {}
  std::string kind() const override { return "alert_comment"; }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  mde::Client& mde_;
};

}  // namespace vc::defender
