// Reads new MDE alerts and turns each (alert, file evidence) into one durable job. The cursor
// (newest alert creation time read) lives in the store; each poll re-reads an overlap window
// because alerts can surface in the API after their creation time. Re-reading is free: job keys
// are unique, so an alert already known creates nothing.
#pragma once

#include <functional>

#include "clients/defender/client.hpp"
#include "pipelines/defender_alerts/options.hpp"
#include "store/store.hpp"

namespace vc::defender {

struct PollStats {
  int alerts = 0;
  int filtered = 0;  // excluded by title or detection source
  int jobs_created = 0;
  int already_known = 0;
  int without_file = 0;  // alerts with no usable file evidence
  int unreadable = 0;    // alerts MDE sent in a shape we cannot read (skipped, each with a job)
};

class AlertPoller {
 public:
  AlertPoller(DefenderOptions options, mde::Client& mde, store::Store& store, Clock& clock);
  Result<PollStats> PollOnce();

  static constexpr const char* kCursor = "defender.alerts.created_since";

 private:
  // Appends the jobs for one alert (one per file evidence, or one explaining why there is none).
  void Admit(const mde::Alert& alert, TimePoint now, PollStats& stats,
             std::vector<store::NewJob>& jobs);
  bool Wanted(const mde::Alert& alert) const;

  DefenderOptions options_;
  mde::Client& mde_;
  store::Store& store_;
  Clock& clock_;
};

}  // namespace vc::defender
