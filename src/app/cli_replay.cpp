// `replay <alert-id>`: reopens the alert's settled jobs so the connector reads their verdicts
// from VMRay again and writes back what changed (pipelines/defender_alerts/replay.hpp). The
// command only queues; the running connector (or the next `run`) does the work, so the replay
// goes through the same rate limits, retries and outbox as everything else.
#include <fmt/format.h>

#include "app/cli_support.hpp"
#include "app/instance_lock.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/replay.hpp"

namespace vc::app {

int ReplayCommand(const CommandContext& ctx, const std::string& alert_id) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  auto store = OpenStoreOrReport(ctx, *config);
  if (!store) return kExitRuntime;
  auto jobs = defender::QueueAlertReplay(*store, alert_id, ctx.clock.Now());
  if (!jobs) {
    ctx.err << "vmray-connector: " << Scrub(jobs.error().message) << "\n";
    return kExitRuntime;
  }
  int queued = 0;
  for (const auto& j : *jobs) {
    ctx.out << fmt::format("job #{} {}: {}\n", j.id, Scrub(j.key), Scrub(j.note));
    if (j.queued) ++queued;
  }
  if (queued == 0) {
    ctx.err << fmt::format(
        "vmray-connector: nothing of alert {} was queued for a replay; try again once its jobs "
        "have settled (`vmray-connector alert {}`)\n",
        Scrub(alert_id), Scrub(alert_id));
    return kExitRuntime;
  }
  // Whoever holds the instance lock is a running connector that will pick the jobs up.
  const bool daemon_running = !InstanceLock::Acquire(config->store.path + ".lock");
  ctx.out << fmt::format(
      "{} job{} queued for a replay. {}\n", queued, queued == 1 ? "" : "s",
      daemon_running ? "The running connector carries it out now; follow it with "
                       "`vmray-connector alert " +
                           Scrub(alert_id) + "`."
                     : "No connector is running on this store: start `vmray-connector run` (or "
                       "`run --once`) to carry it out.");
  return kExitOk;
}

}  // namespace vc::app
