// The durable core: jobs, the sample table that makes collection and submission single-flight,
// the outbox of write-backs, and cursors. Every state change of the connector is a row here
// first, so a kill -9 at any moment loses nothing and a restart repeats nothing that finished.
//
// The interface is deliberately coarse (whole operations, each one transaction) so the same
// contract can run on SQLite (embedded default) and later on PostgreSQL (several replicas).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace vc::store {

// ---- jobs ----------------------------------------------------------------------------------

struct NewJob {
  std::string kind;       // e.g. "defender_evidence"
  std::string key;        // unique idempotency key, e.g. "mde:<alertId>:<sha256>"
  std::string state;      // initial state, e.g. "new"
  std::string payload;    // JSON text owned by the job's pipeline
  std::string group_key;  // jobs that wait on a shared thing (a sha256); may be empty
  TimePoint next_attempt_at;
};

struct Job {
  int64_t id = 0;
  std::string kind;
  std::string key;
  std::string state;
  std::string reason;  // why the job is in this state, for humans (status page, comments)
  std::string payload;
  std::string group_key;
  int attempts = 0;    // attempts of the current step (reset by the pipeline on progress)
  bool final = false;  // done, failed or skipped: never leased again
  TimePoint next_attempt_at;
  TimePoint created_at;
  TimePoint updated_at;
  std::string lease_owner;  // empty when not leased
  TimePoint lease_until;
};

struct JobUpdate {
  int64_t id = 0;
  std::string lease_owner;  // must hold the lease, else the update fails with kConflict
  std::string state;
  std::string reason;
  std::optional<std::string> payload;  // nullopt keeps the stored payload
  int attempts = 0;
  bool final = false;
  TimePoint next_attempt_at;
};

struct JobFilter {
  std::string kind;   // empty: any
  std::string state;  // empty: any
  std::optional<bool> final;
  std::string group_key;  // empty: any
  int limit = 100;        // newest first (by id)
};

struct JobCount {
  std::string kind;
  std::string state;
  int64_t count = 0;
};

struct OutboxCount {
  std::string kind;
  std::string state;  // "pending", "done", "failed"
  int64_t count = 0;
};

// ---- samples (single flight per sha256) ----------------------------------------------------

struct Sample {
  std::string sha256;
  std::string state;  // "collecting", "submitted", "finished", "failed"
  int64_t owner_job_id = 0;
  int64_t sample_id = 0;      // VMRay sample id, 0 when unknown
  int64_t submission_id = 0;  // VMRay submission id, 0 when none
  std::string verdict;        // VMRay verdict once finished
  std::string result_json;    // cached VMRay results the write-backs need (details, VTIs)
  std::string reason;         // why it failed, for humans
  std::optional<TimePoint> analysed_at;  // when VMRay finished the analysis we rely on
  std::optional<TimePoint> submitted_at;
  TimePoint updated_at;
};

// ---- outbox (write-backs, exactly once) ----------------------------------------------------

struct NewOutboxItem {
  std::string idempotency_key;  // unique, e.g. "alert-comment:<alertId>:<sha256>"
  std::string kind;             // e.g. "alert_comment"
  std::string target;           // e.g. the alert id
  std::string payload;          // JSON text: everything needed to deliver it again identically
  int64_t job_id = 0;           // the job that produced it (0: none)
  TimePoint next_attempt_at;
  // From a job step: true makes its delivery the job's last step; false is housekeeping that
  // runs on its own (a blob deletion) and leaves the job alone.
  bool completes_job = true;
};

struct OutboxItem {
  int64_t id = 0;
  std::string idempotency_key;
  std::string kind;
  std::string target;
  std::string payload;
  int64_t job_id = 0;
  std::string state;  // "pending", "done", "failed"
  std::string reason;
  int attempts = 0;  // delivery attempts *started* (written before the call goes out)
  TimePoint next_attempt_at;
  TimePoint created_at;
  std::optional<TimePoint> done_at;
  std::string lease_owner;
  TimePoint lease_until;
};

struct OutboxUpdate {
  int64_t id = 0;
  std::string lease_owner;  // must hold the lease, else kConflict
  std::string state;        // "pending", "done", "failed"
  std::string reason;
  int attempts = 0;
  TimePoint next_attempt_at;
};

// ---- VMRay submission budget and analysis slots ---------------------------------------------

struct BudgetGrant {
  bool granted = false;
  int64_t used = 0;  // units of the day in use after the call (this job's included if granted)
};

struct SlotGrant {
  bool granted = false;
  int64_t running = 0;  // slots held by other jobs at the time of the call
};

// ---- the store -----------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  // Jobs. InsertJob returns false (and changes nothing) when the key already exists.
  virtual Result<bool> InsertJob(const NewJob& job) = 0;
  // Leases up to `limit` non-final jobs whose next_attempt_at <= now and whose lease is free or
  // expired, oldest due first. The lease lasts until now + lease_for.
  virtual Result<std::vector<Job>> LeaseDueJobs(TimePoint now, const std::string& owner,
                                                Millis lease_for, int limit) = 0;
  // Leases one job in `state`, whatever its due time, when it is not final and its lease is
  // free or expired: a Live Response session that collects several files of one device takes
  // the other jobs waiting for that device along. nullopt when the job is busy, final or has
  // moved on to another state.
  virtual Result<std::optional<Job>> LeaseJob(int64_t id, const std::string& state, TimePoint now,
                                              const std::string& owner, Millis lease_for) = 0;
  // Writes the job's new state and releases the lease. A lease that ran out but was not taken
  // by anyone else still counts as held. Lost lease or final job: kConflict ("lease lost: job N
  // is held by X"); unknown job: kNotFound.
  virtual Status UpdateJob(const JobUpdate& update) = 0;
  // UpdateJob and EnqueueOutbox in one transaction (items whose key exists are skipped).
  virtual Status UpdateJobAndEnqueue(const JobUpdate& update,
                                     const std::vector<NewOutboxItem>& items) = 0;
  // Writes the payload of a job the caller holds the lease of, keeping the lease: a step records
  // that it is about to do something irreversible (a submission) before doing it.
  virtual Status SaveJobPayload(int64_t id, const std::string& lease_owner,
                                const std::string& payload) = 0;
  // Updates only the reason of a non-final job, without a lease: a job parked while its
  // write-back is retried shows why the write-back is waiting.
  virtual Status SetJobReason(int64_t id, const std::string& reason) = 0;
  virtual Result<std::optional<Job>> GetJob(int64_t id) = 0;
  virtual Result<std::optional<Job>> GetJobByKey(const std::string& key) = 0;
  virtual Result<std::vector<Job>> ListJobs(const JobFilter& filter) = 0;
  virtual Result<std::vector<JobCount>> CountJobs() = 0;
  // Jobs whose key is `key` or starts with `key` + ':' (one alert's jobs: "mde:<alertId>"), by
  // id, at most `limit`. Uses the unique key index (a range scan).
  virtual Result<std::vector<Job>> ListJobsUnderKey(const std::string& key, int limit) = 0;
  // Makes non-final, unleased jobs of `group_key` in `state` due now. Returns how many.
  // (An expired lease counts as unleased; a job already due earlier keeps its earlier time.)
  virtual Result<int> WakeJobs(const std::string& group_key, const std::string& state,
                               TimePoint now) = 0;
  // Reopens final jobs of `kind` that ended in `final_state`: they become non-final in
  // `new_state`, due now, attempts reset. For work parked until a capability is configured.
  virtual Result<int> ReopenJobs(const std::string& kind, const std::string& final_state,
                                 const std::string& new_state, const std::string& reason,
                                 TimePoint now) = 0;
  // Reopens one final job for an operator's replay: non-final in `new_state`, due now, attempts
  // reset, with `payload` and `reason`. kConflict when the job is not final (it is still
  // working; replay it once it settled), kNotFound when there is no such job.
  virtual Status ReopenJob(int64_t id, const std::string& new_state, const std::string& reason,
                           const std::string& payload, TimePoint now) = 0;
  // Drops every lease held by `owner` (clean shutdown) or, with an empty owner, every lease
  // (start-up of a single-instance store: the previous process is gone).
  virtual Status ReleaseLeases(const std::string& owner) = 0;
  // When the next job or write-back becomes due (nullopt: nothing open), so an idle engine can
  // sleep until then instead of polling.
  virtual Result<std::optional<TimePoint>> NextDueTime() = 0;
  // InsertJob for many jobs in one transaction (a page of alerts); one bool per job.
  virtual Result<std::vector<bool>> InsertJobs(const std::vector<NewJob>& jobs) = 0;
  // next_attempt_at of the oldest non-final job that is due at `now`, if any. Jobs under a live
  // lease are being worked on, not waiting, and do not count.
  virtual Result<std::optional<TimePoint>> OldestDueJob(TimePoint now) = 0;

  // Samples. ClaimSample makes `job_id` the owner of the sha256's collection and submission
  // when there is no row, when the row is "failed", or when it is "finished" with analysed_at
  // before `reuse_after` (too old to reuse). It returns the row as it is after the call; the
  // caller owns the work exactly when row.owner_job_id == job_id and row.state == "collecting".
  virtual Result<Sample> ClaimSample(const std::string& sha256, int64_t job_id, TimePoint now,
                                     TimePoint reuse_after) = 0;
  virtual Result<std::optional<Sample>> GetSample(const std::string& sha256) = 0;
  // Upserts the whole row (the owner records progress: submitted, finished, failed).
  virtual Status PutSample(const Sample& sample) = 0;

  // Outbox. EnqueueOutbox returns false when the idempotency key exists.
  virtual Result<bool> EnqueueOutbox(const NewOutboxItem& item) = 0;
  // Leases due "pending" items like LeaseDueJobs, and counts the attempt: attempts is
  // incremented in the same transaction, *before* the caller delivers (write-ahead).
  virtual Result<std::vector<OutboxItem>> LeaseDueOutbox(TimePoint now, const std::string& owner,
                                                         Millis lease_for, int limit) = 0;
  virtual Status UpdateOutbox(const OutboxUpdate& update) = 0;
  // Finishes an outbox item and its job together: the item becomes done/failed and the job
  // gets `job_update` (which does not need the job's lease: the outbox owns the job's last step).
  // job_update.id == 0 finishes the item alone; a job id other than the item's is refused.
  virtual Status CompleteOutbox(const OutboxUpdate& update, const JobUpdate& job_update) = 0;
  virtual Result<std::vector<OutboxItem>> ListOutbox(int64_t job_id) = 0;  // 0: all (newest 1000)
  // The write-back with this idempotency key (what was queued, and whether it was delivered).
  virtual Result<std::optional<OutboxItem>> GetOutboxByKey(const std::string& key) = 0;
  // Write-backs whose idempotency key starts with `prefix`, oldest first, at most `limit`
  // (a range scan of the key index: the members of one mail digest, "mail-digest-member:<n>:").
  virtual Result<std::vector<OutboxItem>> ListOutboxByKeyPrefix(const std::string& prefix,
                                                                int limit) = 0;

  // Read-only views for the ops listener (metrics, status page); bounded so they stay fast with
  // 100,000 rows.
  // Write-backs by kind and state.
  virtual Result<std::vector<OutboxCount>> CountOutbox() = 0;
  // Jobs that need a human's eye: failed ones and open ones whose current step has failed at
  // least once (attempts > 0), most recently updated first, at most `limit`.
  virtual Result<std::vector<Job>> ListTroubledJobs(int limit) = 0;

  // Job ids stored with samples and outbox items must name existing jobs (0: none); the SQLite
  // store enforces this with foreign keys (kConflict).

  // VMRay submission budget (a unit per job that needs a real submission, counted per UTC day)
  // and analysis slots (our submissions still being analysed). Both are atomic: two workers
  // never take the last unit or slot together.
  //
  // TakeBudgetUnit gives `job_id` a unit of `day` unless `limit` (> 0) units of that day are in
  // use; limit 0 is unlimited (the unit is still recorded, so usage shows). A job that already
  // holds a unit keeps it, whatever day it was taken on: a retry or a restart after a crash
  // reuses it. A unit counts while it was submitted or while its job is still working towards
  // a submission (not final, not writing back), so a job that ended without submitting frees
  // its unit without any clean-up step.
  virtual Result<BudgetGrant> TakeBudgetUnit(int64_t job_id, const std::string& day, int64_t limit,
                                             TimePoint now) = 0;
  // Gives the job's unit and slot back: VMRay created no analysis for it after all.
  virtual Status ReleaseBudgetUnit(int64_t job_id) = 0;
  // Units of `day` in use (as counted by TakeBudgetUnit).
  virtual Result<int64_t> BudgetUsed(const std::string& day) = 0;
  // Marks the job's unit as submitted and gives it an analysis slot unless `cap` (> 0) slots
  // are held; cap 0 is unlimited. A slot counts while its job is about to submit or analysing
  // (states new, collection_pending, downloading, waiting_for_analysis_slot, analysing) and not
  // final, so it is freed when the analysis finished or the job gave up. A job that holds a
  // slot keeps it. The job must hold a budget unit (kNotFound otherwise).
  virtual Result<SlotGrant> TakeAnalysisSlot(int64_t job_id, int64_t cap) = 0;

  // Cursors: small named values (last alert time seen, feed checkpoints).
  virtual Result<std::optional<std::string>> GetCursor(const std::string& name) = 0;
  virtual Status SetCursor(const std::string& name, const std::string& value) = 0;
};

struct SqliteOptions {
  std::string path;              // file path; ":memory:" for unit tests
  bool synchronous_full = true;  // fsync every commit (power-loss safe); false: WAL NORMAL
  Millis busy_timeout{5000};
};

// Opens (creating if needed) the database, sets WAL mode and applies pending migrations.
// Errors name the file and what to do (permissions, disk full, newer schema than this binary).
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, Clock& clock);

}  // namespace vc::store
