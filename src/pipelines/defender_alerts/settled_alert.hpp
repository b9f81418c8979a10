// The first half of every alert-level write-back (the status record, the e-mail): read the
// alert's jobs and wait until none of them is still open, so one record and one mail describe
// the whole alert instead of whichever of its files finished first.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "jobs/handler.hpp"
#include "store/store.hpp"

namespace vc::defender {

struct SettledAlert {
  std::string alert_id;
  std::vector<store::Job> jobs;  // every job of the alert ("mde:<alertId>..."), by id
};

// The settled alert, or the Delivery to hand back meanwhile: a retry while its jobs are open
// (after about ten minutes of waiting the write-back goes out with what is there, so one job
// stuck open cannot hold it back forever), or a failure when the request names no alert.
// `what` names the write-back in reasons ("status record", "mail notification").
// Every job of the alert, settled or not.
Result<SettledAlert> ReadAlert(const std::string& alert_id, store::Store& store);

std::variant<SettledAlert, jobs::Delivery> AwaitSettledAlert(const store::OutboxItem& item,
                                                             store::Store& store,
                                                             const std::string& what);

jobs::Delivery RetryDelivery(std::string reason, Millis delay);
jobs::Delivery FinalDelivery(jobs::Delivery::Outcome outcome, std::string reason);
// Backoff of an alert-level write-back whose service refused or was away: 10 s doubling with
// each attempt, at most 30 min.
Millis WriteBackBackoff(int attempts);

}  // namespace vc::defender
