// The store row: the SQLite file opens for writing, its directory takes the -wal and -shm files,
// the schema is current (opening applies pending migrations, as `run` would), and the disk has
// room. Opening beside a running daemon is safe: WAL readers and a current schema write nothing.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "app/doctor_context.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_db.hpp"

namespace vc::app {
namespace {

// Below this the next burst of jobs and write-backs may hit "disk full".
constexpr uintmax_t kMinFreeBytes = 64ULL * 1024 * 1024;

std::string MoveHint(const std::string& path) {
  return fmt::format(
      "give the account that runs vmray-connector write access to {} and its directory, or set "
      "store.path (VMRAY_CONNECTOR_STORE_PATH) to a writable place",
      path);
}

// The schema version before the doctor touched the file: 0 for a new (empty) database, which
// has no bookkeeping table yet.
Result<int> VersionBefore(store::SqliteDb& db) {
  {
    auto exists = db.Prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        "looking for the schema version table");
    if (!exists) return exists.error();
    auto row = exists->Step();
    if (!row) return row.error();
    if (!*row || exists->Int(0) == 0) return 0;
  }
  return store::SchemaVersion(db);
}

}  // namespace

void CheckStore(DoctorContext& ctx) {
  const std::string& path = ctx.config().store.path;
  constexpr const char* kCheck = "store";
  store::SqliteDb::Options o;
  o.path = path;
  o.synchronous_full = ctx.config().store.synchronous_full;
  auto db = store::SqliteDb::Open(o);
  if (!db) return ctx.Emit(kCheck, CheckOutcome::kProblem, db.error().message, MoveHint(path));
  auto before = VersionBefore(**db);
  if (!before) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem, before.error().message, MoveHint(path));
  }
  const auto migrations = store::SqliteMigrations();
  const int current = migrations.empty() ? 0 : migrations.back().version;
  if (auto applied = store::ApplyMigrations(**db, migrations, ctx.clock()); !applied) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem, applied.error().message,
                    *before > current ? "run the vmray-connector version that wrote this store, "
                                        "or restore a backup made for this version"
                                      : MoveHint(path));
  }
  if (sqlite3_db_readonly((*db)->handle(), "main") == 1) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem,
                    fmt::format("{} opens read-only: the connector could not record any job", path),
                    MoveHint(path));
  }
  std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  if (::access(dir.c_str(), W_OK) != 0) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem,
                    fmt::format("the directory {} is not writable: SQLite keeps the -wal and -shm "
                                "files of the store next to it",
                                dir.string()),
                    MoveHint(path));
  }
  std::error_code ec;
  const auto space = std::filesystem::space(dir, ec);
  if (!ec && space.available < kMinFreeBytes) {
    return ctx.Emit(
        kCheck, CheckOutcome::kProblem,
        fmt::format("only {} MiB free on the file system of {}", space.available >> 20, path),
        "free space on that disk or move the store (store.path) to a larger one");
  }
  std::string detail = fmt::format("{}: writable, schema version {} (current)", path, current);
  if (*before != current) {
    detail += *before == 0 ? "; created now" : fmt::format("; migrated from version {}", *before);
  }
  ctx.Emit(kCheck, CheckOutcome::kOk, detail);
}

}  // namespace vc::app
