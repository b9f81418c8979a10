// The Sentinel TI feed built from the configuration, shared by the daemon (on the Polling
// schedule) and the `feed` command: VMRay client, Entra token cache for the STIX upload API's
// audience, the paced uploader and the feed runner over the store.
#pragma once

#include <memory>

#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "config/config.hpp"
#include "http/transport.hpp"
#include "pipelines/sentinel_feed/feed_runner.hpp"
#include "store/store.hpp"

namespace vc::app {

struct FeedServices {
  std::shared_ptr<auth::EntraTokenCache> tokens;
  std::unique_ptr<vmray::Client> vmray;
  std::unique_ptr<sentinel::TiUploader> uploader;
  std::unique_ptr<sentinel_feed::FeedRunner> runner;
};

sentinel_feed::FeedOptions FeedOptionsFrom(const config::Config& c);

// `tokens` may be the daemon's cache (same app registration); null builds one.
Result<std::unique_ptr<FeedServices>> BuildFeed(const config::Config& c, store::Store& store,
                                                Clock& clock,
                                                std::shared_ptr<http::Transport> transport,
                                                std::shared_ptr<auth::EntraTokenCache> tokens);

}  // namespace vc::app
