// Watches a running connector through its store until the jobs reach a condition, while
// tracking the connector's peak memory from /proc (sampled, as a cross-check of wait4's figure).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "child_process.hpp"
#include "store_probe.hpp"

namespace vc::bench {

using SteadyTime = std::chrono::steady_clock::time_point;

struct WatchResult {
  bool reached = false;
  double seconds = 0;       // from `since` to the moment the condition held (or the end)
  JobTally tally;           // the last tally read
  int64_t max_rss_kib = 0;  // largest VmRSS seen
  std::string problem;      // why it stopped early: timeout, connector exited, store error
};

// Reads the store every `period` until `done(tally)`, `timeout` after `since`, or the connector
// exits. Prints a progress line to stderr every few seconds.
WatchResult WatchJobs(ChildProcess& connector, StoreProbe& probe,
                      const std::function<bool(const JobTally&)>& done, SteadyTime since,
                      Millis timeout, Millis period = Millis(100));

// The last `lines` lines of a text file (the connector's log after a failure).
std::string TailOf(const std::string& path, int lines);

double SecondsSince(SteadyTime since);

}  // namespace vc::bench
