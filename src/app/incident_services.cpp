#include "app/incident_services.hpp"

#include <spdlog/spdlog.h>

#include "app/version.hpp"
#include "core/random.hpp"
#include "http/service_pipeline.hpp"
#include "pipelines/sentinel_incidents/incident_jobs.hpp"
#include "pipelines/sentinel_incidents/ioc_upload.hpp"
#include "pipelines/sentinel_incidents/url_filter.hpp"

namespace vc::app {

sentinel_incidents::IncidentOptions IncidentOptionsFrom(const config::Config& c) {
  const auto& s = c.sentinel_incidents;
  sentinel_incidents::IncidentOptions o;
  o.allowed_domains = sentinel_incidents::ParseAllowedDomains(s.whitelisted_url_domains);
  o.max_urls_per_incident = s.max_urls_per_incident;
  o.analysis_poll_interval = Millis(c.vmray.analysis_poll_interval_seconds * 1000LL);
  o.analysis_timeout = Millis(c.vmray.analysis_job_timeout_minutes * 60'000LL);
  o.ioc_expiration_days = s.indicator_expiration_days;
  o.vmray_base_url = c.vmray.base_url;
  o.workspace_name = s.workspace_name;
  o.upload_iocs = s.upload_iocs;
  return o;
}

Result<std::unique_ptr<IncidentServices>> BuildIncidents(
    const config::Config& c, store::Store& store, Clock& clock,
    std::shared_ptr<http::Transport> transport, std::shared_ptr<auth::EntraTokenCache> tokens,
    sentinel::TiUploader* feed_uploader) {
  const auto& s = c.sentinel_incidents;
  Random& random = DefaultRandom();
  auto out = std::make_unique<IncidentServices>();
  out->options = IncidentOptionsFrom(c);

  http::RetryOptions retry;
  retry.max_retries = c.defender.api_max_retry;
  retry.total_budget = Millis(c.defender.api_retry_timeout_minutes * 60'000LL);
  http::ServicePipelineOptions arm_pipe;
  arm_pipe.user_agent = std::string(kUserAgent);
  arm_pipe.retry = retry;
  arm_pipe.credential =
      std::make_shared<auth::EntraCredential>(tokens, "https://management.azure.com");
  sentinel::IncidentsOptions io;
  io.base_url = s.management_base_url;
  io.subscription_id = s.subscription_id;
  io.resource_group = s.resource_group;
  io.workspace_name = s.workspace_name;
  out->client = std::make_unique<sentinel::IncidentsClient>(
      io, http::MakeServicePipeline(arm_pipe, transport, clock, random));

  if (s.upload_iocs) {
    if (feed_uploader) {
      out->uploader = feed_uploader;
    } else {
      http::ServicePipelineOptions ti_pipe;
      ti_pipe.user_agent = std::string(kUserAgent);
      ti_pipe.retry = retry;
      ti_pipe.retry.retry_statuses = {408, 500, 502, 503, 504};  // the uploader waits out 429s
      ti_pipe.credential = std::make_shared<auth::EntraCredential>(tokens, c.feed.resource);
      sentinel::TiUploadOptions up;
      up.base_url = c.feed.api_base_url;
      up.workspace_id = c.feed.workspace_id;
      up.source_system = c.feed.source_system;
      up.window = Millis(c.feed.rate_limit_window_ms);
      out->own_uploader = std::make_unique<sentinel::TiUploader>(
          up, http::MakeServicePipeline(ti_pipe, transport, clock, random), clock);
      out->uploader = out->own_uploader.get();
    }
  }
  out->intake = std::make_unique<sentinel_incidents::IncidentIntake>(out->options, *out->client,
                                                                     store, clock);
  return out;
}

Status RegisterIncidentHandlers(IncidentServices& services, const config::Config& c,
                                store::Store& store, vmray::Client& vmray, Clock& clock,
                                jobs::Scheduler& scheduler, const WriteBackWrap& write_back) {
  scheduler.Register(
      std::make_shared<sentinel_incidents::IncidentJob>(services.options, *services.client, store));
  scheduler.Register(std::make_shared<sentinel_incidents::UrlJob>(services.options, vmray));
  scheduler.Register(
      write_back(std::make_shared<sentinel_incidents::CommentWriter>(*services.client)));
  if (services.uploader) {
    // The same benign allow-list as the MDE indicators and the feed.
    auto allow = defender::AllowList::Build(c.defender.indicators.allow_list);
    if (!allow) return allow.error();
    scheduler.Register(write_back(std::make_shared<sentinel_incidents::IocUploadWriter>(
        services.options, vmray, *services.uploader, clock, std::move(*allow))));
  }
  return Ok();
}

}  // namespace vc::app
