// Reads the connector's SQLite store read-only while the connector runs (WAL lets a reader in
// beside the writer), to see when every job is final without asking the connector anything.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/result.hpp"

struct sqlite3;

namespace vc::bench {

struct JobTally {
  int64_t total = 0;
  int64_t open = 0;                         // non-final jobs
  std::map<std::string, int64_t> by_state;  // every job, final or not
  int64_t InState(const std::string& state) const {
    auto it = by_state.find(state);
    return it == by_state.end() ? 0 : it->second;
  }
};

class StoreProbe {
 public:
  explicit StoreProbe(std::string path) : path_(std::move(path)) {}
  ~StoreProbe();
  StoreProbe(const StoreProbe&) = delete;
  StoreProbe& operator=(const StoreProbe&) = delete;

  // Counts jobs by state. Before the connector has created the file (or its tables), the tally
  // is empty, not an error.
  Result<JobTally> Tally();

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace vc::bench
