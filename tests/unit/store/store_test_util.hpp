// Shared helpers of the store tests: a private temporary directory per test, a raw SQLite
// connection to inspect files from outside the store, and a fixture with an in-memory store.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "store/store.hpp"

namespace vc::store::testing {

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vc-store-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    ::chmod(path_.c_str(), 0700);  // a test may have made it read-only
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A second connection to a database file, bypassing the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs statements; returns SQLite's result code.
  int Exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (message != nullptr) last_error_ = message;
    sqlite3_free(message);
    return rc;
  }
  // First column of the first row as text ("" when no row or NULL).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "prepare failed: " << sqlite3_errmsg(db_) << " for " << sql;
      return out;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  int64_t Int(const std::string& sql) {
    std::string text = Text(sql);
    return text.empty() ? 0 : std::stoll(text);
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

inline bool RunningAsRoot() {
  return ::geteuid() == 0;
}

// An in-memory store on a manual clock; helpers to create jobs in one line.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqliteStore(SqliteOptions{.path = ":memory:"}, clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  TimePoint Now() const { return clock_.Now(); }

  // Inserts a job due at `due` (default: now) and returns its id (0 on failure).
  int64_t AddJob(const std::string& key, std::optional<TimePoint> due = std::nullopt,
                 const std::string& group_key = "", const std::string& state = "new",
                 const std::string& kind = "defender_evidence") {
    NewJob job{.kind = kind,
               .key = key,
               .state = state,
               .payload = R"({"key":")" + key + R"("})",
               .group_key = group_key,
               .next_attempt_at = due.value_or(Now())};
    auto inserted = store_->InsertJob(job);
    EXPECT_TRUE(inserted && *inserted) << key;
    auto stored = store_->GetJobByKey(key);
    if (!stored || !stored->has_value()) {
      ADD_FAILURE() << "job " << key << " not found after insert";
      return 0;
    }
    return (*stored)->id;
  }

  Job MustGetJob(int64_t id) {
    auto job = store_->GetJob(id);
    if (!job || !job->has_value()) {
      ADD_FAILURE() << "job " << id << " not found";
      return Job{};
    }
    return **job;
  }

  // A lease on exactly this job (it must be the only due one).
  void LeaseOnly(int64_t id, const std::string& owner, Millis lease_for = Millis{30'000}) {
    auto leased = store_->LeaseDueJobs(Now(), owner, lease_for, 10);
    ASSERT_TRUE(leased) << leased.error().ToString();
    ASSERT_EQ(leased->size(), 1u);
    ASSERT_EQ(leased->front().id, id);
  }

  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

}  // namespace vc::store::testing
