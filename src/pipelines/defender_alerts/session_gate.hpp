// Live Response sessions this connector holds open, counted exactly, and handed out in order of
// alert severity. MDE allows 25 concurrent sessions per tenant and answers 429 beyond; counting
// rows before each start overshoots (many workers read the same count) and costs a table scan
// per attempt. A job takes a slot before it starts a session and gives it back when it leaves
// `collection_pending`; at start-up the count is rebuilt from the jobs that are in that state.
//
// Priority lives here, at the scarce resource, and not in the job lease: sorting the lease
// query by priority would make every lease walk the waiting high-priority jobs instead of the
// due-time index. A job refused a slot, or refused by the runliveresponse rate limiter, is
// remembered as a waiter; while a waiter of higher priority has asked recently, lower ones are
// refused even when a slot is free, so the next slot and the next runliveresponse call go to the
// more severe alert. Waiters not heard from within `stale_after` (a job that crashed, failed or
// went to sleep for long) no longer hold anyone back.
//
// It also remembers which jobs wait for which device (busy, no slot, rate limit), so the job
// that gets a device's next session can collect the others' files in it too.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/clock.hpp"

namespace vc::defender {

// Alert severity as a Live Response priority: High 3, Medium 2, Low 1, anything else 0.
inline int SeverityPriority(std::string_view severity) {
  auto is = [&](std::string_view name) {
    if (severity.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(severity[i])) != name[i]) return false;
    }
    return true;
  };
  if (is("high")) return 3;
  if (is("medium")) return 2;
  if (is("low")) return 1;
  return 0;
}

class SessionGate {
 public:
  explicit SessionGate(int limit, Millis stale_after = Millis(120'000))
      : limit_(limit), stale_after_(stale_after) {}

  void Reset(int in_flight) {
    std::lock_guard lock(mu_);
    in_flight_ = in_flight;
  }
  // Takes a slot for `job_id` when one is free and no fresh waiter outranks it; otherwise
  // records the job as waiting and returns false.
  bool TryAcquire(int64_t job_id, int priority, TimePoint now) {
    std::lock_guard lock(mu_);
    DropStale(now);
    if (in_flight_ >= limit_ || OutrankedLocked(job_id, priority)) {
      waiters_[job_id] = {priority, now};
      return false;
    }
    waiters_.erase(job_id);
    ++in_flight_;
    return true;
  }
  // The job holds no slot but still waits for Live Response (our rate limiter said "not yet").
  void Wait(int64_t job_id, int priority, TimePoint now) {
    std::lock_guard lock(mu_);
    waiters_[job_id] = {priority, now};
  }
  // The job no longer waits (it started its session, or ended).
  void Forget(int64_t job_id) {
    std::lock_guard lock(mu_);
    waiters_.erase(job_id);
    device_waiters_.erase(job_id);
  }
  // The job waits to collect a file from `machine_id`.
  void WaitForDevice(const std::string& machine_id, int64_t job_id, int priority, TimePoint now) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = device_waiters_.try_emplace(job_id, machine_id, priority, now);
    if (!fresh) {
      it->second.machine_id = machine_id;
      it->second.priority = priority;
    }
  }
  // Up to `max` other jobs waiting for `machine_id`, most severe first, then the longest
  // waiting. No expiry by time: a job waiting for a busy device may sleep for long, and a
  // job that moved on is dropped by Forget (a stale id only costs a refused LeaseJob).
  std::vector<int64_t> WaitingForDevice(const std::string& machine_id, int64_t except, size_t max) {
    std::lock_guard lock(mu_);
    std::vector<std::tuple<int, TimePoint, int64_t>> found;
    for (const auto& [id, w] : device_waiters_) {
      if (id != except && w.machine_id == machine_id) found.emplace_back(-w.priority, w.since, id);
    }
    std::sort(found.begin(), found.end());
    std::vector<int64_t> ids;
    for (const auto& f : found) {
      if (ids.size() >= max) break;
      ids.push_back(std::get<2>(f));
    }
    return ids;
  }
  void Release() {
    std::lock_guard lock(mu_);
    if (in_flight_ > 0) --in_flight_;
  }
  // The device runs a session `job_id` started (known in this process only: after a restart
  // the device check finds it in MDE). A job for a device in session waits without spending a
  // runliveresponse slot or a machineactions.list call.
  void StartDeviceSession(const std::string& machine_id, int64_t job_id) {
    std::lock_guard lock(mu_);
    device_sessions_[job_id] = machine_id;
  }
  void EndDeviceSession(int64_t job_id) {
    std::lock_guard lock(mu_);
    device_sessions_.erase(job_id);
  }
  bool DeviceInSession(const std::string& machine_id) const {
    std::lock_guard lock(mu_);
    if (device_actions_.count(machine_id)) return true;
    for (const auto& [id, machine] : device_sessions_) {
      if (machine == machine_id) return true;
    }
    return false;
  }
  // A response action (response_actions.hpp) is being checked and requested on the device:
  // nobody else of ours starts anything there meanwhile (DeviceInSession is true). False when
  // the device is already held.
  bool TryHoldForAction(const std::string& machine_id) {
    std::lock_guard lock(mu_);
    return device_actions_.insert(machine_id).second;
  }
  void ReleaseAction(const std::string& machine_id) {
    std::lock_guard lock(mu_);
    device_actions_.erase(machine_id);
  }
  // Some job waits to collect a file from the device (WaitForDevice and not yet Forget).
  bool DeviceWanted(const std::string& machine_id) const {
    std::lock_guard lock(mu_);
    for (const auto& [id, w] : device_waiters_) {
      if (w.machine_id == machine_id) return true;
    }
    return false;
  }
  int in_flight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }
  // Fresh waiters whose priority is above `priority`.
  int WaitingAbove(int priority, TimePoint now) {
    std::lock_guard lock(mu_);
    DropStale(now);
    int n = 0;
    for (const auto& [id, w] : waiters_) n += w.priority > priority ? 1 : 0;
    return n;
  }
  int limit() const { return limit_; }

 private:
  struct Waiter {
    int priority = 0;
    TimePoint last_seen;
  };
  struct DeviceWaiter {
    DeviceWaiter() = default;
    DeviceWaiter(std::string machine, int prio, TimePoint now)
        : machine_id(std::move(machine)), priority(prio), since(now) {}
    std::string machine_id;
    int priority = 0;
    TimePoint since;  // kept when the job asks again, so the longest waiting goes first
  };
  void DropStale(TimePoint now) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      it = now - it->second.last_seen > stale_after_ ? waiters_.erase(it) : std::next(it);
    }
  }
  bool OutrankedLocked(int64_t job_id, int priority) const {
    for (const auto& [id, w] : waiters_) {
      if (id != job_id && w.priority > priority) return true;
    }
    return false;
  }

  const int limit_;
  const Millis stale_after_;
  mutable std::mutex mu_;
  int in_flight_ = 0;
  std::map<int64_t, Waiter> waiters_;
  std::map<int64_t, DeviceWaiter> device_waiters_;
  std::map<int64_t, std::string> device_sessions_;  // leader job -> device, at most the limit
  std::set<std::string> device_actions_;            // devices a response action is being asked on
};

}  // namespace vc::defender
