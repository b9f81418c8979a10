#include "http/rate_limiter.hpp"

#include <algorithm>

namespace vc::http {

RateLimiter::RateLimiter(std::string name, std::vector<RateWindow> windows, Clock& clock)
    : name_(std::move(name)),
      windows_(std::move(windows)),
      clock_(clock),
      spent_(windows_.size()) {}

void RateLimiter::Expire(TimePoint now) {
  for (size_t i = 0; i < windows_.size(); ++i) {
    auto& q = spent_[i];
    while (!q.empty() && q.front() + windows_[i].period <= now) q.pop_front();
  }
}

Millis RateLimiter::FreeIn() {
  std::lock_guard lock(mu_);
  return WaitLocked(clock_.Now());
}

Millis RateLimiter::WaitLocked(TimePoint now) {
  Expire(now);
  Millis wait{0};
  for (size_t i = 0; i < windows_.size(); ++i) {
    const auto& q = spent_[i];
    if (static_cast<int>(q.size()) >= windows_[i].limit) {
      // The oldest spent token of this window comes back first.
      const auto back = q[q.size() - static_cast<size_t>(windows_[i].limit)] + windows_[i].period;
      wait = std::max(wait, std::chrono::ceil<Millis>(back - now));
    }
  }
  return wait;
}

Millis RateLimiter::TryAcquire() {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  Millis wait = WaitLocked(now);
  if (wait.count() > 0) return wait;
  for (auto& q : spent_) q.push_back(now);
  return Millis{0};
}

double RateLimiter::Utilisation() {
  std::lock_guard lock(mu_);
  Expire(clock_.Now());
  double u = 0;
  for (size_t i = 0; i < windows_.size(); ++i) {
    u = std::max(u, static_cast<double>(spent_[i].size()) / windows_[i].limit);
  }
  return u;
}

void RateLimiterRegistry::Define(const std::string& key, std::vector<RateWindow> windows) {
  limiters_[key] = std::make_unique<RateLimiter>(key, std::move(windows), clock_);
}

RateLimiter* RateLimiterRegistry::Find(const std::string& key) const {
  auto it = limiters_.find(key);
  return it == limiters_.end() ? nullptr : it->second.get();
}

std::vector<RateLimiter*> RateLimiterRegistry::All() const {
  std::vector<RateLimiter*> out;
  for (const auto& [_, l] : limiters_) out.push_back(l.get());
  return out;
}

void DefineMdeLimits(RateLimiterRegistry& registry) {
  using std::chrono::hours;
  using std::chrono::minutes;
  const std::vector<RateWindow> standard = {{100, minutes(1)}, {1500, hours(1)}};
  for (const char* op :
       {"alerts.list", "alerts.get", "alerts.update", "machines.get", "machines.list",
        "machineactions.list", "machineactions.get", "machineactions.cancel", "liveresponse.link",
        "library.upload", "library.list", "library.delete", "indicators.submit",
        // Response actions (isolate-machine, run-av-scan, ... pages): 100/min, 1,500/h.
        "machines.isolate", "machines.scan", "machines.stopandquarantine",
        "machines.collectpackage"}) {
    registry.Define(std::string("mde.") + op, standard);
  }
  registry.Define("mde.liveresponse.run", {{10, minutes(1)}});
  registry.Define("mde.alerts.batchupdate", {{10, minutes(1)}, {500, hours(1)}});
  registry.Define("mde.indicators.import", {{30, minutes(1)}});
  registry.Define("mde.indicators.batchdelete", {{30, minutes(1)}, {1500, hours(1)}});
}

}  // namespace vc::http
