#include "store/sqlite_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "store/migrations.hpp"

namespace vc::store {
namespace {

// Column lists as macros so every statement stays one string literal (the statement cache key).
#define VC_JOB_COLUMNS                                                                   \
  "id, kind, key, state, reason, payload, group_key, attempts, final, next_attempt_at, " \
  "created_at, updated_at, lease_owner, lease_until"
#define VC_OUTBOX_COLUMNS                                                         \
  "id, idempotency_key, kind, target, payload, job_id, state, reason, attempts, " \
  "next_attempt_at, created_at, done_at, lease_owner, lease_until"
#define VC_SAMPLE_COLUMNS                                                                 \
  "sha256, state, owner_job_id, sample_id, submission_id, verdict, result_json, reason, " \
  "analysed_at, submitted_at, updated_at"

Job ReadJob(const Statement& row) {
  Job job;
  job.id = row.Int(0);
  job.kind = row.Text(1);
  job.key = row.Text(2);
  job.state = row.Text(3);
  job.reason = row.Text(4);
  job.payload = row.Text(5);
  job.group_key = row.Text(6);
  job.attempts = static_cast<int>(row.Int(7));
  job.final = row.Int(8) != 0;
  job.next_attempt_at = row.Time(9);
  job.created_at = row.Time(10);
  job.updated_at = row.Time(11);
  job.lease_owner = row.Text(12);
  job.lease_until = row.Time(13);
  return job;
}

OutboxItem ReadOutbox(const Statement& row) {
  OutboxItem item;
  item.id = row.Int(0);
  item.idempotency_key = row.Text(1);
  item.kind = row.Text(2);
  item.target = row.Text(3);
  item.payload = row.Text(4);
  item.job_id = row.Int(5);  // NULL reads as 0: no job
  item.state = row.Text(6);
  item.reason = row.Text(7);
  item.attempts = static_cast<int>(row.Int(8));
  item.next_attempt_at = row.Time(9);
  item.created_at = row.Time(10);
  item.done_at = row.OptTime(11);
  item.lease_owner = row.Text(12);
  item.lease_until = row.Time(13);
  return item;
}

// Every remaining row of a SELECT of VC_OUTBOX_COLUMNS.
Result<std::vector<OutboxItem>> ReadOutboxRows(Statement& select) {
  std::vector<OutboxItem> items;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    items.push_back(ReadOutbox(select));
  }
  return items;
}

Sample ReadSample(const Statement& row) {
  Sample sample;
  sample.sha256 = row.Text(0);
  sample.state = row.Text(1);
  sample.owner_job_id = row.Int(2);
  sample.sample_id = row.Int(3);
  sample.submission_id = row.Int(4);
  sample.verdict = row.Text(5);
  sample.result_json = row.Text(6);
  sample.reason = row.Text(7);
  sample.analysed_at = row.OptTime(8);
  sample.submitted_at = row.OptTime(9);
  sample.updated_at = row.Time(10);
  return sample;
}

// Job references are NULL when there is no job, so the foreign key checks only real ones.
Statement& BindJobRef(Statement& statement, int index, int64_t job_id) {
  return job_id == 0 ? statement.BindNull(index) : statement.BindInt(index, job_id);
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Status CheckNewJob(const NewJob& job) {
  if (job.kind.empty() || job.key.empty() || job.state.empty()) {
    return Invalid(
        fmt::format("a new job needs a kind, a key and a state (got kind '{}', key "
                    "'{}', state '{}')",
                    job.kind, job.key, job.state));
  }
  return Ok();
}

Status CheckJobUpdate(const JobUpdate& update, bool check_lease) {
  if (update.id <= 0) return Invalid(fmt::format("job update for invalid job id {}", update.id));
  if (update.state.empty()) {
    return Invalid(fmt::format("job update for job {} has no state", update.id));
  }
  if (check_lease && update.lease_owner.empty()) {
    return Invalid(
        fmt::format("job update for job {} names no lease owner; only the worker "
                    "holding the lease may update a job",
                    update.id));
  }
  return Ok();
}

Status CheckNewOutbox(const NewOutboxItem& item) {
  if (item.idempotency_key.empty() || item.kind.empty()) {
    return Invalid(
        fmt::format("a write-back needs an idempotency key and a kind (got key '{}', "
                    "kind '{}')",
                    item.idempotency_key, item.kind));
  }
  if (item.job_id < 0)
    return Invalid(fmt::format("write-back with invalid job id {}", item.job_id));
  return Ok();
}

bool IsOutboxState(const std::string& state) {
  return state == "pending" || state == "done" || state == "failed";
}

Status CheckOutboxUpdate(const OutboxUpdate& update) {
  if (update.id <= 0) return Invalid(fmt::format("outbox update for invalid id {}", update.id));
  if (!IsOutboxState(update.state)) {
    return Invalid(fmt::format("outbox item {}: state '{}' is not one of pending, done, failed",
                               update.id, update.state));
  }
  if (update.lease_owner.empty()) {
    return Invalid(fmt::format("outbox update for item {} names no lease owner", update.id));
  }
  return Ok();
}

Status CheckLeaseRequest(const std::string& owner, Millis lease_for) {
  if (owner.empty()) return Invalid("a lease needs a non-empty owner");
  if (lease_for.count() <= 0) {
    return Invalid(fmt::format("a lease must last a positive time (got {} ms)", lease_for.count()));
  }
  return Ok();
}

bool IsSampleState(const std::string& state) {
  return state == "collecting" || state == "submitted" || state == "finished" || state == "failed";
}

}  // namespace

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db, Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

Status SqliteStore::ExecForTest(std::string_view sql) {
  std::lock_guard lock(mu_);
  return db_->Exec(sql, "running test SQL");
}

// ---- group commit --------------------------------------------------------------------------

void SqliteStore::RunWrite(PendingWrite& write) {
  std::unique_lock queue(queue_mu_);
  queue_.push_back(&write);
  while (!write.done) {
    if (committing_) {
      queue_cv_.wait(queue);
      continue;
    }
    // Leader: take everything queued so far and commit it as one transaction.
    committing_ = true;
    std::vector<PendingWrite*> batch;
    batch.swap(queue_);
    queue.unlock();
    CommitBatch(batch);
    queue.lock();
    for (PendingWrite* w : batch) w->done = true;
    committing_ = false;
    queue_cv_.notify_all();
  }
}

void SqliteStore::CommitBatch(const std::vector<PendingWrite*>& batch) {
  std::lock_guard lock(mu_);
  std::vector<PendingWrite*> kept;
  auto begin = [&]() -> Status {
    VC_ASSIGN_OR_RETURN(Statement st, db_->Prepare("BEGIN IMMEDIATE", "starting a write"));
    return st.Run();
  };
  auto exec = [&](const char* sql) -> Status {
    VC_ASSIGN_OR_RETURN(Statement st, db_->Prepare(sql, "writing"));
    return st.Run();
  };
  if (auto s = begin(); !s) {
    for (PendingWrite* w : batch) w->fail(s.error());
    return;
  }
  for (PendingWrite* w : batch) {
    if (auto s = exec("SAVEPOINT vc_write"); !s) {
      w->fail(s.error());
      continue;
    }
    if (w->run()) {
      (void)exec("RELEASE vc_write");
      kept.push_back(w);
      continue;
    }
    if (sqlite3_get_autocommit(db_->raw()) != 0) {
      // The failure (disk full, I/O) rolled back the whole transaction, earlier writes included:
      // they failed too, with the same cause; start again for the rest.
      const Error cause =
          MakeError(ErrorCode::kUnavailable,
                    "a write in the same batch failed and SQLite rolled the batch back; retry");
      for (PendingWrite* k : kept) k->fail(cause);
      kept.clear();
      if (auto s = begin(); !s) {
        for (PendingWrite* rest : batch) {
          if (!rest->done && rest != w) rest->fail(s.error());
        }
        return;
      }
      continue;
    }
    (void)exec("ROLLBACK TO vc_write");
    (void)exec("RELEASE vc_write");
  }
  Status committed = exec("COMMIT");
  writes_ += static_cast<int64_t>(batch.size());
  if (committed) ++batches_;
  if (!committed) {
    Error e = committed.error();
    db_->RollbackIfOpen();
    for (PendingWrite* k : kept) k->fail(e);
  }
}

// ---- jobs ----------------------------------------------------------------------------------

Result<bool> SqliteStore::InsertJob(const NewJob& job) {
  VC_ASSIGN_OR_RETURN(std::vector<bool> inserted, InsertJobs({job}));
  return static_cast<bool>(inserted.front());
}

Result<std::vector<Job>> SqliteStore::LeaseDueJobs(TimePoint now, const std::string& owner,
                                                   Millis lease_for, int limit) {
  VC_RETURN_IF_ERROR(CheckLeaseRequest(owner, lease_for));
  std::vector<Job> jobs;
  if (limit <= 0) return jobs;
  return Write<std::vector<Job>>("LeaseDueJobs", [&]() -> Result<std::vector<Job>> {
    // One statement picks and leases, so no second caller can pick the same rows in between.
    VC_ASSIGN_OR_RETURN(
        Statement lease,
        db_->Prepare("UPDATE jobs SET lease_owner = ?1, lease_until = ?2 WHERE id IN ("
                     "SELECT id FROM jobs WHERE final = 0 AND next_attempt_at <= ?3 "
                     "AND (lease_owner = '' OR lease_until <= ?3) "
                     "ORDER BY next_attempt_at, id LIMIT ?4) RETURNING " VC_JOB_COLUMNS,
                     "leasing due jobs"));
    lease.BindText(1, owner).BindTime(2, now + lease_for).BindTime(3, now).BindInt(4, limit);
    while (true) {
      VC_ASSIGN_OR_RETURN(bool row, lease.Step());
      if (!row) break;
      jobs.push_back(ReadJob(lease));
    }
    // RETURNING gives no order guarantee.
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
      return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
    });
    return jobs;
  });
}

Result<std::optional<Job>> SqliteStore::LeaseJob(int64_t id, const std::string& state,
                                                 TimePoint now, const std::string& owner,
                                                 Millis lease_for) {
  VC_RETURN_IF_ERROR(CheckLeaseRequest(owner, lease_for));
  return Write<std::optional<Job>>("LeaseJob", [&]() -> Result<std::optional<Job>> {
    VC_ASSIGN_OR_RETURN(
        Statement lease,
        db_->Prepare("UPDATE jobs SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3 "
                     "AND state = ?4 AND final = 0 AND (lease_owner = '' OR lease_until <= ?5) "
                     "RETURNING " VC_JOB_COLUMNS,
                     "leasing a job"));
    lease.BindText(1, owner).BindTime(2, now + lease_for).BindInt(3, id).BindText(4, state);
    lease.BindTime(5, now);
    VC_ASSIGN_OR_RETURN(bool row, lease.Step());
    if (!row) return std::optional<Job>();
    return std::optional<Job>(ReadJob(lease));
  });
}

Result<std::optional<Job>> SqliteStore::GetJobLocked(int64_t id) {
  VC_ASSIGN_OR_RETURN(
      Statement select,
      db_->Prepare("SELECT " VC_JOB_COLUMNS " FROM jobs WHERE id = ?1", "reading a job"));
  select.BindInt(1, id);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<Job>();
  return std::optional<Job>(ReadJob(select));
}

Error SqliteStore::JobUpdateRefused(int64_t id, const std::string& owner) {
  auto job = GetJobLocked(id);
  if (!job) return job.error();
  if (!job->has_value()) {
    return MakeError(ErrorCode::kNotFound, fmt::format("job {} does not exist", id));
  }
  const Job& current = **job;
  if (current.final) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("job {} is already final (state '{}'); a final job is never "
                                 "updated again",
                                 id, current.state));
  }
  if (current.lease_owner.empty()) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("lease lost: job {} is not leased by {} (its lease expired and "
                                 "was taken and released, or was released at start-up); drop "
                                 "this step's result",
                                 id, owner));
  }
  return MakeError(ErrorCode::kConflict,
                   fmt::format("lease lost: job {} is held by {}; drop this step's result", id,
                               current.lease_owner));
}

Status SqliteStore::UpdateJobLocked(const JobUpdate& update, bool check_lease) {
  // An expired lease still counts as held while nobody else has taken it: the row is unchanged
  // since this owner read it, so its result is as good as one delivered in time.
  VC_ASSIGN_OR_RETURN(
      Statement write,
      check_lease ? db_->Prepare(
                        "UPDATE jobs SET state = ?2, reason = ?3, payload = coalesce(?4, payload), "
                        "attempts = ?5, final = ?6, next_attempt_at = ?7, updated_at = ?8, "
                        "lease_owner = '', lease_until = 0 "
                        "WHERE id = ?1 AND final = 0 AND lease_owner = ?9",
                        "updating a job")
                  : db_->Prepare(
                        "UPDATE jobs SET state = ?2, reason = ?3, payload = coalesce(?4, payload), "
                        "attempts = ?5, final = ?6, next_attempt_at = ?7, updated_at = ?8, "
                        "lease_owner = '', lease_until = 0 WHERE id = ?1",
                        "updating a job"));
  write.BindInt(1, update.id)
      .BindText(2, update.state)
      .BindText(3, update.reason)
      .BindOptText(4, update.payload)
      .BindInt(5, update.attempts)
      .BindInt(6, update.final ? 1 : 0)
      .BindTime(7, update.next_attempt_at)
      .BindTime(8, clock_.Now());
  if (check_lease) write.BindText(9, update.lease_owner);
  VC_RETURN_IF_ERROR(write.Run());
  if (db_->Changes() == 1) return Ok();
  return JobUpdateRefused(update.id, update.lease_owner);
}

Status SqliteStore::UpdateJob(const JobUpdate& update) {
  VC_RETURN_IF_ERROR(CheckJobUpdate(update, /*check_lease=*/true));
  return Write<void>("UpdateJob",
                     [&]() -> Status { return UpdateJobLocked(update, /*check_lease=*/true); });
}

Status SqliteStore::SaveJobPayload(int64_t id, const std::string& lease_owner,
                                   const std::string& payload) {
  return Write<void>("SaveJobPayload", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(Statement write,
                        db_->Prepare("UPDATE jobs SET payload = ?2, updated_at = ?3 "
                                     "WHERE id = ?1 AND final = 0 AND lease_owner = ?4",
                                     "saving a job checkpoint"));
    write.BindInt(1, id).BindText(2, payload).BindTime(3, clock_.Now()).BindText(4, lease_owner);
    VC_RETURN_IF_ERROR(write.Run());
    if (db_->Changes() == 1) return Ok();
    return JobUpdateRefused(id, lease_owner);
  });
}

Status SqliteStore::UpdateJobAndEnqueue(const JobUpdate& update,
                                        const std::vector<NewOutboxItem>& items) {
  VC_RETURN_IF_ERROR(CheckJobUpdate(update, /*check_lease=*/true));
  for (const NewOutboxItem& item : items) VC_RETURN_IF_ERROR(CheckNewOutbox(item));
  return Write<void>("UpdateJobAndEnqueue", [&]() -> Status {
    return db_->Transaction("updating a job and queueing its write-backs", [&]() -> Status {
      VC_RETURN_IF_ERROR(UpdateJobLocked(update, /*check_lease=*/true));
      for (const NewOutboxItem& item : items) VC_RETURN_IF_ERROR(EnqueueLocked(item));
      return Ok();
    });
  });
}

Status SqliteStore::SetJobReason(int64_t id, const std::string& reason) {
  return Write<void>("SetJobReason", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(
        Statement write,
        db_->Prepare("UPDATE jobs SET reason = ?2, updated_at = ?3 WHERE id = ?1 AND final = 0",
                     "noting a job's reason"));
    write.BindInt(1, id).BindText(2, reason).BindTime(3, clock_.Now());
    return write.Run();
  });
}

Result<std::optional<Job>> SqliteStore::GetJob(int64_t id) {
  std::lock_guard lock(mu_);
  return GetJobLocked(id);
}

Result<std::optional<Job>> SqliteStore::GetJobByKey(const std::string& key) {
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(
      Statement select,
      db_->Prepare("SELECT " VC_JOB_COLUMNS " FROM jobs WHERE key = ?1", "reading a job by key"));
  select.BindText(1, key);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<Job>();
  return std::optional<Job>(ReadJob(select));
}

Result<std::vector<Job>> SqliteStore::ListJobs(const JobFilter& filter) {
  if (filter.limit <= 0) {
    return Invalid(fmt::format("job list limit must be positive (got {})", filter.limit));
  }
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(
      Statement select,
      db_->Prepare("SELECT " VC_JOB_COLUMNS " FROM jobs WHERE (?1 = '' OR kind = ?1) "
                   "AND (?2 = '' OR state = ?2) AND (?3 IS NULL OR final = ?3) "
                   "AND (?4 = '' OR group_key = ?4) ORDER BY id DESC LIMIT ?5",
                   "listing jobs"));
  select.BindText(1, filter.kind).BindText(2, filter.state).BindText(4, filter.group_key);
  if (filter.final) {
    select.BindInt(3, *filter.final ? 1 : 0);
  } else {
    select.BindNull(3);
  }
  select.BindInt(5, filter.limit);
  std::vector<Job> jobs;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(ReadJob(select));
  }
  return jobs;
}

Result<std::vector<Job>> SqliteStore::ListJobsUnderKey(const std::string& key, int limit) {
  if (key.empty() || limit <= 0)
    return Invalid("ListJobsUnderKey needs a key and a positive limit");
  std::lock_guard lock(mu_);
  // key = ?1, or ?2 <= key < ?3 with ?2 = key + ':' and ?3 = key + ';' (':' + 1): a range on
  // the unique index instead of a LIKE that SQLite could not use with bound parameters.
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT " VC_JOB_COLUMNS " FROM jobs WHERE key = ?1 OR "
                                   "(key >= ?2 AND key < ?3) ORDER BY id LIMIT ?4",
                                   "listing the jobs under a key"));
  select.BindText(1, key).BindText(2, key + ":").BindText(3, key + ";").BindInt(4, limit);
  std::vector<Job> jobs;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(ReadJob(select));
  }
  return jobs;
}

Result<std::vector<JobCount>> SqliteStore::CountJobs() {
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state "
                                   "ORDER BY kind, state",
                                   "counting jobs"));
  std::vector<JobCount> counts;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    counts.push_back(JobCount{select.Text(0), select.Text(1), select.Int(2)});
  }
  return counts;
}

Result<int> SqliteStore::WakeJobs(const std::string& group_key, const std::string& state,
                                  TimePoint now) {
  if (group_key.empty()) {
    return Invalid("WakeJobs needs a group key; an empty one would wake every ungrouped job");
  }
  {
    // Most finished samples have nobody waiting: find that out with a read, not a write.
    std::lock_guard lock(mu_);
    VC_ASSIGN_OR_RETURN(Statement any,
                        db_->Prepare("SELECT 1 FROM jobs WHERE group_key = ?1 AND state = ?2 "
                                     "AND final = 0 LIMIT 1",
                                     "looking for waiting jobs"));
    any.BindText(1, group_key).BindText(2, state);
    VC_ASSIGN_OR_RETURN(bool found, any.Step());
    if (!found) return 0;
  }
  return Write<int>("WakeJobs", [&]() -> Result<int> {
    // min(): a job that was already due keeps its place in the queue. An expired lease counts as
    // free, as it does for leasing.
    VC_ASSIGN_OR_RETURN(
        Statement wake,
        db_->Prepare("UPDATE jobs SET next_attempt_at = min(next_attempt_at, ?3), updated_at = ?3 "
                     "WHERE group_key = ?1 AND state = ?2 AND final = 0 "
                     "AND (lease_owner = '' OR lease_until <= ?3)",
                     "waking jobs"));
    wake.BindText(1, group_key).BindText(2, state).BindTime(3, now);
    VC_RETURN_IF_ERROR(wake.Run());
    return static_cast<int>(db_->Changes());
  });
}

Result<int> SqliteStore::ReopenJobs(const std::string& kind, const std::string& final_state,
                                    const std::string& new_state, const std::string& reason,
                                    TimePoint now) {
  return Write<int>("ReopenJobs", [&]() -> Result<int> {
    VC_ASSIGN_OR_RETURN(
        Statement reopen,
        db_->Prepare("UPDATE jobs SET final = 0, state = ?3, reason = ?4, attempts = 0, "
                     "next_attempt_at = ?5, updated_at = ?5 "
                     "WHERE kind = ?1 AND state = ?2 AND final = 1",
                     "reopening jobs"));
    reopen.BindText(1, kind).BindText(2, final_state).BindText(3, new_state).BindText(4, reason);
    reopen.BindTime(5, now);
    VC_RETURN_IF_ERROR(reopen.Run());
    return static_cast<int>(db_->Changes());
  });
}

Status SqliteStore::ReopenJob(int64_t id, const std::string& new_state, const std::string& reason,
                              const std::string& payload, TimePoint now) {
  return Write<void>("ReopenJob", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(
        Statement reopen,
        db_->Prepare("UPDATE jobs SET final = 0, state = ?2, reason = ?3, payload = ?4, "
                     "attempts = 0, next_attempt_at = ?5, updated_at = ?5, lease_owner = '', "
                     "lease_until = 0 WHERE id = ?1 AND final = 1",
                     "reopening a job"));
    reopen.BindInt(1, id).BindText(2, new_state).BindText(3, reason).BindText(4, payload);
    reopen.BindTime(5, now);
    VC_RETURN_IF_ERROR(reopen.Run());
    if (db_->Changes() == 1) return Ok();
    VC_ASSIGN_OR_RETURN(auto job, GetJobLocked(id));
    if (!job) return MakeError(ErrorCode::kNotFound, fmt::format("there is no job {}", id));
    return MakeError(ErrorCode::kConflict,
                     fmt::format("job {} is still working ({}); it can be replayed once it has "
                                 "settled",
                                 id, job->state));
  });
}

Status SqliteStore::ReleaseLeases(const std::string& owner) {
  return Write<void>("ReleaseLeases", [&]() -> Status {
    return db_->Transaction("releasing leases", [&]() -> Status {
      {
        VC_ASSIGN_OR_RETURN(
            Statement jobs,
            db_->Prepare("UPDATE jobs SET lease_owner = '', lease_until = 0 "
                         "WHERE lease_owner <> '' AND (?1 = '' OR lease_owner = ?1)",
                         "releasing job leases"));
        jobs.BindText(1, owner);
        VC_RETURN_IF_ERROR(jobs.Run());
      }
      VC_ASSIGN_OR_RETURN(Statement outbox,
                          db_->Prepare("UPDATE outbox SET lease_owner = '', lease_until = 0 "
                                       "WHERE lease_owner <> '' AND (?1 = '' OR lease_owner = ?1)",
                                       "releasing outbox leases"));
      outbox.BindText(1, owner);
      return outbox.Run();
    });
  });
}

Result<std::optional<TimePoint>> SqliteStore::NextDueTime() {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> next;
  // A leased row is due again only when its lease runs out (its worker reports before that).
  for (const char* sql :
       {"SELECT min(CASE WHEN lease_owner = '' THEN next_attempt_at "
        "ELSE max(next_attempt_at, lease_until) END) FROM jobs WHERE final = 0",
        "SELECT min(CASE WHEN lease_owner = '' THEN next_attempt_at "
        "ELSE max(next_attempt_at, lease_until) END) FROM outbox WHERE state = 'pending'"}) {
    VC_ASSIGN_OR_RETURN(Statement select, db_->Prepare(sql, "finding the next due time"));
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (row && !select.IsNull(0) && (!next || select.Time(0) < *next)) next = select.Time(0);
  }
  return next;
}

Result<std::vector<bool>> SqliteStore::InsertJobs(const std::vector<NewJob>& jobs) {
  for (const NewJob& job : jobs) VC_RETURN_IF_ERROR(CheckNewJob(job));
  return Write<std::vector<bool>>("InsertJobs", [&]() -> Result<std::vector<bool>> {
    std::vector<bool> inserted;
    inserted.reserve(jobs.size());
    for (const NewJob& job : jobs) {
      VC_ASSIGN_OR_RETURN(
          Statement insert,
          db_->Prepare("INSERT INTO jobs(kind, key, state, payload, group_key, next_attempt_at, "
                       "created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
                       "ON CONFLICT(key) DO NOTHING",
                       "inserting a job"));
      insert.BindText(1, job.kind)
          .BindText(2, job.key)
          .BindText(3, job.state)
          .BindText(4, job.payload)
          .BindText(5, job.group_key)
          .BindTime(6, job.next_attempt_at)
          .BindTime(7, clock_.Now());
      VC_RETURN_IF_ERROR(insert.Run());
      inserted.push_back(db_->Changes() == 1);
    }
    return inserted;
  });
}

Result<std::optional<TimePoint>> SqliteStore::OldestDueJob(TimePoint now) {
  std::lock_guard lock(mu_);
  // A job under a live lease is being worked on, not waiting, so it does not count.
  VC_ASSIGN_OR_RETURN(
      Statement select,
      db_->Prepare("SELECT min(next_attempt_at) FROM jobs WHERE final = 0 AND next_attempt_at <= "
                   "?1 AND (lease_owner = '' OR lease_until <= ?1)",
                   "finding the oldest due job"));
  select.BindTime(1, now);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row || select.IsNull(0)) return std::optional<TimePoint>();
  return std::optional<TimePoint>(select.Time(0));
}

// ---- samples -------------------------------------------------------------------------------

Result<std::optional<Sample>> SqliteStore::GetSampleLocked(const std::string& sha256) {
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT " VC_SAMPLE_COLUMNS " FROM samples WHERE sha256 = ?1",
                                   "reading a sample"));
  select.BindText(1, sha256);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<Sample>();
  return std::optional<Sample>(ReadSample(select));
}

Result<Sample> SqliteStore::ClaimSample(const std::string& sha256, int64_t job_id, TimePoint now,
                                        TimePoint reuse_after) {
  if (sha256.empty()) return Invalid("ClaimSample needs a sha256");
  if (job_id <= 0) return Invalid(fmt::format("ClaimSample needs a job id (got {})", job_id));
  return Write<Sample>("ClaimSample", [&]() -> Result<Sample> {
    return db_->Transaction("claiming a sample", [&]() -> Result<Sample> {
      VC_ASSIGN_OR_RETURN(std::optional<Sample> existing, GetSampleLocked(sha256));
      if (!existing) {
        VC_ASSIGN_OR_RETURN(
            Statement insert,
            db_->Prepare("INSERT INTO samples(sha256, state, owner_job_id, updated_at) "
                         "VALUES(?1, 'collecting', ?2, ?3)",
                         "claiming a new sample"));
        insert.BindText(1, sha256).BindInt(2, job_id).BindTime(3, now);
        VC_RETURN_IF_ERROR(insert.Run());
      } else {
        const bool stale = existing->state == "finished" &&
                           (!existing->analysed_at || *existing->analysed_at < reuse_after);
        if (existing->state == "failed" || stale) {
          // The new owner collects and submits again: results of the old attempt go, the VMRay
          // sample id stays (it names the file in VMRay, which has not changed).
          VC_ASSIGN_OR_RETURN(
              Statement take,
              db_->Prepare("UPDATE samples SET state = 'collecting', owner_job_id = ?2, "
                           "submission_id = 0, verdict = '', result_json = '', reason = '', "
                           "analysed_at = NULL, submitted_at = NULL, updated_at = ?3 "
                           "WHERE sha256 = ?1",
                           "taking over a sample"));
          take.BindText(1, sha256).BindInt(2, job_id).BindTime(3, now);
          VC_RETURN_IF_ERROR(take.Run());
        } else {
          return *std::move(existing);
        }
      }
      VC_ASSIGN_OR_RETURN(std::optional<Sample> after, GetSampleLocked(sha256));
      if (!after) {
        return MakeError(ErrorCode::kInternal,
                         fmt::format("sample {} vanished while it was claimed", sha256));
      }
      return *std::move(after);
    });
  });
}

Result<std::optional<Sample>> SqliteStore::GetSample(const std::string& sha256) {
  std::lock_guard lock(mu_);
  return GetSampleLocked(sha256);
}

Status SqliteStore::PutSample(const Sample& sample) {
  if (sample.sha256.empty()) return Invalid("PutSample needs a sha256");
  if (!IsSampleState(sample.state)) {
    return Invalid(
        fmt::format("sample {}: state '{}' is not one of collecting, submitted, "
                    "finished, failed",
                    sample.sha256, sample.state));
  }
  return Write<void>("PutSample", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(
        Statement upsert,
        db_->Prepare("INSERT INTO samples(" VC_SAMPLE_COLUMNS ") "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                     "ON CONFLICT(sha256) DO UPDATE SET state = excluded.state, "
                     "owner_job_id = excluded.owner_job_id, sample_id = excluded.sample_id, "
                     "submission_id = excluded.submission_id, verdict = excluded.verdict, "
                     "result_json = excluded.result_json, reason = excluded.reason, "
                     "analysed_at = excluded.analysed_at, submitted_at = excluded.submitted_at, "
                     "updated_at = excluded.updated_at",
                     "writing a sample"));
    upsert.BindText(1, sample.sha256).BindText(2, sample.state);
    BindJobRef(upsert, 3, sample.owner_job_id)
        .BindInt(4, sample.sample_id)
        .BindInt(5, sample.submission_id)
        .BindText(6, sample.verdict)
        .BindText(7, sample.result_json)
        .BindText(8, sample.reason)
        .BindOptTime(9, sample.analysed_at)
        .BindOptTime(10, sample.submitted_at)
        .BindTime(11, clock_.Now());
    return upsert.Run();
  });
}

// ---- outbox --------------------------------------------------------------------------------

Result<bool> SqliteStore::EnqueueLocked(const NewOutboxItem& item) {
  VC_ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare("INSERT INTO outbox(idempotency_key, kind, target, payload, job_id, state, "
                   "next_attempt_at, created_at) VALUES(?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7) "
                   "ON CONFLICT(idempotency_key) DO NOTHING",
                   "queueing a write-back"));
  insert.BindText(1, item.idempotency_key)
      .BindText(2, item.kind)
      .BindText(3, item.target)
      .BindText(4, item.payload);
  BindJobRef(insert, 5, item.job_id).BindTime(6, item.next_attempt_at).BindTime(7, clock_.Now());
  VC_RETURN_IF_ERROR(insert.Run());
  return db_->Changes() == 1;
}

Result<bool> SqliteStore::EnqueueOutbox(const NewOutboxItem& item) {
  VC_RETURN_IF_ERROR(CheckNewOutbox(item));
  return Write<bool>("EnqueueOutbox", [&]() -> Result<bool> { return EnqueueLocked(item); });
}

Result<std::vector<OutboxItem>> SqliteStore::LeaseDueOutbox(TimePoint now, const std::string& owner,
                                                            Millis lease_for, int limit) {
  VC_RETURN_IF_ERROR(CheckLeaseRequest(owner, lease_for));
  std::vector<OutboxItem> items;
  if (limit <= 0) return items;
  return Write<std::vector<OutboxItem>>("LeaseDueOutbox", [&]() -> Result<std::vector<OutboxItem>> {
    // The attempt is counted by the same statement that leases: a crash during delivery still
    // leaves attempts > 0 behind, so a retry knows the write-back may already have gone out.
    VC_ASSIGN_OR_RETURN(
        Statement lease,
        db_->Prepare(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' "
            "AND next_attempt_at <= ?3 AND (lease_owner = '' OR lease_until <= ?3) "
            "ORDER BY next_attempt_at, id LIMIT ?4) RETURNING " VC_OUTBOX_COLUMNS,
            "leasing due write-backs"));
    lease.BindText(1, owner).BindTime(2, now + lease_for).BindTime(3, now).BindInt(4, limit);
    while (true) {
      VC_ASSIGN_OR_RETURN(bool row, lease.Step());
      if (!row) break;
      items.push_back(ReadOutbox(lease));
    }
    std::sort(items.begin(), items.end(), [](const OutboxItem& a, const OutboxItem& b) {
      return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
    });
    return items;
  });
}

Result<std::optional<OutboxItem>> SqliteStore::GetOutboxLocked(int64_t id) {
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT " VC_OUTBOX_COLUMNS " FROM outbox WHERE id = ?1",
                                   "reading a write-back"));
  select.BindInt(1, id);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<OutboxItem>();
  return std::optional<OutboxItem>(ReadOutbox(select));
}

Status SqliteStore::UpdateOutboxLocked(const OutboxUpdate& update) {
  {
    VC_ASSIGN_OR_RETURN(
        Statement write,
        db_->Prepare("UPDATE outbox SET state = ?2, reason = ?3, attempts = ?4, "
                     "next_attempt_at = ?5, done_at = CASE WHEN ?2 = 'pending' THEN NULL "
                     "ELSE ?6 END, lease_owner = '', lease_until = 0 "
                     "WHERE id = ?1 AND state = 'pending' AND lease_owner = ?7",
                     "updating a write-back"));
    write.BindInt(1, update.id)
        .BindText(2, update.state)
        .BindText(3, update.reason)
        .BindInt(4, update.attempts)
        .BindTime(5, update.next_attempt_at)
        .BindTime(6, clock_.Now())
        .BindText(7, update.lease_owner);
    VC_RETURN_IF_ERROR(write.Run());
    if (db_->Changes() == 1) return Ok();
  }
  VC_ASSIGN_OR_RETURN(std::optional<OutboxItem> item, GetOutboxLocked(update.id));
  if (!item) {
    return MakeError(ErrorCode::kNotFound, fmt::format("outbox item {} does not exist", update.id));
  }
  if (item->state != "pending") {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("outbox item {} is already {}; it is never updated again",
                                 update.id, item->state));
  }
  if (item->lease_owner.empty()) {
    return MakeError(ErrorCode::kConflict,
                     fmt::format("lease lost: outbox item {} is not leased by {} any more; it "
                                 "will be delivered again by whoever leases it next",
                                 update.id, update.lease_owner));
  }
  return MakeError(ErrorCode::kConflict, fmt::format("lease lost: outbox item {} is held by {}",
                                                     update.id, item->lease_owner));
}

Status SqliteStore::UpdateOutbox(const OutboxUpdate& update) {
  VC_RETURN_IF_ERROR(CheckOutboxUpdate(update));
  return Write<void>("UpdateOutbox", [&]() -> Status { return UpdateOutboxLocked(update); });
}

Status SqliteStore::CompleteOutbox(const OutboxUpdate& update, const JobUpdate& job_update) {
  VC_RETURN_IF_ERROR(CheckOutboxUpdate(update));
  if (update.state == "pending") {
    return Invalid(
        fmt::format("CompleteOutbox for item {} needs state done or failed; use "
                    "UpdateOutbox to reschedule",
                    update.id));
  }
  const bool with_job = job_update.id != 0;
  if (with_job) VC_RETURN_IF_ERROR(CheckJobUpdate(job_update, /*check_lease=*/false));
  return Write<void>("CompleteOutbox", [&]() -> Status {
    return db_->Transaction("completing a write-back and its job", [&]() -> Status {
      if (with_job) {
        VC_ASSIGN_OR_RETURN(std::optional<OutboxItem> item, GetOutboxLocked(update.id));
        if (item && item->job_id != 0 && item->job_id != job_update.id) {
          return Invalid(fmt::format("outbox item {} belongs to job {}, not to job {}", update.id,
                                     item->job_id, job_update.id));
        }
      }
      VC_RETURN_IF_ERROR(UpdateOutboxLocked(update));
      if (with_job) VC_RETURN_IF_ERROR(UpdateJobLocked(job_update, /*check_lease=*/false));
      return Ok();
    });
  });
}

Result<std::vector<OutboxItem>> SqliteStore::ListOutbox(int64_t job_id) {
  std::lock_guard lock(mu_);
  auto prepared =
      job_id == 0
          ? db_->Prepare("SELECT " VC_OUTBOX_COLUMNS " FROM outbox ORDER BY id DESC LIMIT 1000",
                         "listing write-backs")
          : db_->Prepare("SELECT " VC_OUTBOX_COLUMNS " FROM outbox WHERE job_id = ?1 ORDER BY id",
                         "listing a job's write-backs");
  if (!prepared) return prepared.error();
  Statement& select = *prepared;
  if (job_id != 0) select.BindInt(1, job_id);
  return ReadOutboxRows(select);
}

Result<std::optional<OutboxItem>> SqliteStore::GetOutboxByKey(const std::string& key) {
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(Statement select, db_->Prepare("SELECT " VC_OUTBOX_COLUMNS
                                                     " FROM outbox WHERE idempotency_key = ?1",
                                                     "reading a write-back by key"));
  select.BindText(1, key);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<OutboxItem>();
  return std::optional<OutboxItem>(ReadOutbox(select));
}

Result<std::vector<OutboxItem>> SqliteStore::ListOutboxByKeyPrefix(const std::string& prefix,
                                                                   int limit) {
  std::lock_guard lock(mu_);
  // A range on the unique key index instead of LIKE (whose wildcards the prefix could contain):
  // every key that starts with `prefix` sorts in [prefix, prefix + U+10FFFF).
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT " VC_OUTBOX_COLUMNS " FROM outbox WHERE idempotency_key "
                                   ">= ?1 AND idempotency_key < ?2 ORDER BY id LIMIT ?3",
                                   "listing write-backs by key prefix"));
  select.BindText(1, prefix);
  select.BindText(2, prefix + "\xF4\x8F\xBF\xBF");
  select.BindInt(3, limit);
  return ReadOutboxRows(select);
}

Result<std::vector<OutboxCount>> SqliteStore::CountOutbox() {
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(Statement select,
                      db_->Prepare("SELECT kind, state, count(*) FROM outbox GROUP BY kind, state "
                                   "ORDER BY kind, state",
                                   "counting write-backs"));
  std::vector<OutboxCount> counts;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    counts.push_back(OutboxCount{select.Text(0), select.Text(1), select.Int(2)});
  }
  return counts;
}

Result<std::vector<Job>> SqliteStore::ListTroubledJobs(int limit) {
  if (limit <= 0) return Invalid(fmt::format("job list limit must be positive (got {})", limit));
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(
      Statement select,
      db_->Prepare("SELECT " VC_JOB_COLUMNS " FROM jobs WHERE state = 'failed' OR "
                   "(final = 0 AND attempts > 0) ORDER BY updated_at DESC, id DESC LIMIT ?1",
                   "listing jobs that need attention"));
  select.BindInt(1, limit);
  std::vector<Job> jobs;
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(ReadJob(select));
  }
  return jobs;
}

// ---- cursors -------------------------------------------------------------------------------

// ---- VMRay submission budget and analysis slots ------------------------------------------

// A unit counts when it was submitted, or while its job still works towards a submission: a
// job that ended (or is only writing its comment) without submitting holds nothing.
Result<int64_t> SqliteStore::BudgetUsedLocked(const std::string& day) {
  VC_ASSIGN_OR_RETURN(
      Statement count,
      db_->Prepare("SELECT count(*) FROM submission_units u JOIN jobs j ON j.id = u.job_id "
                   "WHERE u.day = ?1 AND (u.submitted = 1 OR (j.final = 0 AND j.state <> "
                   "'writing_back'))",
                   "counting the day's submission budget"));
  count.BindText(1, day);
  VC_ASSIGN_OR_RETURN(bool row, count.Step());
  return row ? count.Int(0) : int64_t{0};
}

Result<BudgetGrant> SqliteStore::TakeBudgetUnit(int64_t job_id, const std::string& day,
                                                int64_t limit, TimePoint now) {
  if (job_id <= 0) return Invalid(fmt::format("budget unit for invalid job id {}", job_id));
  if (day.empty()) return Invalid("a budget unit needs a day");
  return Write<BudgetGrant>("TakeBudgetUnit", [&]() -> Result<BudgetGrant> {
    BudgetGrant grant;
    {
      VC_ASSIGN_OR_RETURN(Statement held,
                          db_->Prepare("SELECT 1 FROM submission_units WHERE job_id = ?1",
                                       "reading the job's budget unit"));
      held.BindInt(1, job_id);
      VC_ASSIGN_OR_RETURN(bool row, held.Step());
      if (row) {
        // The job's own unit, taken before a retry or a crash: reused, never a second one.
        grant.granted = true;
        VC_ASSIGN_OR_RETURN(grant.used, BudgetUsedLocked(day));
        return grant;
      }
    }
    VC_ASSIGN_OR_RETURN(int64_t used, BudgetUsedLocked(day));
    if (limit > 0 && used >= limit) {
      grant.used = used;
      return grant;
    }
    VC_ASSIGN_OR_RETURN(Statement insert,
                        db_->Prepare("INSERT INTO submission_units(job_id, day, taken_at) "
                                     "VALUES(?1, ?2, ?3)",
                                     "taking a submission budget unit"));
    insert.BindInt(1, job_id).BindText(2, day).BindTime(3, now);
    VC_RETURN_IF_ERROR(insert.Run());
    grant.granted = true;
    grant.used = used + 1;
    return grant;
  });
}

Status SqliteStore::ReleaseBudgetUnit(int64_t job_id) {
  return Write<void>("ReleaseBudgetUnit", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(Statement del,
                        db_->Prepare("DELETE FROM submission_units WHERE job_id = ?1",
                                     "releasing a submission budget unit"));
    del.BindInt(1, job_id);
    return del.Run();
  });
}

Result<int64_t> SqliteStore::BudgetUsed(const std::string& day) {
  std::lock_guard lock(mu_);
  return BudgetUsedLocked(day);
}

Result<SlotGrant> SqliteStore::TakeAnalysisSlot(int64_t job_id, int64_t cap) {
  return Write<SlotGrant>("TakeAnalysisSlot", [&]() -> Result<SlotGrant> {
    SlotGrant grant;
    {
      VC_ASSIGN_OR_RETURN(Statement held,
                          db_->Prepare("SELECT slot FROM submission_units WHERE job_id = ?1",
                                       "reading the job's analysis slot"));
      held.BindInt(1, job_id);
      VC_ASSIGN_OR_RETURN(bool row, held.Step());
      if (!row) {
        return MakeError(
            ErrorCode::kNotFound,
            fmt::format("job {} holds no submission budget unit; take one first", job_id));
      }
      if (held.Int(0) != 0) {
        grant.granted = true;
        return grant;
      }
    }
    {
      VC_ASSIGN_OR_RETURN(
          Statement count,
          db_->Prepare("SELECT count(*) FROM submission_units u JOIN jobs j ON j.id = u.job_id "
                       "WHERE u.slot = 1 AND u.job_id <> ?1 AND j.final = 0 AND j.state IN "
                       "('new', 'collection_pending', 'downloading', "
                       "'waiting_for_analysis_slot', 'analysing')",
                       "counting the analyses in flight"));
      count.BindInt(1, job_id);
      VC_ASSIGN_OR_RETURN(bool row, count.Step());
      grant.running = row ? count.Int(0) : 0;
    }
    if (cap > 0 && grant.running >= cap) return grant;
    // Submitted is written ahead of the call: from here on VMRay may have the file, so the
    // unit stays spent even when the answer is lost.
    VC_ASSIGN_OR_RETURN(Statement take,
                        db_->Prepare("UPDATE submission_units SET slot = 1, submitted = 1 "
                                     "WHERE job_id = ?1",
                                     "taking an analysis slot"));
    take.BindInt(1, job_id);
    VC_RETURN_IF_ERROR(take.Run());
    grant.granted = true;
    return grant;
  });
}

Result<std::optional<std::string>> SqliteStore::GetCursor(const std::string& name) {
  std::lock_guard lock(mu_);
  VC_ASSIGN_OR_RETURN(Statement select, db_->Prepare("SELECT value FROM cursors WHERE name = ?1",
                                                     "reading a cursor"));
  select.BindText(1, name);
  VC_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(select.Text(0));
}

Status SqliteStore::SetCursor(const std::string& name, const std::string& value) {
  if (name.empty()) return Invalid("a cursor needs a name");
  return Write<void>("SetCursor", [&]() -> Status {
    VC_ASSIGN_OR_RETURN(
        Statement upsert,
        db_->Prepare("INSERT INTO cursors(name, value, updated_at) VALUES(?1, ?2, ?3) "
                     "ON CONFLICT(name) DO UPDATE SET value = excluded.value, "
                     "updated_at = excluded.updated_at",
                     "writing a cursor"));
    upsert.BindText(1, name).BindText(2, value).BindTime(3, clock_.Now());
    return upsert.Run();
  });
}

#undef VC_JOB_COLUMNS
#undef VC_OUTBOX_COLUMNS
#undef VC_SAMPLE_COLUMNS

// ---- opening -------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, Clock& clock) {
  SqliteDb::Options db_options;
  db_options.path = options.path;
  db_options.synchronous_full = options.synchronous_full;
  db_options.busy_timeout = options.busy_timeout;
  VC_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(db_options));
  VC_RETURN_IF_ERROR(ApplyMigrations(*db, SqliteMigrations(), clock));
  std::unique_ptr<Store> store = std::make_unique<SqliteStore>(std::move(db), clock);
  return store;
}

}  // namespace vc::store
