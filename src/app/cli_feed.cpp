// `feed --once` (one run from the checkpoint, then a summary) and `feed --since <date>` (a
// backfill from that date to now). Both print one line per window, plain text with no cursor
// movement, so the progress reads the same on a terminal and in a non-interactive log.
#include <fmt/format.h>

#include <cmath>

#include "app/cli_support.hpp"
#include "app/feed_services.hpp"
#include "core/random.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "version.hpp"

namespace vc::app {

sentinel_feed::FeedOptions FeedOptionsFrom(const config::Config& c) {
  sentinel_feed::FeedOptions o;
  o.verdicts.clear();
  if (c.vmray.sample_verdict != "Suspicious") o.verdicts.push_back("malicious");
  if (c.vmray.sample_verdict != "Malicious") o.verdicts.push_back("suspicious");
  o.initial_fetch_days = c.feed.initial_fetch_days;
  o.expiration_days = c.defender.indicators.expiration_days;
  o.vmray_base_url = c.vmray.base_url;
  o.max_window = Millis(c.feed.window_hours * 3'600'000LL);
  o.revoke_on_clean = c.feed.revoke_on_clean;
  o.allow_list = c.defender.indicators.allow_list;
  return o;
}

Result<std::unique_ptr<FeedServices>> BuildFeed(const config::Config& c, store::Store& store,
                                                Clock& clock,
                                                std::shared_ptr<http::Transport> transport,
                                                std::shared_ptr<auth::EntraTokenCache> tokens) {
  if (c.feed.workspace_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "set AzureWorkspaceID (feed.workspace_id) to the Log Analytics workspace "
                     "GUID of the Sentinel workspace");
  }
  if (c.vmray.base_url.empty() || c.vmray.api_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "set VmrayBaseURL and VmrayAPIKey (vmray.base_url, vmray.api_key)");
  }
  Random& random = DefaultRandom();
  if (!transport) {
    http::TransportOptions t;
    t.proxy = c.http.proxy;
    t.ca_file = c.http.ca_file;
    t.verify_tls = !c.http.insecure_skip_tls_verify;
    t.connect_timeout = Millis(c.http.connect_timeout_seconds * 1000LL);
    t.request_timeout = Millis(c.http.request_timeout_seconds * 1000LL);
    transport = std::make_shared<http::CurlTransport>(t);
  }
  auto out = std::make_unique<FeedServices>();
  http::RetryOptions retry;
  retry.max_retries = c.vmray.api_max_retry;
  retry.total_budget = Millis(c.vmray.api_retry_timeout_minutes * 60'000LL);
  if (!tokens) {
    if (c.azure.tenant_id.empty() || c.azure.client_id.empty() || c.azure.client_secret.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "set AzureTenantID, AzureClientID and AzureClientSecret (azure.*): the "
                       "app registration that uploads to Sentinel");
    }
    auth::EntraOptions entra;
    entra.authority_host = c.azure.authority_host;
    entra.tenant_id = c.azure.tenant_id;
    entra.client_id = c.azure.client_id;
    entra.client_secret = c.azure.client_secret;
    entra.token_version = c.azure.token_version;
    http::ServicePipelineOptions token_pipe;
    token_pipe.user_agent = std::string(kUserAgent);
    token_pipe.retry = retry;
    tokens = std::make_shared<auth::EntraTokenCache>(
        entra, http::MakeServicePipeline(token_pipe, transport, clock, random), clock);
  }
  out->tokens = tokens;

  http::ServicePipelineOptions vmray_pipe;
  vmray_pipe.user_agent = std::string(kVmrayUserAgent);
  vmray_pipe.retry = retry;
  vmray_pipe.credential = std::make_shared<auth::ApiKeyCredential>(c.vmray.api_key);
  out->vmray = std::make_unique<vmray::Client>(
      c.vmray.base_url, http::MakeServicePipeline(vmray_pipe, transport, clock, random));

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
  out->uploader = std::make_unique<sentinel::TiUploader>(
      up, http::MakeServicePipeline(ti_pipe, transport, clock, random), clock);

  auto runner = sentinel_feed::FeedRunner::Create(FeedOptionsFrom(c), *out->vmray, *out->uploader,
                                                  store, clock);
  if (!runner) return runner.error();
  out->runner = std::move(*runner);
  return out;
}

int FeedCommand(const CommandContext& ctx, bool once, const std::string& since) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  std::optional<TimePoint> from;
  if (!since.empty()) {
    from = ParseIso8601(since.size() == 10 ? since + "T00:00:00Z" : since);
    if (!from) {
      ctx.err << fmt::format(
          "vmray-connector: --since '{}' is not a date; give YYYY-MM-DD or "
          "YYYY-MM-DDTHH:MM:SSZ (UTC)\n",
          since);
      return kExitUsage;
    }
    if (*from >= ctx.clock.Now()) {
      ctx.err << "vmray-connector: --since must lie in the past\n";
      return kExitUsage;
    }
  } else if (!once) {
    ctx.err << "vmray-connector: give --once (one run from the checkpoint) or --since <date> "
               "(a backfill)\n";
    return kExitUsage;
  }
  auto store = OpenStoreOrReport(ctx, *config);
  if (!store) return kExitRuntime;
  auto feed = BuildFeed(*config, *store, ctx.clock, nullptr, nullptr);
  if (!feed) {
    ctx.err << "vmray-connector: " << feed.error().message << "\n";
    return feed.error().code == ErrorCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }

  const TimePoint started = ctx.clock.Now();
  const Millis window = Millis(config->feed.window_hours * 3'600'000LL);
  int64_t windows_total = 0;
  auto progress = [&](const sentinel_feed::FeedSummary& total,
                      const sentinel_feed::FeedSummary& w) {
    const double minutes =
        std::max(1.0 / 60, std::chrono::duration<double>(ctx.clock.Now() - started).count() / 60);
    const std::string of = windows_total > 0 ? fmt::format("/{}", windows_total) : "";
    ctx.out << fmt::format(
        "feed: window {}{} {} .. {}: submissions {} IOCs {} uploaded {} rejected {} | total "
        "submissions {} IOCs {} uploaded {} rejected {} | {:.0f} objects/min, {:.0f} "
        "requests/min of 100\n",
        total.windows, of, FormatIso8601(w.from), FormatIso8601(w.to), w.submissions, w.indicators,
        w.uploaded, w.rejected, total.submissions, total.indicators, total.uploaded, total.rejected,
        static_cast<double>(total.uploaded) / minutes,
        static_cast<double>(total.requests) / minutes);
    ctx.out.flush();
  };
  Result<sentinel_feed::FeedSummary> summary = MakeError(ErrorCode::kInternal, "not run");
  if (from) {
    windows_total = static_cast<int64_t>(
        std::ceil(std::chrono::duration<double>(ctx.clock.Now() - *from).count() /
                  std::chrono::duration<double>(window).count()));
    summary = (*feed)->runner->Backfill(*from, progress);
  } else {
    summary = (*feed)->runner->RunOnce(progress);
  }
  if (!summary) {
    ctx.err << "vmray-connector: the feed stopped: " << Scrub(summary.error().ToString())
            << "\nThe checkpoint stays at the last complete window; the next run repeats the "
               "rest.\n";
    return kExitRuntime;
  }
  const auto& s = *summary;
  ctx.out << fmt::format(
      "feed: done {} .. {} in {} window(s): {} submissions, {} samples, {} indicators, {} "
      "uploaded, {} rejected, {} left out, {} revoked, {} requests, {} throttled\n",
      FormatIso8601(s.from), FormatIso8601(s.to), s.windows, s.submissions, s.samples, s.indicators,
      s.uploaded, s.rejected, s.skipped, s.revoked, s.requests, s.throttled);
  if (s.rejected > 0) {
    ctx.out << "feed: Sentinel rejected some objects; each is logged with its reason (log line "
               "\"Sentinel rejected STIX object\")\n";
  }
  return kExitOk;
}

}  // namespace vc::app
