#include "jobs/scheduler.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace vc::jobs {
namespace {
// A job waiting for its write-back is parked this far out; CompleteOutbox finishes it sooner.
// If its outbox row were ever lost, the job would come back and enqueue it again (same key).
constexpr auto kParkedWriteBack = std::chrono::hours(24);
}  // namespace

Scheduler::Scheduler(SchedulerOptions options, store::Store& store, Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {
  if (options_.owner.empty()) options_.owner = "worker-" + DefaultRandom().HexToken(6);
  if (options_.workers < 1) options_.workers = 1;
}

Scheduler::~Scheduler() {
  Stop();
}

void Scheduler::Register(std::shared_ptr<JobHandler> handler) {
  job_handlers_[handler->kind()] = std::move(handler);
}

void Scheduler::Register(std::shared_ptr<OutboxHandler> handler) {
  outbox_handlers_[handler->kind()] = std::move(handler);
}

void Scheduler::Start() {
  if (running_.exchange(true)) return;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

void Scheduler::Stop() {
  if (!running_.exchange(false)) return;
  {
    std::lock_guard lock(mu_);
    queue_.clear();  // leased but not started: released below, leased again by the next run
  }
  work_cv_.notify_all();
  dispatch_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (auto s = store_.ReleaseLeases(options_.owner); !s) {
    spdlog::warn("could not release job leases on shutdown: {}", s.error().ToString());
  }
}

void Scheduler::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  dispatch_cv_.notify_one();
}

std::vector<Scheduler::Work> Scheduler::LeaseBatch(int limit) {
  std::vector<Work> out;
  const TimePoint now = clock_.Now();
  // Write-backs first: each one finishes a job.
  if (!outbox_handlers_.empty()) {
    auto items = store_.LeaseDueOutbox(now, options_.owner, options_.lease, limit);
    if (!items) {
      spdlog::error("cannot lease outbox items: {}", items.error().ToString());
    } else {
      for (auto& i : *items) out.emplace_back(std::move(i));
    }
  }
  const int left = limit - static_cast<int>(out.size());
  if (left > 0) {
    auto jobs = store_.LeaseDueJobs(now, options_.owner, options_.lease, left);
    if (!jobs) {
      spdlog::error("cannot lease jobs: {}", jobs.error().ToString());
    } else {
      for (auto& j : *jobs) out.emplace_back(std::move(j));
    }
  }
  return out;
}

void Scheduler::DispatchLoop() {
  const int capacity = options_.workers * 2;
  while (running_) {
    int room;
    {
      std::unique_lock lock(mu_);
      dispatch_cv_.wait(
          lock, [&] { return !running_ || static_cast<int>(queue_.size()) + busy_ < capacity; });
      if (!running_) break;
      room = capacity - static_cast<int>(queue_.size()) - busy_;
      notified_ = false;
    }
    auto batch = LeaseBatch(room);
    if (batch.empty()) {
      // Nothing due: sleep until the next job or write-back is (at most idle_wait), or until
      // new work is announced, instead of leasing in a tight loop.
      Millis wait = options_.idle_wait;
      if (auto next = store_.NextDueTime(); next && *next) {
        const auto until = std::chrono::ceil<Millis>(**next - clock_.Now());
        wait = std::clamp(until, Millis(1), options_.idle_wait);
      }
      std::unique_lock lock(mu_);
      dispatch_cv_.wait_for(lock, wait, [&] { return !running_ || notified_; });
      continue;
    }
    std::unique_lock lock(mu_);
    const size_t added = batch.size();
    for (auto& w : batch) queue_.push_back(std::move(w));
    lock.unlock();
    // One wake-up per item: waking every idle worker for one job costs more than the job.
    for (size_t i = 0; i < added; ++i) work_cv_.notify_one();
  }
}

void Scheduler::WorkerLoop() {
  for (;;) {
    Work work;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !running_ || !queue_.empty(); });
      if (!running_) return;
      work = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    Run(work);
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    dispatch_cv_.notify_one();
  }
}

int Scheduler::RunUntilIdle(int max_steps) {
  int ran = 0;
  while (ran < max_steps) {
    auto batch = LeaseBatch(16);
    if (batch.empty()) break;
    // Through the queue, as the workers do, so a step can Withdraw a job of the same batch.
    {
      std::lock_guard lock(mu_);
      for (auto& w : batch) queue_.push_back(std::move(w));
    }
    for (;;) {
      Work w;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) break;
        w = std::move(queue_.front());
        queue_.pop_front();
      }
      Run(w);
      ++ran;
    }
  }
  return ran;
}

bool Scheduler::Withdraw(int64_t job_id) {
  std::lock_guard lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const auto* job = std::get_if<store::Job>(&*it);
    if (job && job->id == job_id) {
      queue_.erase(it);
      return true;
    }
  }
  return false;
}

void Scheduler::Run(Work& work) {
  if (auto* job = std::get_if<store::Job>(&work)) {
    RunJob(*job);
  } else {
    RunDelivery(std::get<store::OutboxItem>(work));
  }
  ++steps_;
}

void Scheduler::RunJob(const store::Job& job) {
  ScopedLogContext log_ctx(LogFields{{"job", std::to_string(job.id)}, {"kind", job.kind}});
  const TimePoint now = clock_.Now();
  StepResult r;
  auto it = job_handlers_.find(job.kind);
  if (it == job_handlers_.end()) {
    r.state = "failed";
    r.reason = fmt::format("no handler for job kind {} in this build", job.kind);
    r.final = true;
  } else {
    StepContext ctx{job, now, [&](const std::string& payload) {
                      return store_.SaveJobPayload(job.id, options_.owner, payload);
                    }};
    try {
      r = it->second->Step(ctx);
    } catch (const std::exception& e) {
      // A bug, not the outside world: keep the job, back off, and say so loudly.
      spdlog::error("job {} step {} threw: {}", job.id, job.state, e.what());
      r.state = job.state;
      r.reason = fmt::format("internal error: {}", e.what());
      r.progressed = false;
      r.delay = std::chrono::minutes(5);
    }
  }
  store::JobUpdate u;
  u.id = job.id;
  u.lease_owner = options_.owner;
  u.state = r.state;
  u.reason = r.reason;
  u.payload = r.payload;
  u.attempts = r.progressed ? 0 : job.attempts + 1;
  u.final = r.final;
  Millis delay = r.delay;
  const bool completes =
      std::any_of(r.outbox.begin(), r.outbox.end(), [](const auto& i) { return i.completes_job; });
  if (completes && !r.final && delay.count() == 0) {
    delay = std::chrono::duration_cast<Millis>(kParkedWriteBack);
  }
  u.next_attempt_at = now + delay;
  for (auto& item : r.outbox) {
    // A completing write-back finishes this job; housekeeping stays detached (job id 0).
    if (item.job_id == 0 && item.completes_job) item.job_id = job.id;
    if (item.next_attempt_at == TimePoint{}) item.next_attempt_at = now;
  }
  Status s = r.outbox.empty() ? store_.UpdateJob(u) : store_.UpdateJobAndEnqueue(u, r.outbox);
  if (!s) {
    spdlog::warn("job {}: could not record step result {}: {}", job.id, r.state,
                 s.error().ToString());
    return;
  }
  if (!r.progressed) {
    // A failed attempt: the reason carries the service, HTTP status and request id.
    spdlog::warn("job {} {}: {}", job.id, r.state, r.reason);
  } else if (job.state != r.state) {
    Metrics::Global().Inc("vc_job_transitions_total",
                          {{"kind", job.kind}, {"from", job.state}, {"to", r.state}});
    spdlog::info("job {} {} -> {}: {}", job.id, job.state, r.state, r.reason);
  }
  if (r.delay.count() == 0 || !r.outbox.empty()) Notify();
}

void Scheduler::RunDelivery(const store::OutboxItem& item) {
  ScopedLogContext log_ctx(LogFields{{"outbox", std::to_string(item.id)}, {"kind", item.kind}});
  const TimePoint now = clock_.Now();
  Delivery d;
  auto it = outbox_handlers_.find(item.kind);
  if (it == outbox_handlers_.end()) {
    d.outcome = Delivery::Outcome::kFailed;
    d.reason = fmt::format("no handler for write-back kind {} in this build", item.kind);
    d.job_state = "failed";
    d.job_reason = d.reason;
  } else {
    try {
      d = it->second->Deliver(item, now);
    } catch (const std::exception& e) {
      spdlog::error("write-back {} threw: {}", item.id, e.what());
      d.outcome = Delivery::Outcome::kRetry;
      d.reason = fmt::format("internal error: {}", e.what());
      d.delay = std::chrono::minutes(5);
    }
  }
  store::OutboxUpdate u;
  u.id = item.id;
  u.lease_owner = options_.owner;
  u.attempts = item.attempts;
  u.reason = d.reason;
  Status s;
  if (d.outcome == Delivery::Outcome::kRetry) {
    u.state = "pending";
    u.next_attempt_at = now + d.delay;
    s = store_.UpdateOutbox(u);
    // A refused write-back (a missing permission, throttling) is otherwise invisible in the log;
    // the reason carries the service, HTTP status and request id, like a failed job step.
    if (s) spdlog::warn("write-back {} of job {}: {}", item.id, item.job_id, d.reason);
    if (s && item.job_id != 0) (void)store_.SetJobReason(item.job_id, d.reason);
  } else {
    u.state = d.outcome == Delivery::Outcome::kDone ? "done" : "failed";
    u.next_attempt_at = now;
    Metrics::Global().Inc("vc_writebacks_total", {{"kind", item.kind}, {"outcome", u.state}});
    if (item.job_id == 0) {
      s = store_.UpdateOutbox(u);
    } else {
      store::JobUpdate ju;
      ju.id = item.job_id;
      ju.state = d.job_state;
      ju.reason = d.job_reason;
      ju.final = true;
      ju.next_attempt_at = now;
      s = store_.CompleteOutbox(u, ju);
      if (s) spdlog::info("job {} -> {}: {}", item.job_id, d.job_state, d.job_reason);
    }
  }
  if (!s)
    spdlog::warn("write-back {}: could not record the outcome: {}", item.id, s.error().ToString());
}

}  // namespace vc::jobs
