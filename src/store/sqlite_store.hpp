// The Store on one SQLite connection. Every call takes one mutex, so calls from many threads
// are serialised; statements are prepared once and reused. OpenSqliteStore (store.hpp) is the
// normal way in; the class is visible for tests that need the raw connection.
#pragma once

#include <memory>
#include <mutex>

#include "store/sqlite_db.hpp"
#include "store/store.hpp"

namespace vc::store {

class SqliteStore final : public Store {
 public:
  // `db` must already carry the current schema (ApplyMigrations). `clock` must outlive this.
  SqliteStore(std::unique_ptr<SqliteDb> db, Clock& clock);

  Result<bool> InsertJob(const NewJob& job) override;
  Result<std::vector<Job>> LeaseDueJobs(TimePoint now, const std::string& owner, Millis lease_for,
                                        int limit) override;
  Status UpdateJob(const JobUpdate& update) override;
  Status SaveJobPayload(int64_t id, const std::string& lease_owner,
                        const std::string& payload) override;
  Status UpdateJobAndEnqueue(const JobUpdate& update,
                             const std::vector<NewOutboxItem>& items) override;
  Result<std::optional<Job>> GetJob(int64_t id) override;
  Result<std::optional<Job>> GetJobByKey(const std::string& key) override;
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) override;
  Result<std::vector<JobCount>> CountJobs() override;
  Result<int> WakeJobs(const std::string& group_key, const std::string& state,
                       TimePoint now) override;
  Status ReleaseLeases(const std::string& owner) override;
  Result<std::optional<TimePoint>> OldestDueJob(TimePoint now) override;

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

  Result<std::optional<std::string>> GetCursor(const std::string& name) override;
  Status SetCursor(const std::string& name, const std::string& value) override;

  // Runs `sql` on the store's connection under its lock (tests: pragmas, fault injection).
  Status ExecForTest(std::string_view sql);

 private:
  // The *Locked helpers expect mu_ held (and, where they write several rows, a transaction).
  Result<std::optional<Job>> GetJobLocked(int64_t id);
  Status UpdateJobLocked(const JobUpdate& update, bool check_lease);
  Error JobUpdateRefused(int64_t id, const std::string& owner);
  Result<bool> EnqueueLocked(const NewOutboxItem& item);
  Result<std::optional<OutboxItem>> GetOutboxLocked(int64_t id);
  Status UpdateOutboxLocked(const OutboxUpdate& update);
  Result<std::optional<Sample>> GetSampleLocked(const std::string& sha256);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  Clock& clock_;
};

}  // namespace vc::store
