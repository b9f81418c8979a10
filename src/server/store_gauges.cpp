#include "server/store_gauges.hpp"

#include <fmt/chrono.h>

namespace vc::server {
namespace {

void SetAll(Metrics& metrics, const std::string& name, std::set<Labels>& seen,
            const std::vector<std::pair<Labels, double>>& values) {
  std::set<Labels> now_seen;
  for (const auto& [labels, value] : values) {
    metrics.Set(name, labels, value);
    now_seen.insert(labels);
  }
  for (const auto& labels : seen) {
    if (!now_seen.count(labels)) metrics.Set(name, labels, 0);
  }
  seen.insert(now_seen.begin(), now_seen.end());
}

}  // namespace

Status StoreGauges::Update(store::Store& store, TimePoint now) {
  VC_ASSIGN_OR_RETURN(auto job_counts, store.CountJobs());
  VC_ASSIGN_OR_RETURN(auto outbox_counts, store.CountOutbox());
  VC_ASSIGN_OR_RETURN(auto oldest, store.OldestDueJob(now));
  // The budget day is the UTC date (pipelines/defender_alerts/submission_budget.hpp).
  const std::string day =
      fmt::format("{:%Y-%m-%d}", fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
  VC_ASSIGN_OR_RETURN(int64_t budget_used, store.BudgetUsed(day));

  std::vector<std::pair<Labels, double>> jobs;
  for (const auto& c : job_counts) {
    jobs.push_back({{{"kind", c.kind}, {"state", c.state}}, static_cast<double>(c.count)});
  }
  std::vector<std::pair<Labels, double>> outbox;
  for (const auto& c : outbox_counts) {
    outbox.push_back({{{"kind", c.kind}, {"state", c.state}}, static_cast<double>(c.count)});
  }
  const double oldest_age =
      oldest ? std::max(0.0, std::chrono::duration<double>(now - *oldest).count()) : 0.0;

  std::lock_guard lock(mu_);
  SetAll(metrics_, "vc_jobs", jobs_seen_, jobs);
  SetAll(metrics_, "vc_outbox_items", outbox_seen_, outbox);
  metrics_.Set("vc_oldest_due_job_age_seconds", {}, oldest_age);
  metrics_.Set("vc_vmray_budget_used_today", {}, static_cast<double>(budget_used));
  return Ok();
}

}  // namespace vc::server
