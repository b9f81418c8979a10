// Wires one running connector from a validated Config: the HTTP stack, token cache, clients,
// store, job engine and pollers. The same object backs `run` (until a signal), `run --once`,
// the demo and the end-to-end tests.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/feed_services.hpp"
#include "app/instance_lock.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/blob/client.hpp"
#include "clients/defender/client.hpp"
#include "clients/graph/incidents.hpp"
#include "clients/vmray/client.hpp"
#include "config/config.hpp"
#include "http/rate_limiter.hpp"
#include "jobs/scheduler.hpp"
#include "pipelines/defender_alerts/alert_poller.hpp"
#include "pipelines/defender_alerts/evidence_job.hpp"
#include "pipelines/defender_alerts/options.hpp"
#include "server/enrichment/enrichment_server.hpp"
#include "server/ops_server.hpp"
#include "store/store.hpp"

namespace vc::app {

defender::DefenderOptions DefenderOptionsFrom(const config::Config& config);

class Daemon {
 public:
  explicit Daemon(config::Config config, Clock& clock = DefaultClock());
  ~Daemon();

  // Opens the store and builds everything; only the ops listener (ops.enabled) runs yet, so
  // probes see the connector while it starts. A taken ops port fails here, before any work.
  Status Open();
  // Starts the workers and the alert poller thread.
  void Start();
  void Stop();
  // One poll and then steps until nothing is due (no threads): `run --once` and tests.
  Status RunOnce();
  Result<defender::PollStats> PollAlerts();
  // True when every job is final and no write-back is pending.
  Result<bool> Settled();

  // What /readyz reports: config, store writable, each enabled poller's last success inside
  // its window, not shutting down.
  std::vector<server::ReadinessCheck> ReadinessChecks();
  // The ops listener's bound port (0 when ops.enabled is false).
  int ops_port() const { return ops_ ? ops_->port() : 0; }
  std::string ops_url() const { return ops_ ? ops_->BaseUrl() : std::string(); }
  // The enrichment API's base URL (empty when enrichment.enabled is false).
  std::string enrichment_url() const {
    return enrichment_ ? enrichment_->BaseUrl() : std::string();
  }

  store::Store& store() { return *store_; }
  jobs::Scheduler& scheduler() { return *scheduler_; }
  const config::Config& config() const { return config_; }

 private:
  // The Blob client and library sync for quarantine collection, when a storage account is
  // configured; reopens antivirus alerts parked while it was not.
  Status OpenStorage(std::shared_ptr<http::Transport> transport, Random& random,
                     defender::QuarantineHandOff& out);
  // Binds the enrichment API when enrichment.enabled; it serves from Start().
  Status OpenEnrichment();
  void PollLoop();
  // The Sentinel TI feed (feed.enabled): a run at start, then at every Polling slot.
  void FeedLoop();
  void RecordPoll(const Status& outcome);

  config::Config config_;
  Clock& clock_;
  std::unique_ptr<InstanceLock> lock_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<http::RateLimiterRegistry> limiters_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<vmray::Client> vmray_;
  std::unique_ptr<mde::Client> mde_;
  std::unique_ptr<graph::IncidentClient> graph_;  // null: no incident write-backs
  std::unique_ptr<blob::BlobClient> blob_;        // null: no storage account configured
  std::unique_ptr<jobs::Scheduler> scheduler_;
  std::unique_ptr<defender::AlertPoller> poller_;
  std::unique_ptr<server::OpsServer> ops_;
  // After vmray_: it calls VMRay through it, so it must go first.
  std::unique_ptr<enrichment::EnrichmentServer> enrichment_;

  std::mutex poll_mu_;
  std::optional<TimePoint> last_poll_ok_;
  std::optional<std::string> last_poll_error_;
  std::atomic<bool> stopping_{false};

  std::atomic<bool> running_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread poll_thread_;
  std::unique_ptr<FeedServices> feed_;  // null: the feed is off
  std::thread feed_thread_;
};

}  // namespace vc::app
