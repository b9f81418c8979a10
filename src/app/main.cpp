// vmray-connector: daemon and operator CLI in one binary.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "app/daemon.hpp"
#include "app/demo.hpp"
#include "app/emulator_process.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "version.hpp"

namespace {

vc::config::LoadOptions LoadOptionsFor(const std::string& file) {
  vc::config::LoadOptions o;
  o.file = file;
  if (o.file.empty()) {
    if (const char* env = std::getenv("VMRAY_CONNECTOR_CONFIG")) o.file = env;
  }
  o.environment = vc::config::CurrentEnvironment();
  return o;
}

std::optional<vc::config::Config> LoadOrReport(const std::string& file) {
  auto result = vc::config::LoadConfig(LoadOptionsFor(file));
  for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";
  if (!result.config) {
    std::cerr << "vmray-connector: the configuration has " << result.problems.size()
              << " problem(s):\n";
    for (const auto& p : result.problems) std::cerr << "  " << vc::config::FormatProblem(p) << "\n";
    std::cerr << "Run `vmray-connector validate` after fixing them; docs/configuration.md lists "
                 "every key.\n";
    return std::nullopt;
  }
  return result.config;
}

void InitLoggingFrom(const vc::config::Config& c) {
  vc::InitLogging({c.log.format == "json" ? vc::LogFormat::kJson : vc::LogFormat::kText,
                   c.log.level, c.log.file});
}

int Run(const std::string& config_file, bool once) {
  auto config = LoadOrReport(config_file);
  if (!config) return 2;
  InitLoggingFrom(*config);
  // Signals are taken by sigwait below; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vc::app::Daemon daemon(*config);
  if (auto s = daemon.Open(); !s) {
    spdlog::critical("cannot start: {}", s.error().ToString());
    std::cerr << "vmray-connector: cannot start: " << s.error().message << "\n";
    return 1;
  }
  if (once) {
    auto s = daemon.RunOnce();
    if (!s) {
      std::cerr << "vmray-connector: " << s.error().message << "\n";
      return 1;
    }
    return 0;
  }
  daemon.Start();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received signal {}, stopping", sig);
  daemon.Stop();
  return 0;
}

int ListJobs(const std::string& config_file, const std::string& state, int limit) {
  auto config = LoadOrReport(config_file);
  if (!config) return 2;
  vc::InitLogging({vc::LogFormat::kText, "warn", ""});
  // Read beside a running daemon: open the store only, never the daemon (which takes the
  // instance lock and releases leases).
  auto store = vc::store::OpenSqliteStore({config->store.path, config->store.synchronous_full},
                                          vc::DefaultClock());
  if (!store) {
    std::cerr << "vmray-connector: " << store.error().message << "\n";
    return 1;
  }
  auto jobs = (*store)->ListJobs({"", state, std::nullopt, "", limit});
  if (!jobs) {
    std::cerr << "vmray-connector: " << jobs.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format("{:>6} {:<44} {:<34} {:>3} {}\n", "ID", "KEY", "STATE", "TRY", "REASON");
  for (const auto& j : *jobs) {
    std::cout << fmt::format("{:>6} {:<44} {:<34} {:>3} {}\n", j.id, j.key.substr(0, 44), j.state,
                             j.attempts, vc::Scrub(j.reason));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmray-connector: VMRay analyses for Microsoft Defender for Endpoint alerts"};
  app.require_subcommand(1);
  std::string config_file;
  app.add_option("-c,--config", config_file, "TOML configuration file (or VMRAY_CONNECTOR_CONFIG)");

  auto* run = app.add_subcommand("run", "Run the connector until SIGINT or SIGTERM");
  bool once = false;
  run->add_flag("--once", once, "Poll once, run every due step, then exit");

  auto* validate = app.add_subcommand("validate", "Check the configuration and list every problem");

  auto* demo =
      app.add_subcommand("demo", "Run the Defender path end to end against the bundled emulators");
  std::string emulators;
  std::string work_dir;
  demo->add_option("--emulators", emulators, "Path of the vmray-emulators binary");
  demo->add_option("--work-dir", work_dir, "Directory for the demo's store and log");

  auto* config_cmd = app.add_subcommand("config", "Configuration reference");
  auto* docs = config_cmd->add_subcommand("docs", "Print docs/configuration.md");
  auto* example = config_cmd->add_subcommand("example", "Print an example TOML file");
  config_cmd->require_subcommand(1);

  auto* jobs = app.add_subcommand("jobs", "List jobs from the store, newest first");
  std::string state;
  int limit = 50;
  jobs->add_option("--state", state, "Only jobs in this state");
  jobs->add_option("--limit", limit, "How many")->check(CLI::Range(1, 100000));

  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (*run) return Run(config_file, once);
  if (*validate) return vc::config::RunValidate(LoadOptionsFor(config_file), std::cout);
  if (*demo) {
    vc::app::DemoOptions o;
    o.emulators_binary =
        emulators.empty() ? vc::app::FindEmulatorBinary("/proc/self/exe") : emulators;
    o.work_dir = work_dir;
    return vc::app::RunDemo(o, std::cout);
  }
  if (*docs) {
    std::cout << vc::config::RenderConfigMarkdown();
    return 0;
  }
  if (*example) {
    std::cout << vc::config::RenderExampleToml();
    return 0;
  }
  if (*jobs) return ListJobs(config_file, state, limit);
  std::cout << "vmray-connector " << vc::kVersion << "\n";
  return 0;
}
