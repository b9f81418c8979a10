// The Sentinel incident URL detonation built from the configuration
// (sentinel_incidents.enabled): the incidents client on the management API, the STIX uploader
// for the IOCs of non-clean URLs (when sentinel_incidents.upload_iocs), the intake (poller and
// webhook) and the job and write-back handlers, registered on the daemon's scheduler.
#pragma once

#include <functional>
#include <memory>

#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/incidents.hpp"
#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "config/config.hpp"
#include "http/transport.hpp"
#include "jobs/scheduler.hpp"
#include "pipelines/sentinel_incidents/intake.hpp"
#include "pipelines/sentinel_incidents/options.hpp"
#include "store/store.hpp"

namespace vc::app {

struct IncidentServices {
  sentinel_incidents::IncidentOptions options;
  std::unique_ptr<sentinel::IncidentsClient> client;
  // The IOC uploader: the TI feed's when the feed runs (one pace for both, so together they
  // stay within Sentinel's 100 requests per minute), else one of its own; null: upload off.
  sentinel::TiUploader* uploader = nullptr;
  std::unique_ptr<sentinel::TiUploader> own_uploader;
  std::unique_ptr<sentinel_incidents::IncidentIntake> intake;
};

sentinel_incidents::IncidentOptions IncidentOptionsFrom(const config::Config& c);

Result<std::unique_ptr<IncidentServices>> BuildIncidents(
    const config::Config& c, store::Store& store, Clock& clock,
    std::shared_ptr<http::Transport> transport, std::shared_ptr<auth::EntraTokenCache> tokens,
    sentinel::TiUploader* feed_uploader);

// `write_back` wraps what reaches analysts (a dry run logs it instead).
using WriteBackWrap =
    std::function<std::shared_ptr<jobs::OutboxHandler>(std::shared_ptr<jobs::OutboxHandler>)>;
Status RegisterIncidentHandlers(IncidentServices& services, const config::Config& c,
                                store::Store& store, vmray::Client& vmray, Clock& clock,
                                jobs::Scheduler& scheduler, const WriteBackWrap& write_back);

}  // namespace vc::app
