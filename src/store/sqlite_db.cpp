#include "store/sqlite_db.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace vc::store {

Error SqliteError(int code, const std::string& path, std::string_view doing,
                  std::string_view detail) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("disk full while writing {}; free space on its disk ({}: {})",
                                   path, doing, detail));
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return MakeError(
          ErrorCode::kPermissionDenied,
          fmt::format("cannot open or write database {} ({}: {}); check that its directory "
                      "exists and that the user running vmray-connector may read and write the "
                      "file, its directory and its -wal and -shm files",
                      path, doing, detail));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MakeError(
          ErrorCode::kUnavailable,
          fmt::format("database {} is locked by another connection ({}: {}); retry, and make "
                      "sure only one vmray-connector process uses this file",
                      path, doing, detail));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MakeError(ErrorCode::kInternal,
                       fmt::format("database {} is corrupt or not a vmray-connector database; "
                                   "restore from backup or move it away ({}: {})",
                                   path, doing, detail));
    case SQLITE_CONSTRAINT:
      // Every foreign key of the schema points at jobs(id).
      return MakeError(
          ErrorCode::kConflict,
          fmt::format("{} in database {} broke a constraint: {}{}", doing, path, detail,
                      code == SQLITE_CONSTRAINT_FOREIGNKEY
                          ? " (it refers to a job that does not exist)"
                          : ""));
    case SQLITE_IOERR:
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("I/O error on database {} ({}: {}); check the disk and the "
                                   "file system it lives on",
                                   path, doing, detail));
    case SQLITE_NOMEM:
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("out of memory while {} in database {}", doing, path));
    case SQLITE_TOOBIG:
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("value too large for database {} while {}: {}", path, doing, detail));
    default:
      return MakeError(
          ErrorCode::kInternal,
          fmt::format("database {}: {} failed: {} (SQLite code {})", path, doing, detail, code));
  }
}

// ---- Statement -----------------------------------------------------------------------------

Statement::Statement(SqliteDb* db, sqlite3_stmt* stmt, bool* borrowed, std::string_view doing)
    : db_(db), stmt_(stmt), borrowed_(borrowed), doing_(doing) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      borrowed_(std::exchange(other.borrowed_, nullptr)),
      doing_(other.doing_),
      bind_error_(other.bind_error_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (borrowed_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *borrowed_ = false;
}

Statement& Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindInt(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::BindText(int index, std::string_view value) {
  // SQLITE_TRANSIENT: callers may bind temporaries that die before Step.
  return Check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::BindTime(int index, TimePoint value) {
  return BindInt(index, ToUnixMillis(value));
}

Statement& Statement::BindOptTime(int index, const std::optional<TimePoint>& value) {
  return value ? BindTime(index, *value) : BindNull(index);
}

Statement& Statement::BindOptText(int index, const std::optional<std::string>& value) {
  return value ? BindText(index, *value) : BindNull(index);
}

Statement& Statement::BindNull(int index) {
  return Check(sqlite3_bind_null(stmt_, index));
}

Result<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) {
    return SqliteError(bind_error_, db_->path(), doing_, sqlite3_errstr(bind_error_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->ErrorFor(rc, doing_);
}

Status Statement::Run() {
  while (true) {
    VC_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Ok();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

TimePoint Statement::Time(int column) const {
  return FromUnixMillis(Int(column));
}

std::optional<TimePoint> Statement::OptTime(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Time(column);
}

// ---- SqliteDb ------------------------------------------------------------------------------

SqliteDb::SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

SqliteDb::~SqliteDb() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  // close_v2 never fails for a busy handle: it defers the close until the last statement ends.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const Options& options) {
  const std::string& path = options.path;
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "store.path is empty; set it to the database file, e.g. "
                     "/var/lib/vmray-connector/state.db");
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: the store serialises all calls itself, SQLite's own mutex would be a second lock.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    int code = raw != nullptr ? sqlite3_extended_errcode(raw) : rc;
    sqlite3_close_v2(raw);
    return SqliteError(code, path, "opening the database", detail);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  // SQLite silently falls back to read-only for a write-protected file; the store must write.
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return SqliteError(SQLITE_READONLY, path, "opening the database",
                       "the file is read-only for this user");
  }
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));

  std::string mode;
  {
    VC_ASSIGN_OR_RETURN(Statement wal, db->Prepare("PRAGMA journal_mode=WAL", "enabling WAL"));
    VC_ASSIGN_OR_RETURN(bool row, wal.Step());
    if (row) mode = wal.Text(0);
  }
  if (mode != "wal" && path != ":memory:") {
    // Some network file systems cannot share memory for WAL; the store still works (rollback
    // journal, slower), so warn instead of refusing to start.
    spdlog::warn("database {} runs in journal mode '{}' instead of WAL; put it on a local disk",
                 path, mode);
  }
  VC_RETURN_IF_ERROR(
      db->Exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
               "setting synchronous"));
  VC_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON", "enabling foreign keys"));
  return db;
}

Status SqliteDb::Exec(std::string_view sql, std::string_view doing) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Ok();
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return SqliteError(sqlite3_extended_errcode(db_), path_, doing, detail);
}

Result<Statement> SqliteDb::Prepare(std::string_view sql, std::string_view doing) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.borrowed) {
    it->second.borrowed = true;
    return Statement(this, it->second.stmt, &it->second.borrowed, doing);
  }
  sqlite3_stmt* stmt = nullptr;
  const bool cache = it == cache_.end();
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return ErrorFor(rc, doing);
  }
  if (!cache) return Statement(this, stmt, nullptr, doing);
  auto [inserted, ok] = cache_.emplace(sql, Cached{stmt, true});
  return Statement(this, stmt, &inserted->second.borrowed, doing);
}

int64_t SqliteDb::Changes() const {
  return sqlite3_changes64(db_);
}

Error SqliteDb::ErrorFor(int code, std::string_view doing) const {
  return SqliteError(code, path_, doing, sqlite3_errmsg(db_));
}

Status SqliteDb::Begin(std::string_view doing) {
  VC_ASSIGN_OR_RETURN(Statement begin, Prepare("BEGIN IMMEDIATE", doing));
  return begin.Run();
}

Status SqliteDb::Commit(std::string_view doing) {
  VC_ASSIGN_OR_RETURN(Statement commit, Prepare("COMMIT", doing));
  return commit.Run();
}

void SqliteDb::Rollback() {
  // Some errors (disk full, I/O, a busy commit) already rolled the transaction back.
  if (sqlite3_get_autocommit(db_) != 0) return;
  auto rollback = Prepare("ROLLBACK", "rolling back");
  Status done = rollback ? rollback->Run() : Status(rollback.error());
  if (!done) spdlog::error("rollback failed: {}", done.error().message);
}

}  // namespace vc::store
