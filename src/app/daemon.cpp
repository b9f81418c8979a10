#include "app/daemon.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "pipelines/defender_alerts/evidence_job.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

http::RetryOptions RetryFrom(int max_retry, int budget_minutes) {
  http::RetryOptions r;
  r.max_retries = max_retry;
  r.total_budget = Millis(static_cast<int64_t>(budget_minutes) * 60'000);
  return r;
}

}  // namespace

defender::DefenderOptions DefenderOptionsFrom(const config::Config& c) {
  defender::DefenderOptions o;
  const auto& d = c.defender;
  o.poll_interval = Millis(d.poll_interval_seconds * 1000LL);
  o.initial_lookback = Millis(d.initial_lookback_minutes * 60'000LL);
  o.page_size = d.page_size;
  o.severities = d.alert_severities;
  o.statuses = d.alert_statuses;
  o.detection_sources = d.detection_sources;
  o.title_filters = d.title_filters;
  o.fetch_quarantined_files = d.fetch_quarantined_files;
  o.resubmit_after_days = c.vmray.resubmit_after_days;
  o.analysis_poll_interval = Millis(c.vmray.analysis_poll_interval_seconds * 1000LL);
  o.analysis_timeout = Millis(c.vmray.analysis_job_timeout_minutes * 60'000LL);
  o.analysis_duration_seconds = c.vmray.analysis_timeout_seconds;
  o.submission_comment = c.vmray.submission_comment;
  o.max_file_size = c.vmray.max_file_size_bytes;
  o.lr_poll_interval = Millis(d.live_response.poll_interval_seconds * 1000LL);
  const int retries = std::max(1, d.machine_availability_retry);
  o.busy_wait = Millis(d.machine_availability_timeout_minutes * 60'000LL / retries);
  o.lr_max_attempts = retries;
  o.lr_give_up = Millis(d.live_response.give_up_after_hours * 3'600'000LL);
  o.max_concurrent_sessions = d.live_response.max_concurrent_sessions;
  o.wait_for_sample_poll = std::min(Millis(60'000), o.analysis_poll_interval * 2);
  return o;
}

Daemon::Daemon(config::Config config, Clock& clock) : config_(std::move(config)), clock_(clock) {}

Daemon::~Daemon() {
  Stop();
}

Status Daemon::Open() {
  // One process per store: start-up releases every lease, which is only right when the
  // previous owner of those leases is gone.
  auto lock = InstanceLock::Acquire(config_.store.path + ".lock");
  if (!lock) return lock.error();
  lock_ = std::move(*lock);
  auto store = store::OpenSqliteStore({config_.store.path, config_.store.synchronous_full}, clock_);
  if (!store) return store.error();
  store_ = std::move(*store);
  // Single instance on SQLite: leases left by a previous (killed) process are void.
  VC_RETURN_IF_ERROR(store_->ReleaseLeases(""));

  http::TransportOptions t;
  t.proxy = config_.http.proxy;
  t.ca_file = config_.http.ca_file;
  t.verify_tls = !config_.http.insecure_skip_tls_verify;
  t.connect_timeout = Millis(config_.http.connect_timeout_seconds * 1000LL);
  t.request_timeout = Millis(config_.http.request_timeout_seconds * 1000LL);
  if (!t.verify_tls)
    spdlog::warn("TLS certificate verification is OFF (http.insecure_skip_tls_verify)");
  auto transport = std::make_shared<http::CurlTransport>(t);
  Random& random = DefaultRandom();

  limiters_ = std::make_shared<http::RateLimiterRegistry>(clock_);
  if (config_.defender.enforce_rate_limits) http::DefineMdeLimits(*limiters_);

  auth::EntraOptions entra;
  entra.authority_host = config_.azure.authority_host;
  entra.tenant_id = config_.azure.tenant_id;
  entra.client_id = config_.azure.client_id;
  entra.client_secret = config_.azure.client_secret;
  entra.token_version = config_.azure.token_version;
  http::ServicePipelineOptions token_pipe;
  token_pipe.user_agent = std::string(kUserAgent);
  token_pipe.retry =
      RetryFrom(config_.defender.api_max_retry, config_.defender.api_retry_timeout_minutes);
  tokens_ = std::make_shared<auth::EntraTokenCache>(
      entra, http::MakeServicePipeline(token_pipe, transport, clock_, random), clock_);

  http::ServicePipelineOptions vmray_pipe;
  vmray_pipe.user_agent = std::string(kVmrayUserAgent);
  vmray_pipe.retry =
      RetryFrom(config_.vmray.api_max_retry, config_.vmray.api_retry_timeout_minutes);
  vmray_pipe.credential = std::make_shared<auth::ApiKeyCredential>(config_.vmray.api_key);
  vmray_ = std::make_unique<vmray::Client>(
      config_.vmray.base_url, http::MakeServicePipeline(vmray_pipe, transport, clock_, random));

  http::ServicePipelineOptions mde_pipe;
  mde_pipe.user_agent = std::string(kMdeUserAgent);
  mde_pipe.retry =
      RetryFrom(config_.defender.api_max_retry, config_.defender.api_retry_timeout_minutes);
  mde_pipe.credential = std::make_shared<auth::EntraCredential>(tokens_, config_.defender.resource);
  mde_pipe.limiters = limiters_;
  http::ServicePipelineOptions download_pipe;
  download_pipe.user_agent = std::string(kMdeUserAgent);
  download_pipe.retry = mde_pipe.retry;
  mde_ = std::make_unique<mde::Client>(
      config_.defender.api_base_url, http::MakeServicePipeline(mde_pipe, transport, clock_, random),
      http::MakeServicePipeline(download_pipe, transport, clock_, random));

  jobs::SchedulerOptions so;
  so.workers = config_.daemon.workers;
  so.lease = Millis(config_.daemon.lease_seconds * 1000LL);
  scheduler_ = std::make_unique<jobs::Scheduler>(so, *store_, clock_);
  const auto options = DefenderOptionsFrom(config_);
  // Sessions left open by a previous process still count against the tenant's limit.
  auto sessions = std::make_shared<defender::SessionGate>(options.max_concurrent_sessions);
  auto counts = store_->CountJobs();
  if (!counts) return counts.error();
  for (const auto& c : *counts) {
    if (c.kind == defender::kJobKind && c.state == "collection_pending")
      sessions->Reset(static_cast<int>(c.count));
  }
  scheduler_->Register(std::make_shared<defender::EvidenceJob>(
      options, *store_, *vmray_, *mde_, sessions, [this] { scheduler_->Notify(); }));
  scheduler_->Register(std::make_shared<defender::AlertCommentWriter>(*mde_));
  poller_ = std::make_unique<defender::AlertPoller>(options, *mde_, *store_, clock_);
  return Ok();
}

Result<defender::PollStats> Daemon::PollAlerts() {
  auto stats = poller_->PollOnce();
  if (!stats) {
    spdlog::warn("polling MDE alerts failed: {}", stats.error().ToString());
  } else if (stats->jobs_created > 0) {
    scheduler_->Notify();
  }
  return stats;
}

void Daemon::Start() {
  if (running_.exchange(true)) return;
  scheduler_->Start();
  if (config_.defender.enabled) poll_thread_ = std::thread([this] { PollLoop(); });
  spdlog::info("vmray-connector {} running: {} workers, store {}", kVersion, config_.daemon.workers,
               config_.store.path);
}

void Daemon::PollLoop() {
  const auto interval = Millis(config_.defender.poll_interval_seconds * 1000LL);
  while (running_) {
    (void)PollAlerts();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, interval, [&] { return !running_.load(); });
  }
}

void Daemon::Stop() {
  if (!running_.exchange(false)) return;
  cv_.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
  scheduler_->Stop();
  spdlog::info("vmray-connector stopped");
}

Status Daemon::RunOnce() {
  if (config_.defender.enabled) {
    auto stats = PollAlerts();
    if (!stats) return stats.error();
  }
  scheduler_->RunUntilIdle();
  return Ok();
}

Result<bool> Daemon::Settled() {
  auto open = store_->ListJobs({"", "", false, "", 1});
  if (!open) return open.error();
  return open->empty();
}

}  // namespace vc::app
