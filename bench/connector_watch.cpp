#include "connector_watch.hpp"

#include <fmt/format.h>

#include <deque>
#include <fstream>
#include <iostream>
#include <thread>

namespace vc::bench {

double SecondsSince(SteadyTime since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

WatchResult WatchJobs(ChildProcess& connector, StoreProbe& probe,
                      const std::function<bool(const JobTally&)>& done, SteadyTime since,
                      Millis timeout, Millis period) {
  WatchResult w;
  auto next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    if (!connector.Running()) {
      w.problem = "the connector exited before the jobs settled";
      break;
    }
    if (auto s = connector.Sample()) w.max_rss_kib = std::max(w.max_rss_kib, s->rss_kib);
    auto tally = probe.Tally();
    if (!tally) {
      w.problem = tally.error().message;
      break;
    }
    w.tally = *tally;
    w.seconds = SecondsSince(since);
    if (done(w.tally)) {
      w.reached = true;
      break;
    }
    if (w.seconds * 1000 > static_cast<double>(timeout.count())) {
      w.problem = fmt::format("timed out after {:.0f} s", w.seconds);
      break;
    }
    if (std::chrono::steady_clock::now() >= next_progress) {
      next_progress += std::chrono::seconds(5);
      std::string states;
      for (const auto& [state, n] : w.tally.by_state) {
        states += fmt::format(" {}={}", state, n);
      }
      std::cerr << fmt::format("  [{:6.1f} s] jobs {} open {}:{}\n", w.seconds, w.tally.total,
                               w.tally.open, states);
    }
    std::this_thread::sleep_for(period);
  }
  return w;
}

std::string TailOf(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

}  // namespace vc::bench
