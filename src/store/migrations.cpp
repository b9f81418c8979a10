#include "store/migrations.hpp"

#include <fmt/format.h>

#include <array>

namespace vc::store {
namespace {

// Times are INTEGER unix milliseconds. Empty text stands for "none" in text columns; NULL is
// kept for optional times and for "no job" references so foreign keys can check real ones.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL DEFAULT '',
  group_key TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  final INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs(final, next_attempt_at);
CREATE INDEX jobs_group ON jobs(group_key, state);

CREATE TABLE samples (
  sha256 TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  owner_job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  sample_id INTEGER NOT NULL DEFAULT 0,
  submission_id INTEGER NOT NULL DEFAULT 0,
  verdict TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  analysed_at INTEGER,
  submitted_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX samples_owner ON samples(owner_job_id);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL DEFAULT '',
  job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  reason TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  done_at INTEGER,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_job ON outbox(job_id);

CREATE TABLE cursors (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql";

// One row per job that needed a VMRay submission: its unit of the daily budget (`day` is the
// UTC date it was taken on) and whether it holds one of the analysis slots. The row belongs to
// the job, so a job that retries or resumes after a crash reuses its unit instead of taking a
// second one. Units and slots of jobs that ended without a submission stop counting through
// the job's state (see SqliteStore::TakeBudgetUnit), so none leaks.
constexpr std::string_view kSubmissionUnits = R"sql(
CREATE TABLE submission_units (
  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  taken_at INTEGER NOT NULL,
  submitted INTEGER NOT NULL DEFAULT 0,
  slot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX submission_units_day ON submission_units(day);
CREATE INDEX submission_units_slot ON submission_units(slot);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "jobs, samples, outbox and cursors", kInitialSchema},
    Migration{2, "VMRay submission budget and analysis slots", kSubmissionUnits},
};

Error NotOurs(const std::string& path, std::string_view why) {
  return MakeError(ErrorCode::kInternal,
                   fmt::format("database {} is corrupt or not a vmray-connector database; "
                               "restore from backup or move it away ({})",
                               path, why));
}

// Creates schema_migrations in a new file, refuses a SQLite file made by something else.
Status PrepareBookkeeping(SqliteDb& db) {
  return db.Transaction("checking the schema", [&]() -> Status {
    int64_t ours = 0;
    int64_t others = 0;
    {
      VC_ASSIGN_OR_RETURN(
          Statement count,
          db.Prepare("SELECT coalesce(sum(name = 'schema_migrations'), 0), "
                     "coalesce(sum(name <> 'schema_migrations'), 0) FROM sqlite_master "
                     "WHERE name NOT LIKE 'sqlite_%'",
                     "reading the schema"));
      VC_ASSIGN_OR_RETURN(bool row, count.Step());
      if (row) {
        ours = count.Int(0);
        others = count.Int(1);
      }
    }
    if (ours == 0 && others > 0) {
      return NotOurs(db.path(), "it holds tables but no schema_migrations");
    }
    return db.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        "creating schema_migrations");
  });
}

}  // namespace

std::span<const Migration> SqliteMigrations() {
  return kMigrations;
}

Result<int> SchemaVersion(SqliteDb& db) {
  VC_ASSIGN_OR_RETURN(Statement max,
                      db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations",
                                 "reading the schema version"));
  VC_ASSIGN_OR_RETURN(bool row, max.Step());
  return row ? static_cast<int>(max.Int(0)) : 0;
}

Status ApplyMigrations(SqliteDb& db, std::span<const Migration> migrations, const Clock& clock) {
  VC_RETURN_IF_ERROR(PrepareBookkeeping(db));
  const int known = migrations.empty() ? 0 : migrations.back().version;
  VC_ASSIGN_OR_RETURN(int current, SchemaVersion(db));
  if (current > known) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("database {} has schema version {} but this vmray-connector "
                                 "knows up to {}; upgrade vmray-connector or point store.path at "
                                 "another file",
                                 db.path(), current, known));
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    // Re-checked inside the transaction: another process may have applied it meanwhile.
    VC_RETURN_IF_ERROR(db.Transaction("applying a schema migration", [&]() -> Status {
      {
        VC_ASSIGN_OR_RETURN(Statement seen,
                            db.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?1",
                                       "reading the schema version"));
        seen.BindInt(1, migration.version);
        VC_ASSIGN_OR_RETURN(bool applied, seen.Step());
        if (applied) return Ok();
      }
      VC_RETURN_IF_ERROR(
          db.Exec(migration.sql, fmt::format("applying schema migration {} ({})", migration.version,
                                             migration.description)));
      VC_ASSIGN_OR_RETURN(Statement record,
                          db.Prepare("INSERT INTO schema_migrations(version, applied_at) "
                                     "VALUES(?1, ?2)",
                                     "recording a schema migration"));
      record.BindInt(1, migration.version).BindTime(2, clock.Now());
      return record.Run();
    }));
  }
  return Ok();
}

}  // namespace vc::store
