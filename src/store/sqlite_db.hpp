// A thin owner of one SQLite connection: opening with the connector's pragmas, a cache of
// prepared statements (the store's hot path), transactions, and SQLite result codes turned into
// vc::Error messages that name the file and say what to do. Not thread-safe by itself: the
// store serialises every call with its own mutex.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace vc::store {

// `doing` is a short phrase for the operation ("leasing due jobs"); `detail` is SQLite's own
// message. Disk full, permissions, locks and corruption get fixed, actionable wording.
Error SqliteError(int code, const std::string& path, std::string_view doing,
                  std::string_view detail);

class SqliteDb;

// A cached prepared statement borrowed for one use; it is reset (releasing its read snapshot)
// and its bindings cleared when the borrow ends.
class Statement {
 public:
  // `borrowed` is the cache's in-use flag (cleared when this ends); null for a one-off
  // statement, which this object finalizes.
  Statement(SqliteDb* db, sqlite3_stmt* stmt, bool* borrowed, std::string_view doing);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1 as in the SQL text (?1, ?2, ...). A failed bind is
  // remembered and reported by the next Step.
  Statement& BindInt(int index, int64_t value);
  Statement& BindText(int index, std::string_view value);
  Statement& BindTime(int index, TimePoint value);
  Statement& BindOptTime(int index, const std::optional<TimePoint>& value);
  Statement& BindOptText(int index, const std::optional<std::string>& value);
  Statement& BindNull(int index);

  // true: a row is ready to read; false: the statement is done.
  Result<bool> Step();
  // Steps to the end, ignoring any rows.
  Status Run();

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  std::string Text(int column) const;
  TimePoint Time(int column) const;
  std::optional<TimePoint> OptTime(int column) const;

 private:
  Statement& Check(int rc);

  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  bool* borrowed_;
  std::string_view doing_;
  int bind_error_ = SQLITE_OK;
};

class SqliteDb {
 public:
  struct Options {
    std::string path;  // ":memory:" for a private in-memory database
    bool synchronous_full = true;
    Millis busy_timeout{5000};
  };

  // Opens or creates the file and sets WAL, synchronous, foreign_keys and busy_timeout. Does
  // not touch the schema (see migrations.hpp).
  static Result<std::unique_ptr<SqliteDb>> Open(const Options& options);

  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // Runs SQL text without parameters (pragmas, DDL, several statements separated by ';').
  Status Exec(std::string_view sql, std::string_view doing);
  // `sql` must outlive this object (a string literal): it is the cache key. A statement that is
  // already borrowed (nested use of the same SQL) gets a one-off copy instead.
  Result<Statement> Prepare(std::string_view sql, std::string_view doing);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // An Error for `code` with SQLite's current message for this connection.
  Error ErrorFor(int code, std::string_view doing) const;

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; any error (from the body or the commit)
  // rolls back. Returns what the body returned. IMMEDIATE takes the write lock up front so two
  // writers never deadlock upgrading read locks.
  template <class F>
  auto Transaction(std::string_view doing, F&& body) -> decltype(body()) {
    // Inside a group-committed batch the caller's savepoint already makes the body atomic.
    if (sqlite3_get_autocommit(db_) == 0) return body();
    if (auto begun = Begin(doing); !begun) return begun.error();
    auto result = body();
    if (!result) {
      Rollback();
      return result;
    }
    if (auto committed = Commit(doing); !committed) {
      Rollback();
      return committed.error();
    }
    return result;
  }

  sqlite3* raw() const { return db_; }
  // Rolls back the open transaction, if there is one.
  void RollbackIfOpen() { Rollback(); }

 private:
  SqliteDb(sqlite3* db, std::string path);
  Status Begin(std::string_view doing);
  Status Commit(std::string_view doing);
  void Rollback();

  sqlite3* db_;
  std::string path_;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool borrowed = false;
  };
  // Node-based, so the address of a `borrowed` flag stays valid while the map grows.
  std::unordered_map<std::string_view, Cached> cache_;
};

}  // namespace vc::store
