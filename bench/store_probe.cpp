#include "store_probe.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace vc::bench {

StoreProbe::~StoreProbe() {
  if (db_ != nullptr) sqlite3_close(db_);
}

Result<JobTally> StoreProbe::Tally() {
  JobTally tally;
  if (db_ == nullptr) {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return tally;
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      return MakeError(ErrorCode::kUnavailable, "cannot open " + path_ + " read-only: " + message);
    }
    // The connector writes all the time; wait for its short write transactions, never fail.
    sqlite3_busy_timeout(db_, 2000);
  }
  sqlite3_stmt* stmt = nullptr;
  const char* sql = "SELECT state, final, count(*) FROM jobs GROUP BY state, final";
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    // No jobs table yet: the connector is still applying its migrations.
    sqlite3_finalize(stmt);
    return tally;
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* state = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    const bool final = sqlite3_column_int(stmt, 1) != 0;
    const int64_t n = sqlite3_column_int64(stmt, 2);
    tally.total += n;
    if (!final) tally.open += n;
    tally.by_state[state ? state : ""] += n;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string("reading jobs from the store failed: ") + sqlite3_errmsg(db_));
  }
  return tally;
}

}  // namespace vc::bench
