// The parser: every subcommand and option in one place, each mapped to its command function.
// Parse errors are usage errors (exit 3), never mistaken for a configuration problem (exit 2).
#include "app/cli.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/cli_support.hpp"
#include "app/demo.hpp"
#include "app/doctor.hpp"
#include "app/emulator_process.hpp"
#include "config/schema.hpp"
#include "version.hpp"

namespace vc::app {

std::string ExitCodesText() {
  return "Exit codes:\n"
         "  0  success (doctor: no problem found)\n"
         "  1  runtime problem: a service, the store or a file failed, or a doctor check found a "
         "problem\n"
         "  2  configuration problem: fix the listed keys (`vmray-connector validate`)\n"
         "  3  usage error: unknown command or option, or a bad argument";
}

int ValidateCommand(const CommandContext& ctx) {
  // RunValidate answers 1 for an invalid configuration; the CLI calls that a config problem.
  return config::RunValidate(ctx.load, ctx.out) == 0 ? kExitOk : kExitConfig;
}

int DoctorCommand(const CommandContext& ctx) {
  QuietLogging();
  DoctorOptions o;
  o.load = ctx.load;
  o.clock = &ctx.clock;
  return RunDoctor(o, ctx.out).exit_code;
}

int RunCli(const std::vector<std::string>& args, const Environment& environment, std::ostream& out,
           std::ostream& err, Clock& clock) {
  CLI::App app{"vmray-connector: VMRay analyses for Microsoft Defender for Endpoint alerts",
               "vmray-connector"};
  app.footer(ExitCodesText());
  app.require_subcommand(0, 1);
  std::string config_file;
  app.add_option("-c,--config", config_file,
                 fmt::format("TOML configuration file (or {})", config::kConfigFileEnv));
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and exit");

  auto* run = app.add_subcommand("run", "Run the connector until SIGINT or SIGTERM");
  bool once = false;
  run->add_flag("--once", once, "Poll once, run every due step, then exit");

  auto* validate = app.add_subcommand("validate", "Check the configuration and list every problem");
  auto* doctor = app.add_subcommand(
      "doctor", "Check every configured service with read-only calls and say how to fix problems");

  auto* demo =
      app.add_subcommand("demo", "Run the Defender path end to end against the bundled emulators");
  std::string emulators;
  std::string work_dir;
  demo->add_option("--emulators", emulators, "Path of the vmray-emulators binary");
  demo->add_option("--work-dir", work_dir, "Directory for the demo's store and log");

  auto* status = app.add_subcommand(
      "status", "The job queue by state and the recent failures (safe while the daemon runs)");
  int failures = 10;
  status->add_option("--failures", failures, "How many recent failures to list")
      ->check(CLI::Range(0, 1000));

  auto* alert =
      app.add_subcommand("alert", "Every job of one MDE alert, its sample and write-backs");
  std::string alert_id;
  alert->add_option("id", alert_id, "The MDE alert id (da..., fa..., ...)")->required();

  auto* replay = app.add_subcommand(
      "replay", "Read the verdicts of one MDE alert from VMRay again and write back what changed");
  std::string replay_alert_id;
  replay->add_option("id", replay_alert_id, "The MDE alert id")->required();

  auto* jobs = app.add_subcommand("jobs", "List jobs from the store, newest first");
  std::string state;
  int limit = 50;
  jobs->add_option("--state", state, "Only jobs in this state");
  jobs->add_option("--limit", limit, "How many")->check(CLI::Range(1, 100000));

  auto* submit = app.add_subcommand(
      "submit", "Submit a file or an http(s) URL to VMRay and print the submission and its link");
  std::string target;
  submit->add_option("target", target, "A file path or an http(s):// URL")->required();

  auto* feed = app.add_subcommand(
      "feed", "Sentinel TI feed: one run (--once) or a backfill (--since <date>), with progress");
  bool feed_once = false;
  std::string feed_since;
  feed->add_flag("--once", feed_once, "One run from the checkpoint to now, then a summary");
  feed->add_option("--since", feed_since,
                   "Backfill from this UTC date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ) to now");

  auto* config_cmd = app.add_subcommand("config", "Configuration: effective values and reference");
  auto* print = config_cmd->add_subcommand(
      "print", "The effective configuration as TOML, with each value's source; secrets masked");
  auto* docs = config_cmd->add_subcommand("docs", "Print docs/configuration.md");
  auto* example = config_cmd->add_subcommand("example", "Print an example TOML file");
  config_cmd->require_subcommand(1);

  auto* version = app.add_subcommand("version", "Print the version");

  // CLI11 wants argv order with the program name first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    err << "vmray-connector: " << e.what() << "\nRun `vmray-connector --help` for the commands.\n";
    return kExitUsage;
  }

  if (show_version || *version) {
    out << "vmray-connector " << kVersion << "\n";
    return kExitOk;
  }
  if (app.get_subcommands().empty()) {
    err << "vmray-connector: a command is required\n" << app.help();
    return kExitUsage;
  }

  config::LoadOptions load;
  load.file = config_file;
  if (load.file.empty()) {
    for (const auto& [name, value] : environment) {
      if (name == config::kConfigFileEnv && !value.empty()) load.file = value;
    }
  }
  load.environment = environment;
  const CommandContext ctx{load, out, err, clock};

  if (*run) return RunCommand(ctx, once);
  if (*validate) return ValidateCommand(ctx);
  if (*doctor) return DoctorCommand(ctx);
  if (*demo) {
    DemoOptions o;
    o.emulators_binary = emulators.empty() ? FindEmulatorBinary("/proc/self/exe") : emulators;
    o.work_dir = work_dir;
    return RunDemo(o, out);
  }
  if (*status) return StatusCommand(ctx, failures);
  if (*feed) return FeedCommand(ctx, feed_once, feed_since);
  if (*alert) return AlertCommand(ctx, alert_id);
  if (*jobs) return JobsCommand(ctx, state, limit);
  if (*replay) return ReplayCommand(ctx, replay_alert_id);
  if (*submit) return SubmitCommand(ctx, target);
  if (*print) return ConfigPrintCommand(ctx);
  if (*docs) {
    out << config::RenderConfigMarkdown();
    return kExitOk;
  }
  if (*example) {
    out << config::RenderExampleToml();
    return kExitOk;
  }
  err << "vmray-connector: no such command\n";
  return kExitUsage;
}

}  // namespace vc::app
