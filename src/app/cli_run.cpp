// `run` and the helpers every command shares.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include "app/cli_support.hpp"
#include "app/daemon.hpp"
#include "core/log.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"

namespace vc::app {

std::optional<config::Config> LoadOrReport(const CommandContext& ctx) {
  auto result = config::LoadConfig(ctx.load);
  for (const auto& w : result.warnings) ctx.err << "warning: " << w << "\n";
  if (!result.config) {
    ctx.err << "vmray-connector: the configuration has " << result.problems.size()
            << " problem(s):\n";
    for (const auto& p : result.problems) ctx.err << "  " << config::FormatProblem(p) << "\n";
    ctx.err << "Run `vmray-connector validate` after fixing them; docs/configuration.md lists "
               "every key.\n";
    return std::nullopt;
  }
  return result.config;
}

void QuietLogging() {
  InitLogging({LogFormat::kText, "warn", ""});
}

std::unique_ptr<store::Store> OpenStoreOrReport(const CommandContext& ctx,
                                                const config::Config& config) {
  auto store =
      store::OpenSqliteStore({config.store.path, config.store.synchronous_full}, ctx.clock);
  if (!store) {
    ctx.err << "vmray-connector: " << Scrub(store.error().message) << "\n";
    return nullptr;
  }
  return std::move(*store);
}

std::string ShowTime(TimePoint t) {
  return t == TimePoint{} ? "-" : FormatIso8601(t);
}

std::string ShowRelative(TimePoint t, TimePoint now) {
  if (t == TimePoint{}) return "-";
  const int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(t > now ? t - now : now - t).count();
  std::string span;
  if (seconds >= 86400) {
    span = fmt::format("{}d {}h", seconds / 86400, seconds % 86400 / 3600);
  } else if (seconds >= 3600) {
    span = fmt::format("{}h {}m", seconds / 3600, seconds % 3600 / 60);
  } else if (seconds >= 60) {
    span = fmt::format("{}m {}s", seconds / 60, seconds % 60);
  } else {
    span = fmt::format("{}s", seconds);
  }
  if (seconds == 0) return "now";
  return t > now ? "in " + span : span + " ago";
}

int RunCommand(const CommandContext& ctx, bool once) {
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  InitLogging({config->log.format == "json" ? LogFormat::kJson : LogFormat::kText,
               config->log.level, config->log.file});
  // Signals are taken by sigwait below; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (!once) pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Daemon daemon(*config, ctx.clock);
  if (auto s = daemon.Open(); !s) {
    spdlog::critical("cannot start: {}", s.error().ToString());
    ctx.err << "vmray-connector: cannot start: " << Scrub(s.error().message) << "\n";
    return kExitRuntime;
  }
  if (once) {
    auto s = daemon.RunOnce();
    if (!s) {
      ctx.err << "vmray-connector: " << Scrub(s.error().message) << "\n";
      return kExitRuntime;
    }
    return kExitOk;
  }
  daemon.Start();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received signal {}, stopping", sig);
  daemon.Stop();
  return kExitOk;
}

}  // namespace vc::app
