// Wires one running connector from a validated Config: the HTTP stack, token cache, clients,
// store, job engine and pollers. The same object backs `run` (until a signal), `run --once`,
// the demo and the end-to-end tests.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "app/instance_lock.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/defender/client.hpp"
#include "clients/vmray/client.hpp"
#include "config/config.hpp"
#include "http/rate_limiter.hpp"
#include "jobs/scheduler.hpp"
#include "pipelines/defender_alerts/alert_poller.hpp"
#include "pipelines/defender_alerts/options.hpp"
#include "store/store.hpp"

namespace vc::app {

defender::DefenderOptions DefenderOptionsFrom(const config::Config& config);

class Daemon {
 public:
  explicit Daemon(config::Config config, Clock& clock = DefaultClock());
  ~Daemon();

  // Opens the store and builds everything; nothing runs yet.
  Status Open();
  // Starts the workers and the alert poller thread.
  void Start();
  void Stop();
  // One poll and then steps until nothing is due (no threads): `run --once` and tests.
  Status RunOnce();
  Result<defender::PollStats> PollAlerts();
  // True when every job is final and no write-back is pending.
  Result<bool> Settled();

  store::Store& store() { return *store_; }
  jobs::Scheduler& scheduler() { return *scheduler_; }
  const config::Config& config() const { return config_; }

 private:
  void PollLoop();

  config::Config config_;
  Clock& clock_;
  std::unique_ptr<InstanceLock> lock_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<http::RateLimiterRegistry> limiters_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<vmray::Client> vmray_;
  std::unique_ptr<mde::Client> mde_;
  std::unique_ptr<jobs::Scheduler> scheduler_;
  std::unique_ptr<defender::AlertPoller> poller_;

  std::atomic<bool> running_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread poll_thread_;
};

}  // namespace vc::app
