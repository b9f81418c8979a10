#include "app/daemon.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "clients/graph/mail.hpp"
#include "clients/mail/address.hpp"
#include "clients/mail/smtp_sender.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/polling.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "jobs/dry_run.hpp"
#include "pipelines/defender_alerts/collection_script.hpp"
#include "pipelines/defender_alerts/evidence_job.hpp"
#include "pipelines/defender_alerts/incident_writer.hpp"
#include "pipelines/defender_alerts/indicator_writer.hpp"
#include "pipelines/defender_alerts/mail_notification.hpp"
#include "pipelines/defender_alerts/response_actions.hpp"
#include "pipelines/defender_alerts/status_record.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

http::RetryOptions RetryFrom(int max_retry, int budget_minutes) {
  http::RetryOptions r;
  r.max_retries = max_retry;
  r.total_budget = Millis(static_cast<int64_t>(budget_minutes) * 60'000);
  return r;
}

// "mde:<alertId>:<sha256>" or "mde:<alertId>" -> "<alertId>".
std::string AlertIdOfKey(const std::string& key) {
  constexpr std::string_view kPrefix = "mde:";
  if (key.rfind(kPrefix, 0) != 0) return "";
  const size_t end = key.find(':', kPrefix.size());
  return key.substr(kPrefix.size(), end == std::string::npos ? end : end - kPrefix.size());
}

// Adds the alert id to the log context of every line a Defender step writes, so one alert's
// life can be followed in the log next to the job id the scheduler already adds.
class AlertLogContextJob final : public jobs::JobHandler {
 public:
  explicit AlertLogContextJob(std::shared_ptr<jobs::JobHandler> inner) : inner_(std::move(inner)) {}
  std::string kind() const override { return inner_->kind(); }
  jobs::StepResult Step(const jobs::StepContext& ctx) override {
    ScopedLogContext log_ctx(LogFields{{"alert", AlertIdOfKey(ctx.job.key)}});
    return inner_->Step(ctx);
  }

 private:
  std::shared_ptr<jobs::JobHandler> inner_;
};

class AlertLogContextDelivery final : public jobs::OutboxHandler {
 public:
  explicit AlertLogContextDelivery(std::shared_ptr<jobs::OutboxHandler> inner)
      : inner_(std::move(inner)) {}
  std::string kind() const override { return inner_->kind(); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override {
    ScopedLogContext log_ctx(LogFields{{"alert", item.target}});
    return inner_->Deliver(item, now);
  }

 private:
  std::shared_ptr<jobs::OutboxHandler> inner_;
};

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
  o.daily_submission_budget = c.vmray.daily_submission_budget;
  o.max_concurrent_analyses = c.vmray.max_concurrent_analyses;
  o.lr_poll_interval = Millis(d.live_response.poll_interval_seconds * 1000LL);
  const int retries = std::max(1, d.machine_availability_retry);
  o.busy_wait = Millis(d.machine_availability_timeout_minutes * 60'000LL / retries);
  o.lr_max_attempts = retries;
  o.lr_give_up = Millis(d.live_response.give_up_after_hours * 3'600'000LL);
  o.max_concurrent_sessions = d.live_response.max_concurrent_sessions;
  o.max_files_per_session = d.live_response.max_files_per_session;
  o.quarantine_encrypted = d.quarantine.mode == "encrypted";
  o.mail_notifications = c.mail.enabled;
  o.indicators = d.indicators.enabled;
  o.incident_tags = d.incidents.tags;
  o.incident_comments = d.incidents.comments;
  o.add_alert_id_tags = d.add_alert_id_tags;
  o.indicator_verdicts = defender::IndicatorVerdicts(c.vmray.sample_verdict);
  const auto& ra = d.response_actions;
  using mde::ResponseAction;
  auto set = [&](ResponseAction a, bool on, const std::vector<std::string>& verdicts,
                 const std::string& scope, const std::string& comment) {
    o.response_actions[static_cast<size_t>(a)] = {on, verdicts, scope, comment};
  };
  set(ResponseAction::kCollectInvestigationPackage, ra.investigation_package,
      ra.investigation_package_verdicts, "", ra.investigation_package_comment);
  set(ResponseAction::kAntivirusScan, ra.antivirus_scan, ra.antivirus_scan_verdicts, ra.scan_type,
      ra.antivirus_scan_comment);
  set(ResponseAction::kStopAndQuarantineFile, ra.stop_and_quarantine,
      ra.stop_and_quarantine_verdicts, "", ra.stop_and_quarantine_comment);
  set(ResponseAction::kIsolate, ra.isolate, ra.isolate_verdicts, ra.isolation_type,
      ra.isolate_comment);
  o.upload_window = Millis(d.quarantine.upload_window_minutes * 60'000LL);
  o.wait_for_sample_poll = std::min(Millis(60'000), o.analysis_poll_interval * 2);
  return o;
}

Daemon::Daemon(config::Config config, Clock& clock) : config_(std::move(config)), clock_(clock) {}

Daemon::~Daemon() {
  Stop();
  if (enrichment_) enrichment_->Stop();
  if (ops_) ops_->Stop();
}

Status Daemon::Open() {
  // One process per store: start-up releases every lease, which is only right when the
  // previous owner of those leases is gone.
  auto lock = InstanceLock::Acquire(config_.store.path + ".lock");
  if (!lock) return lock.error();
  lock_ = std::move(*lock);
  // Bound before anything else is built: a taken port stops the start with nothing running.
  if (config_.ops.enabled) {
    auto address = server::ParseListenAddress(config_.ops.listen);
    if (!address) return address.error();
    server::OpsSources sources;
    sources.clock = &clock_;
    sources.version = std::string(kUserAgent);
    sources.readiness = [this] { return ReadinessChecks(); };
    sources.limiters = [this] {
      std::vector<server::LimiterUse> uses;
      for (http::RateLimiter* l : limiters_->All()) uses.push_back({l->name(), l->Utilisation()});
      return uses;
    };
    ops_ = std::make_unique<server::OpsServer>(*address, std::move(sources));
    VC_RETURN_IF_ERROR(ops_->Bind());
  }
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
  VC_RETURN_IF_ERROR(OpenEnrichment());

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

  // Same app registration, another audience: Graph takes only Graph tokens.
  std::shared_ptr<http::Pipeline> graph_pipeline;
  const bool mail_by_graph = config_.mail.enabled && config_.mail.transport == "graph";
  if (config_.defender.incidents.tags || config_.defender.incidents.comments || mail_by_graph) {
    http::ServicePipelineOptions graph_pipe = mde_pipe;
    graph_pipe.limiters = nullptr;  // the MDE limits are not Graph's
    graph_pipe.credential =
        std::make_shared<auth::EntraCredential>(tokens_, config_.defender.incidents.graph_resource);
    graph_pipeline = http::MakeServicePipeline(graph_pipe, transport, clock_, random);
  }
  if (config_.defender.incidents.tags || config_.defender.incidents.comments) {
    graph_ = std::make_unique<graph::IncidentClient>(config_.defender.incidents.graph_base_url,
                                                     graph_pipeline);
  }

  if (config_.feed.enabled) {
    // Same app registration and token cache; its own uploader, paced at Sentinel's limit.
    auto feed = BuildFeed(config_, *store_, clock_, transport, tokens_);
    if (!feed) return feed.error();
    feed_ = std::move(*feed);
  }

  jobs::SchedulerOptions so;
  so.workers = config_.daemon.workers;
  so.lease = Millis(config_.daemon.lease_seconds * 1000LL);
  scheduler_ = std::make_unique<jobs::Scheduler>(so, *store_, clock_);
  const auto options = DefenderOptionsFrom(config_);
  // Sessions left open by a previous process still count against the tenant's limit.
  // A waiting alert keeps its place in the severity order for a few of its polls.
  auto sessions = std::make_shared<defender::SessionGate>(
      options.max_concurrent_sessions, std::max(Millis(120'000), 4 * options.lr_poll_interval));
  // A file riding in another job's session holds no slot of its own.
  auto pending =
      store_->ListJobs({std::string(defender::kJobKind), "collection_pending", false, "", 100'000});
  if (!pending) return pending.error();
  sessions->Reset(
      static_cast<int>(std::count_if(pending->begin(), pending->end(), [](const auto& j) {
        auto p = defender::EvidencePayload::Parse(j.payload);
        return !p || p->rides_with == 0;
      })));
  defender::QuarantineHandOff quarantine;
  VC_RETURN_IF_ERROR(OpenStorage(transport, random, quarantine));
  // What reaches analysts goes through this: a dry run logs it instead of writing it.
  auto write_back =
      [this](std::shared_ptr<jobs::OutboxHandler> real) -> std::shared_ptr<jobs::OutboxHandler> {
    if (!config_.daemon.dry_run) return real;
    return std::make_shared<jobs::DryRunDelivery>(std::move(real));
  };
  if (config_.daemon.dry_run)
    spdlog::warn(
        "dry run (daemon.dry_run): comments, indicators, status records and mails are only logged");
  if (config_.mail.enabled) {
    for (const auto& address : [&] {
           auto all = config_.mail.to;
           all.push_back(config_.mail.from);
           return all;
         }()) {
      if (auto valid = mail::ValidateAddress(address); !valid) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "mail.from / mail.to: " + valid.error().message);
      }
    }
    std::shared_ptr<const mail::MailSender> sender;
    if (mail_by_graph) {
      sender = std::make_shared<graph::GraphMailSender>(config_.defender.incidents.graph_base_url,
                                                        config_.mail.graph_sender, graph_pipeline);
    } else {
      mail::SmtpOptions smtp;
      smtp.url = config_.mail.smtp_url;
      smtp.require_starttls = config_.mail.require_starttls;
      smtp.username = config_.mail.username;
      smtp.password = config_.mail.password;
      smtp.ca_file = config_.http.ca_file;
      smtp.connect_timeout = Millis(config_.http.connect_timeout_seconds * 1000LL);
      smtp.request_timeout = Millis(config_.http.request_timeout_seconds * 1000LL);
      sender = std::make_shared<mail::SmtpSender>(std::move(smtp));
    }
    const defender::MailSettings settings{config_.mail.from, config_.mail.to, config_.mail.subject,
                                          config_.mail.digest_minutes};
    scheduler_->Register(
        write_back(std::make_shared<defender::MailNotifier>(sender, settings, *store_)));
    // Registered whatever mail.digest_minutes says: rows queued under an earlier setting still
    // go out.
    scheduler_->Register(
        write_back(std::make_shared<defender::MailDigestSender>(sender, settings, *store_)));
    scheduler_->Register(std::make_shared<defender::MailDigestMemberHandler>());
  }
  if (blob_) {
    scheduler_->Register(std::make_shared<defender::BlobDeleter>(*blob_));
    scheduler_->Register(
        write_back(std::make_shared<defender::StatusRecordWriter>(*blob_, *store_)));
  }
  auto evidence = std::make_shared<defender::EvidenceJob>(
      options, *store_, *vmray_, *mde_, sessions, [this] { scheduler_->Notify(); },
      std::move(quarantine));
  evidence->SetWithdraw([this](int64_t id) { return scheduler_->Withdraw(id); });
  if (http::RateLimiter* run = limiters_->Find("mde.liveresponse.run"))
    evidence->SetLiveResponseLimiter([run] { return run->FreeIn(); },
                                     [run] { return run->TryAcquire(); });
  scheduler_->Register(std::make_shared<AlertLogContextJob>(std::move(evidence)));
  scheduler_->Register(std::make_shared<AlertLogContextDelivery>(
      write_back(std::make_shared<defender::AlertCommentWriter>(*mde_))));
  if (options.indicators) {
    const auto& ind = config_.defender.indicators;
    auto allow_list = defender::AllowList::Build(ind.allow_list);
    if (!allow_list) return allow_list.error();
    defender::IndicatorWriterOptions io;
    io.settings = {ind.action_malicious_file,    ind.action_suspicious_file,
                   ind.action_malicious_network, ind.action_suspicious_network,
                   ind.generate_alert,           ind.expiration_days,
                   ind.url_indicators,           ind.allow_list};
    io.verdicts = options.indicator_verdicts;
    io.budget = static_cast<size_t>(ind.budget);
    scheduler_->Register(std::make_shared<AlertLogContextDelivery>(
        write_back(std::make_shared<defender::IndicatorWriter>(
            std::move(io), std::move(*allow_list), *store_, *vmray_, *mde_))));
  }
  if (std::any_of(options.response_actions.begin(), options.response_actions.end(),
                  [](const auto& a) { return a.enabled; })) {
    defender::ResponseActionTiming timing;
    timing.poll = options.lr_poll_interval;
    timing.busy_wait = options.busy_wait;
    timing.give_up = options.lr_give_up;
    spdlog::warn(
        "automated response actions are on (defender.response_actions): devices of "
        "alerts whose file VMRay judges accordingly will be acted on");
    scheduler_->Register(std::make_shared<AlertLogContextDelivery>(write_back(
        std::make_shared<defender::ResponseActionWriter>(*store_, *mde_, sessions, timing))));
  }
  if (graph_) {
    scheduler_->Register(std::make_shared<AlertLogContextDelivery>(
        write_back(std::make_shared<defender::IncidentTagWriter>(*store_, *graph_))));
    scheduler_->Register(std::make_shared<AlertLogContextDelivery>(
        write_back(std::make_shared<defender::IncidentCommentWriter>(*graph_))));
  }
  poller_ = std::make_unique<defender::AlertPoller>(options, *mde_, *store_, clock_);
  if (ops_) ops_->Serve(store_.get());
  return Ok();
}

void Daemon::RecordPoll(const Status& outcome) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(poll_mu_);
  if (outcome) {
    last_poll_ok_ = now;
    last_poll_error_.reset();
    Metrics::Global().Set("vc_last_successful_poll_timestamp_seconds",
                          {{"job", std::string(defender::kJobKind)}},
                          std::chrono::duration<double>(now.time_since_epoch()).count());
  } else {
    last_poll_error_ = outcome.error().ToString();
  }
}

std::vector<server::ReadinessCheck> Daemon::ReadinessChecks() {
  std::vector<server::ReadinessCheck> checks;
  // The daemon exists only with a validated configuration.
  checks.push_back({"config", true, "loaded and valid", ""});
  const TimePoint now = clock_.Now();
  if (store_) {
    checks.push_back(server::StoreCheck(*store_, now));
  } else {
    checks.push_back({"store", false, "not open yet", "wait for the start to finish"});
  }
  if (config_.defender.enabled) {
    const Millis interval(config_.defender.poll_interval_seconds * 1000LL);
    std::optional<TimePoint> ok;
    std::optional<std::string> error;
    {
      std::lock_guard lock(poll_mu_);
      ok = last_poll_ok_;
      error = last_poll_error_;
    }
    checks.push_back(server::PollCheck(std::string(defender::kJobKind), ok, error, now, interval,
                                       server::PollWindow(interval)));
  }
  if (stopping_) {
    checks.push_back({"shutdown", false, "stopping: no new work is taken",
                      "none; the process exits when the current steps are saved"});
  }
  return checks;
}

Status Daemon::OpenStorage(std::shared_ptr<http::Transport> transport, Random& random,
                           defender::QuarantineHandOff& out) {
  if (config_.storage.connection_string.empty()) {
    if (config_.defender.enabled && config_.defender.fetch_quarantined_files) {
      spdlog::warn(
          "no storage account configured (storage.connection_string, "
          "AzureStorageConnectionString): files of antivirus alerts cannot be collected from "
          "quarantine; those alerts wait in waiting_for_quarantine_collection");
    }
    return Ok();
  }
  auto account = blob::ParseConnectionString(config_.storage.connection_string.Reveal());
  if (!account) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "storage.connection_string (AzureStorageConnectionString): " + account.error().message);
  }
  if (!config_.storage.account_key.empty()) account->key = config_.storage.account_key;
  blob::BlobClientOptions options;
  options.user_agent = std::string(kUserAgent);
  options.retry =
      RetryFrom(config_.defender.api_max_retry, config_.defender.api_retry_timeout_minutes);
  auto client = blob::BlobClient::Create(std::move(*account), transport, clock_, random, options);
  if (!client) return client.error();
  blob_ = std::move(*client);
  out.blob = blob_.get();
  out.status_records = config_.storage.status_records;
  out.library = std::make_shared<defender::LibrarySync>(
      *mde_, std::string(defender::kCollectionScriptName), defender::CollectionScript());
  if (config_.defender.fetch_quarantined_files) {
    // Alerts parked while no storage account was configured can be collected now.
    auto reopened = store_->ReopenJobs(std::string(defender::kJobKind),
                                       "waiting_for_quarantine_collection", "new",
                                       "a storage account is configured now: collecting the file "
                                       "from quarantine",
                                       clock_.Now());
    if (!reopened) return reopened.error();
    if (*reopened > 0)
      spdlog::info("reopened {} antivirus alert job(s) for quarantine collection", *reopened);
  }
  return Ok();
}

Result<defender::PollStats> Daemon::PollAlerts() {
  auto stats = poller_->PollOnce();
  RecordPoll(stats ? Ok() : Status(stats.error()));
  if (!stats) {
    spdlog::warn("polling MDE alerts failed: {}", stats.error().ToString());
  } else if (stats->jobs_created > 0) {
    scheduler_->Notify();
  }
  return stats;
}

Status Daemon::OpenEnrichment() {
  if (!config_.enrichment.enabled) return Ok();
  const auto& e = config_.enrichment;
  if (config_.vmray.base_url.empty() || config_.vmray.api_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "enrichment.enabled needs vmray.base_url and vmray.api_key");
  }
  auto address = server::ParseListenAddress(e.listen);
  if (!address) {
    // ParseListenAddress names ops.listen; say which key is at fault here.
    return MakeError(ErrorCode::kInvalidArgument, "enrichment.listen: " + address.error().message);
  }
  enrichment::EnrichmentServerOptions o;
  o.address = *address;
  o.function_key = e.function_key;
  o.workers = e.workers;
  o.max_body_bytes = e.max_body_bytes;
  o.operations.resubmit = e.resubmit;
  o.operations.max_file_bytes = config_.vmray.max_file_size_bytes;
  // custom_resp of GetVMRayIOCs: the Sentinel TI feed's STIX mapping with the enrichment app's
  // labels, built fresh per call (the original's list grew across calls). The benign
  // allow-list of the MDE indicators applies here too.
  auto allow_list = defender::AllowList::Build(config_.defender.indicators.allow_list);
  if (!allow_list) return allow_list.error();
  o.operations.custom_resp =
      [allow = std::make_shared<const defender::AllowList>(std::move(*allow_list)),
       base_url = config_.vmray.base_url,
       default_days = config_.defender.indicators.expiration_days,
       clock = &clock_](const enrichment::IocsInput& in, const Json& api_resp) -> Result<Json> {
    sentinel_feed::StixOptions so;
    so.vmray_base_url = base_url;
    so.verdicts = in.sample_verdict.value_or(std::vector<std::string>{});
    so.expiration_days = in.valid_until_days.value_or(default_days);
    so.now = clock->Now();
    so.incident_label = in.incident_id.empty() ? std::string("None") : in.incident_id;
    const auto mapping = sentinel_feed::MapIocsToStix(
        api_resp, {in.sample_id, in.submission_id.value_or(0)}, so, *allow);
    Json out = Json::array();
    for (const auto& indicator : mapping.indicators) out.push_back(indicator.object);
    return out;
  };
  enrichment_ = std::make_unique<enrichment::EnrichmentServer>(std::move(o), *vmray_);
  return enrichment_->Bind();
}

void Daemon::Start() {
  if (running_.exchange(true)) return;
  scheduler_->Start();
  if (enrichment_) enrichment_->Serve();
  if (config_.defender.enabled) poll_thread_ = std::thread([this] { PollLoop(); });
  if (feed_) feed_thread_ = std::thread([this] { FeedLoop(); });
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

void Daemon::FeedLoop() {
  const Millis interval = ParsePolling(config_.feed.polling).value_or(Millis(6 * 3'600'000));
  while (running_) {
    auto summary = feed_->runner->RunOnce();
    if (!summary) {
      spdlog::warn(
          "the Sentinel TI feed run failed; the checkpoint stays and the next run "
          "repeats the window: {}",
          summary.error().ToString());
    }
    const TimePoint now = clock_.Now();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, NextRun(now, interval) - now, [&] { return !running_.load(); });
  }
}

void Daemon::Stop() {
  if (!running_.exchange(false)) return;
  stopping_ = true;
  if (feed_) feed_->runner->RequestStop();
  cv_.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
  if (feed_thread_.joinable()) feed_thread_.join();
  scheduler_->Stop();
  spdlog::info("vmray-connector stopped");
}

Status Daemon::RunOnce() {
  if (config_.defender.enabled) {
    auto stats = PollAlerts();
    if (!stats) return stats.error();
  }
  if (feed_) {
    auto summary = feed_->runner->RunOnce();
    if (!summary) return summary.error();
  }
  scheduler_->RunUntilIdle();
  return Ok();
}

Result<bool> Daemon::Settled() {
  auto open = store_->ListJobs({"", "", false, "", 1});
  if (!open) return open.error();
  if (!open->empty()) return false;
  // Housekeeping write-backs (blob deletions, status records) outlive their jobs.
  auto outbox = store_->CountOutbox();
  if (!outbox) return outbox.error();
  return std::none_of(outbox->begin(), outbox->end(),
                      [](const auto& c) { return c.state == "pending" && c.count > 0; });
}

}  // namespace vc::app
