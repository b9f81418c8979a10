// The /status page: one self-contained HTML document (inline CSS, no script, no external asset)
// that refreshes itself. CollectStatus reads what the page shows with bounded queries (grouped
// counts, the newest 100 jobs, the 30 most recent problems), so it stays fast and small with
// 100,000 jobs in the store; RenderStatusPage turns it into HTML, escaping every value.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "server/readiness.hpp"
#include "store/store.hpp"

namespace vc::server {

struct LimiterUse {
  std::string name;
  double utilisation = 0;  // 0..1 of the tightest window
};

struct StatusRow {
  int64_t id = 0;
  std::string kind;
  std::string alert_id;
  std::string alert_title;
  std::string file_name;
  std::string verdict;  // from the samples table; empty while unknown
  std::string state;
  std::string reason;
  int attempts = 0;
  bool final = false;
  TimePoint next_attempt_at;
  TimePoint updated_at;
};

struct StatusView {
  TimePoint now;
  std::string version;
  std::vector<ReadinessCheck> checks;
  std::vector<store::JobCount> job_counts;
  std::vector<store::OutboxCount> outbox_counts;
  std::optional<TimePoint> oldest_due;
  std::vector<LimiterUse> limiters;
  std::vector<StatusRow> recent;    // newest first
  std::vector<StatusRow> troubled;  // failed or retrying, most recently updated first
};

inline constexpr int kStatusRecentJobs = 100;
inline constexpr int kStatusTroubledJobs = 30;
inline constexpr int kStatusRefreshSeconds = 10;

Result<StatusView> CollectStatus(store::Store& store, TimePoint now);

// What an operator can do about a job that failed or keeps retrying, from its error code.
std::string WhatToDo(const StatusRow& row, TimePoint now);

std::string RenderStatusPage(const StatusView& view);

}  // namespace vc::server
