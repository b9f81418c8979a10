// The Store on one SQLite connection. Every call takes one mutex, so calls from many threads
// are serialised; statements are prepared once and reused. Writes are group-committed: writes
// that arrive while another batch commits wait, then run together as savepoints of one
// transaction, so with synchronous=FULL many workers share one fsync instead of queueing for
// one each, and every write still commits (or fails) on its own. OpenSqliteStore (store.hpp) is the
// normal way in; the class is visible for tests that need the raw connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "store/sqlite_db.hpp"
#include "store/store.hpp"

namespace vc::store {

class SqliteStore final : public Store {
 public:
  // `db` must already carry the current schema (ApplyMigrations). `clock` must outlive this.
  SqliteStore(std::unique_ptr<SqliteDb> db, Clock& clock);

  Result<bool> InsertJob(const NewJob& job) override;
  Result<std::optional<Job>> LeaseJob(int64_t id, const std::string& state, TimePoint now,
                                      const std::string& owner, Millis lease_for) override;
  Result<std::vector<Job>> LeaseDueJobs(TimePoint now, const std::string& owner, Millis lease_for,
                                        int limit) override;
  Status UpdateJob(const JobUpdate& update) override;
  Status SaveJobPayload(int64_t id, const std::string& lease_owner,
                        const std::string& payload) override;
  Status UpdateJobAndEnqueue(const JobUpdate& update,
                             const std::vector<NewOutboxItem>& items) override;
  Status SetJobReason(int64_t id, const std::string& reason) override;
  Result<std::optional<Job>> GetJob(int64_t id) override;
  Result<std::optional<Job>> GetJobByKey(const std::string& key) override;
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) override;
  Result<std::vector<JobCount>> CountJobs() override;
  Result<std::vector<Job>> ListJobsUnderKey(const std::string& key, int limit) override;
  Status ReopenJob(int64_t id, const std::string& new_state, const std::string& reason,
                   const std::string& payload, TimePoint now) override;
  Result<int> ReopenJobs(const std::string& kind, const std::string& final_state,
                         const std::string& new_state, const std::string& reason,
                         TimePoint now) override;
  Result<int> WakeJobs(const std::string& group_key, const std::string& state,
                       TimePoint now) override;
  Status ReleaseLeases(const std::string& owner) override;
  Result<std::optional<TimePoint>> OldestDueJob(TimePoint now) override;
  Result<std::optional<TimePoint>> NextDueTime() override;
  Result<std::vector<bool>> InsertJobs(const std::vector<NewJob>& jobs) override;

  Result<Sample> ClaimSample(const std::string& sha256, int64_t job_id, TimePoint now,
                             TimePoint reuse_after) override;
  Result<std::optional<Sample>> GetSample(const std::string& sha256) override;
  Status PutSample(const Sample& sample) override;

  Result<bool> EnqueueOutbox(const NewOutboxItem& item) override;
  Result<std::vector<OutboxItem>> LeaseDueOutbox(TimePoint now, const std::string& owner,
                                                 Millis lease_for, int limit) override;
  Status UpdateOutbox(const OutboxUpdate& update) override;
  Status CompleteOutbox(const OutboxUpdate& update, const JobUpdate& job_update) override;
  Result<std::vector<OutboxItem>> ListOutbox(int64_t job_id) override;
  Result<std::optional<OutboxItem>> GetOutboxByKey(const std::string& key) override;
  Result<std::vector<OutboxItem>> ListOutboxByKeyPrefix(const std::string& prefix,
                                                        int limit) override;
  Result<std::vector<OutboxCount>> CountOutbox() override;
  Result<std::vector<Job>> ListTroubledJobs(int limit) override;

  Result<BudgetGrant> TakeBudgetUnit(int64_t job_id, const std::string& day, int64_t limit,
                                     TimePoint now) override;
  Status ReleaseBudgetUnit(int64_t job_id) override;
  Result<int64_t> BudgetUsed(const std::string& day) override;
  Result<SlotGrant> TakeAnalysisSlot(int64_t job_id, int64_t cap) override;

  Result<std::optional<std::string>> GetCursor(const std::string& name) override;
  Status SetCursor(const std::string& name, const std::string& value) override;

  // Transactions committed and writes run so far (tests: group commit shares transactions).
  int64_t batches_committed() const { return batches_.load(); }
  int64_t writes_run() const { return writes_.load(); }

  // Runs `sql` on the store's connection under its lock (tests: pragmas, fault injection).
  Status ExecForTest(std::string_view sql);

 private:
  struct PendingWrite {
    std::function<bool()> run;  // runs the write; false when it failed (its savepoint is undone)
    std::function<void(const Error&)> fail;  // the batch could not commit
    bool done = false;
  };
  template <class T>
  Result<T> Write(const char* what, const std::function<Result<T>()>& body) {
    std::optional<Result<T>> result;
    PendingWrite w;
    w.run = [&] {
      result.emplace(body());
      return result->has_value();
    };
    w.fail = [&](const Error& e) { result.emplace(e); };
    (void)what;
    RunWrite(w);
    return std::move(*result);
  }
  void RunWrite(PendingWrite& write);
  void CommitBatch(const std::vector<PendingWrite*>& batch);

  // The *Locked helpers expect mu_ held (and, where they write several rows, a transaction).
  Result<std::optional<Job>> GetJobLocked(int64_t id);
  Status UpdateJobLocked(const JobUpdate& update, bool check_lease);
  Error JobUpdateRefused(int64_t id, const std::string& owner);
  Result<bool> EnqueueLocked(const NewOutboxItem& item);
  Result<std::optional<OutboxItem>> GetOutboxLocked(int64_t id);
  Status UpdateOutboxLocked(const OutboxUpdate& update);
  Result<std::optional<Sample>> GetSampleLocked(const std::string& sha256);
  Result<int64_t> BudgetUsedLocked(const std::string& day);

  std::mutex mu_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<PendingWrite*> queue_;
  bool committing_ = false;
  std::atomic<int64_t> batches_{0};
  std::atomic<int64_t> writes_{0};
  std::unique_ptr<SqliteDb> db_;
  Clock& clock_;
};

}  // namespace vc::store
