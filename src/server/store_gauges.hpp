// Gauges computed from the store when /metrics is scraped: jobs by kind and state, write-backs
// by kind and state, and the age of the oldest due job. Computing them at scrape time (a grouped
// count, not a counter kept in memory) keeps them true after a restart and across processes.
#pragma once

#include <mutex>
#include <set>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "store/store.hpp"

namespace vc::server {

class StoreGauges {
 public:
  explicit StoreGauges(Metrics& metrics) : metrics_(metrics) {}

  // Reads the store and sets the gauges. A (kind, state) seen before and now gone is set to 0,
  // so a drained queue reads 0 instead of its last count.
  Status Update(store::Store& store, TimePoint now);

 private:
  Metrics& metrics_;
  std::mutex mu_;
  std::set<Labels> jobs_seen_;
  std::set<Labels> outbox_seen_;
};

}  // namespace vc::server
