// The job engine: a dispatcher thread leases due jobs and outbox items from the store and hands
// them to a pool of worker threads; each worker runs one step and writes the result back. A
// crash loses nothing: leased work that never reported back is leased again after restart.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "core/random.hpp"
#include "jobs/handler.hpp"

namespace vc::jobs {

struct SchedulerOptions {
  int workers = 8;
  Millis lease{300'000};
  Millis idle_wait{1'000};  // longest sleep of an idle dispatcher (it wakes at the next due time)
  std::string owner;        // lease owner name; empty: a random one
};

class Scheduler {
 public:
  Scheduler(SchedulerOptions options, store::Store& store, Clock& clock);
  ~Scheduler();

  void Register(std::shared_ptr<JobHandler> handler);
  void Register(std::shared_ptr<OutboxHandler> handler);

  void Start();
  // Stops leasing, lets running steps finish, releases unstarted leases.
  void Stop();
  // Wakes the dispatcher (new work was inserted or woken).
  void Notify();

  // Runs due work on the calling thread until nothing is due (tests, `run --once`).
  // Returns the number of steps and deliveries run.
  int RunUntilIdle(int max_steps = 1'000'000);

  // Takes a job this scheduler leased out of its queue before a worker starts it, so a step
  // can do the job's work together with its own (a Live Response session that collects the
  // files of several jobs). True when the job was waiting in the queue: the caller now holds
  // its lease and must write its next state with UpdateJob.
  bool Withdraw(int64_t job_id);

  const std::string& owner() const { return options_.owner; }
  int64_t steps_run() const { return steps_.load(); }

 private:
  using Work = std::variant<store::Job, store::OutboxItem>;
  void DispatchLoop();
  void WorkerLoop();
  void Run(Work& work);
  void RunJob(const store::Job& job);
  void RunDelivery(const store::OutboxItem& item);
  std::vector<Work> LeaseBatch(int limit);

  SchedulerOptions options_;
  store::Store& store_;
  Clock& clock_;
  std::map<std::string, std::shared_ptr<JobHandler>> job_handlers_;
  std::map<std::string, std::shared_ptr<OutboxHandler>> outbox_handlers_;

  std::atomic<bool> running_{false};
  std::mutex mu_;
  std::condition_variable work_cv_;      // workers wait for work
  std::condition_variable dispatch_cv_;  // dispatcher waits for room or a notify
  std::deque<Work> queue_;
  int busy_ = 0;
  bool notified_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> steps_{0};
};

}  // namespace vc::jobs
