// Opening the database: pragmas, migrations, refusing files that are not ours or too new, and
// SQLite failures turned into actionable errors.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "store/migrations.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"
#include "store_test_util.hpp"

namespace vc::store {
namespace {

using ::testing::HasSubstr;
using testing::RawDb;
using testing::RunningAsRoot;
using testing::TempDir;

constexpr char kCorruptMessage[] =
    "is corrupt or not a vmray-connector database; restore from backup or move it away";

Result<std::unique_ptr<Store>> Open(const std::string& path, Clock& clock) {
  return OpenSqliteStore(SqliteOptions{.path = path}, clock);
}

NewJob SomeJob(const std::string& key, TimePoint due) {
  return NewJob{.kind = "defender_evidence",
                .key = key,
                .state = "new",
                .payload = "{}",
                .group_key = "",
                .next_attempt_at = due};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(StoreMigrations, AreNumberedFromOneWithoutGaps) {
  auto migrations = SqliteMigrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(migrations[i].sql.empty());
    EXPECT_FALSE(migrations[i].description.empty());
  }
}

TEST(StoreOpen, AppliesMigrationsOnceAndReopenKeepsData) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  const TimePoint first_open = clock.Now();
  {
    auto store = Open(path, clock);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE(*(*store)->InsertJob(SomeJob("mde:1:aa", clock.Now())));
    ASSERT_TRUE((*store)->SetCursor("alerts", "2024-01-01T00:00:00Z"));
  }
  const int64_t known = static_cast<int64_t>(SqliteMigrations().size());
  {
    RawDb raw(path);
    EXPECT_EQ(raw.Int("SELECT count(*) FROM schema_migrations"), known);
    EXPECT_EQ(raw.Int("SELECT max(applied_at) FROM schema_migrations"), ToUnixMillis(first_open));
  }

  clock.Advance(std::chrono::hours{1});
  auto reopened = Open(path, clock);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  auto job = (*reopened)->GetJobByKey("mde:1:aa");
  ASSERT_TRUE(job && job->has_value());
  EXPECT_EQ((*job)->created_at, first_open);
  auto cursor = (*reopened)->GetCursor("alerts");
  ASSERT_TRUE(cursor && cursor->has_value());
  EXPECT_EQ(**cursor, "2024-01-01T00:00:00Z");

  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM schema_migrations"), known);
  EXPECT_EQ(raw.Int("SELECT max(applied_at) FROM schema_migrations"), ToUnixMillis(first_open))
      << "reopening must not apply or re-stamp anything";
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                    "('jobs_due', 'jobs_group', 'outbox_due', 'outbox_job')"),
            4);
}

TEST(StoreOpen, AppliesOnlyPendingMigrationsAndRollsBackABrokenOne) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  {
    auto store = Open(path, clock);
    ASSERT_TRUE(store) << store.error().ToString();
  }
  auto db = SqliteDb::Open({.path = path});
  ASSERT_TRUE(db) << db.error().ToString();

  std::vector<Migration> broken(SqliteMigrations().begin(), SqliteMigrations().end());
  const int next = broken.back().version + 1;
  broken.push_back(Migration{next, "broken", "CREATE TABLE half(x); THIS IS NOT SQL;"});
  Status failed = ApplyMigrations(**db, broken, clock);
  ASSERT_FALSE(failed);
  EXPECT_THAT(failed.error().message, HasSubstr(fmt::format("applying schema migration {}", next)));
  EXPECT_EQ(*SchemaVersion(**db), next - 1);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0)
      << "a failed migration must leave nothing behind";

  std::vector<Migration> extended(SqliteMigrations().begin(), SqliteMigrations().end());
  extended.push_back(Migration{next, "extra table", "CREATE TABLE extra(x INTEGER);"});
  clock.Advance(Millis{5000});
  ASSERT_TRUE(ApplyMigrations(**db, extended, clock));
  EXPECT_EQ(*SchemaVersion(**db), next);
  EXPECT_EQ(
      raw.Int(fmt::format("SELECT applied_at FROM schema_migrations WHERE version = {}", next)),
      ToUnixMillis(clock.Now()));
  EXPECT_EQ(raw.Int("SELECT count(*) FROM schema_migrations"), next);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'extra'"), 1);
}

TEST(StoreOpen, RefusesANewerSchemaWithInstructions) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  {
    auto store = Open(path, clock);
    ASSERT_TRUE(store) << store.error().ToString();
  }
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("INSERT INTO schema_migrations(version, applied_at) VALUES(999, 0)"),
              SQLITE_OK);
  }
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message,
            fmt::format("database {} has schema version 999 but this vmray-connector knows up to "
                        "{}; upgrade vmray-connector or point store.path at another file",
                        path, SqliteMigrations().back().version));
}

TEST(StoreOpen, RefusesAFileThatIsNotSqliteAndLeavesItAlone) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("notes.txt");
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not a database, it is somebody's notes\n";
  std::ofstream(path, std::ios::binary) << garbage;

  ManualClock clock;
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  EXPECT_THAT(refused.error().message,
              HasSubstr(std::string("database ") + path + " " + kCorruptMessage));
  EXPECT_EQ(ReadAll(path), garbage);
}

TEST(StoreOpen, RefusesASqliteFileOfAnotherProgram) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("other.db");
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("CREATE TABLE jobs(something_else TEXT)"), SQLITE_OK);
  }
  ManualClock clock;
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  EXPECT_THAT(refused.error().message, HasSubstr(kCorruptMessage));
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'"), 0);
}

// Overwrites every page of `path` with noise except page 1 (header and schema) and `keep`.
void DamagePages(const std::string& path, int64_t page_size, int64_t keep) {
  std::string bytes = ReadAll(path);
  ASSERT_GT(bytes.size(), static_cast<size_t>(2 * page_size));
  for (size_t i = static_cast<size_t>(page_size); i < bytes.size(); ++i) {
    const int64_t page = static_cast<int64_t>(i) / page_size + 1;
    if (page != keep) bytes[i] = static_cast<char>(0xA5 ^ (i * 31));
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void FillStore(const std::string& path, ManualClock& clock, int64_t* page_size,
               int64_t* bookkeeping_page) {
  {
    auto store = Open(path, clock);
    ASSERT_TRUE(store) << store.error().ToString();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE((*store)->InsertJob(SomeJob(fmt::format("k{}", i), clock.Now())));
    }
  }
  RawDb raw(path);
  *page_size = raw.Int("PRAGMA page_size");
  *bookkeeping_page =
      raw.Int("SELECT rootpage FROM sqlite_master WHERE name = 'schema_migrations'");
}

TEST(StoreOpen, DamagedPagesAreReportedAsCorruptWithoutCrashing) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ManualClock clock;
  int64_t page_size = 0;
  int64_t bookkeeping_page = 0;

  // Everything but the header gone: opening already notices.
  const std::string all = dir.File("all.db");
  FillStore(all, clock, &page_size, &bookkeeping_page);
  DamagePages(all, page_size, /*keep=*/0);
  auto refused = Open(all, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  EXPECT_THAT(refused.error().message, HasSubstr("database " + all + " " + kCorruptMessage));

  // Bookkeeping intact, tables gone: opening works, every use of the tables fails cleanly.
  const std::string tables = dir.File("tables.db");
  FillStore(tables, clock, &page_size, &bookkeeping_page);
  ASSERT_GT(bookkeeping_page, 1);
  DamagePages(tables, page_size, bookkeeping_page);
  auto opened = Open(tables, clock);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto job = (*opened)->GetJobByKey("k1");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code, ErrorCode::kInternal);
  EXPECT_THAT(job.error().message, HasSubstr(kCorruptMessage));
  auto leased = (*opened)->LeaseDueJobs(clock.Now(), "w", Millis{1000}, 10);
  ASSERT_FALSE(leased);
  EXPECT_EQ(leased.error().code, ErrorCode::kInternal);
  auto claimed = (*opened)->ClaimSample("abc", 1, clock.Now(), clock.Now());
  ASSERT_FALSE(claimed);
  EXPECT_EQ(claimed.error().code, ErrorCode::kInternal);
}

TEST(StoreOpen, TurnsOnWalAndTheConfiguredPragmas) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  auto store = Open(path, clock);
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE((*store)->InsertJob(SomeJob("k", clock.Now())));
  RawDb raw(path);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));

  // synchronous, foreign_keys and busy_timeout belong to the connection: ask it directly.
  for (bool full : {true, false}) {
    auto db = SqliteDb::Open(
        {.path = dir.File("pragmas.db"), .synchronous_full = full, .busy_timeout = Millis{1234}});
    ASSERT_TRUE(db) << db.error().ToString();
    auto ask = [&](std::string_view pragma) -> int64_t {
      auto statement = (*db)->Prepare(pragma, "test");
      EXPECT_TRUE(statement);
      if (!statement) return -1;
      auto row = statement->Step();
      EXPECT_TRUE(row && *row);
      return statement->Int(0);
    };
    EXPECT_EQ(ask("PRAGMA synchronous"), full ? 2 : 1);  // 2 = FULL, 1 = NORMAL
    EXPECT_EQ(ask("PRAGMA foreign_keys"), 1);
    EXPECT_EQ(ask("PRAGMA busy_timeout"), 1234);
  }
}

TEST(StoreOpen, RejectsAnEmptyPath) {
  ManualClock clock;
  auto refused = Open("", clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("store.path is empty"));
}

TEST(StoreOpen, MissingDirectoryIsPermissionDeniedNamingThePath) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("no-such-dir/state.db");
  ManualClock clock;
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(refused.error().message, HasSubstr("cannot open or write database " + path));
  EXPECT_THAT(refused.error().message, HasSubstr("check that its directory exists"));
}

TEST(StoreOpen, ReadOnlyDirectoryIsPermissionDenied) {
  if (RunningAsRoot()) GTEST_SKIP() << "root ignores file permissions";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  const std::string path = dir.File("state.db");
  ManualClock clock;
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied) << refused.error().ToString();
  EXPECT_THAT(refused.error().message, HasSubstr(path));
}

TEST(StoreOpen, ReadOnlyFileIsPermissionDenied) {
  if (RunningAsRoot()) GTEST_SKIP() << "root ignores file permissions";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  {
    auto store = Open(path, clock);
    ASSERT_TRUE(store) << store.error().ToString();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  auto refused = Open(path, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied) << refused.error().ToString();
  EXPECT_THAT(refused.error().message, HasSubstr(path));
}

TEST(StoreOpen, AWriteLockHeldElsewhereIsUnavailableAfterTheBusyTimeout) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("state.db");
  ManualClock clock;
  auto store = OpenSqliteStore(SqliteOptions{.path = path, .busy_timeout = Millis{50}}, clock);
  ASSERT_TRUE(store) << store.error().ToString();

  RawDb other(path);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  auto blocked = (*store)->InsertJob(SomeJob("k", clock.Now()));
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(blocked.error().IsTransient());
  EXPECT_THAT(blocked.error().message, HasSubstr("database " + path + " is locked"));

  ASSERT_EQ(other.Exec("COMMIT"), SQLITE_OK);
  auto inserted = (*store)->InsertJob(SomeJob("k", clock.Now()));
  ASSERT_TRUE(inserted) << inserted.error().ToString();
  EXPECT_TRUE(*inserted);
}

TEST(StoreOpen, DiskFullIsUnavailableAndTheStoreKeepsWorking) {
  ManualClock clock;
  auto opened = Open(":memory:", clock);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto* store = dynamic_cast<SqliteStore*>(opened->get());
  ASSERT_NE(store, nullptr);
  // A page budget is SQLite's own way to hit SQLITE_FULL without filling a real disk.
  ASSERT_TRUE(store->ExecForTest("PRAGMA max_page_count = 40"));

  NewJob huge = SomeJob("huge", clock.Now());
  huge.payload.assign(1 << 20, 'x');
  auto full = store->InsertJob(huge);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(full.error().message, HasSubstr("disk full while writing :memory:; free space"));

  auto small = store->InsertJob(SomeJob("small", clock.Now()));
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_TRUE(*small);
  auto missing = store->GetJobByKey("huge");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(StoreSqliteError, MapsCodesToActionableErrors) {
  struct Case {
    int code;
    ErrorCode expected;
    std::string text;
  };
  const std::string path = "/var/lib/vc/state.db";
  const std::vector<Case> cases = {
      {SQLITE_FULL, ErrorCode::kUnavailable, "disk full while writing " + path + "; free space"},
      {SQLITE_IOERR_WRITE, ErrorCode::kUnavailable, "I/O error on database " + path},
      {SQLITE_CANTOPEN, ErrorCode::kPermissionDenied, "cannot open or write database " + path},
      {SQLITE_READONLY, ErrorCode::kPermissionDenied, "cannot open or write database " + path},
      {SQLITE_PERM, ErrorCode::kPermissionDenied, "cannot open or write database " + path},
      {SQLITE_BUSY, ErrorCode::kUnavailable, "database " + path + " is locked"},
      {SQLITE_LOCKED, ErrorCode::kUnavailable, "database " + path + " is locked"},
      {SQLITE_CORRUPT, ErrorCode::kInternal, "database " + path + " " + kCorruptMessage},
      {SQLITE_NOTADB, ErrorCode::kInternal, "database " + path + " " + kCorruptMessage},
      {SQLITE_CONSTRAINT_UNIQUE, ErrorCode::kConflict, "broke a constraint"},
      {SQLITE_CONSTRAINT_FOREIGNKEY, ErrorCode::kConflict, "refers to a job that does not exist"},
      {SQLITE_MISUSE, ErrorCode::kInternal, "writing a thing failed"},
  };
  for (const Case& c : cases) {
    Error error = SqliteError(c.code, path, "writing a thing", "detail");
    EXPECT_EQ(error.code, c.expected) << c.code;
    EXPECT_THAT(error.message, HasSubstr(c.text)) << c.code;
  }
}

TEST(StoreSqliteDb, NestedUseOfTheSameStatementGetsItsOwnCopy) {
  auto db = SqliteDb::Open({.path = ":memory:"});
  ASSERT_TRUE(db) << db.error().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES(1), (2);", "setup"));
  constexpr std::string_view kSql = "SELECT x FROM t ORDER BY x";
  auto outer = (*db)->Prepare(kSql, "outer");
  ASSERT_TRUE(outer);
  ASSERT_TRUE(*outer->Step());
  EXPECT_EQ(outer->Int(0), 1);
  {
    auto inner = (*db)->Prepare(kSql, "inner");
    ASSERT_TRUE(inner);
    ASSERT_TRUE(*inner->Step());
    EXPECT_EQ(inner->Int(0), 1) << "the inner use starts from the beginning";
  }
  ASSERT_TRUE(*outer->Step());
  EXPECT_EQ(outer->Int(0), 2) << "the outer use is not disturbed";
}

}  // namespace
}  // namespace vc::store
