// The command line of vmray-connector: one CLI11 parser and one function per subcommand. Every
// command writes to the streams it is given and returns its exit code, so tests run them
// in-process and main() is a thin shell around RunCli.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace vc::app {

// The exit codes of every command (listed in --help and in the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // a service, the store, a file or a doctor check failed
inline constexpr int kExitConfig = 2;   // the configuration is invalid
inline constexpr int kExitUsage = 3;    // unknown command or option, bad argument

using Environment = std::vector<std::pair<std::string, std::string>>;

// What every command gets: where the configuration comes from and where to write.
struct CommandContext {
  config::LoadOptions load;  // --config (or VMRAY_CONNECTOR_CONFIG) and the environment
  std::ostream& out;
  std::ostream& err;
  Clock& clock;
};

// Parses `args` (without the program name) and runs the chosen command.
int RunCli(const std::vector<std::string>& args, const Environment& environment, std::ostream& out,
           std::ostream& err, Clock& clock = DefaultClock());

// The commands. Each loads the configuration itself (exit 2 when it is invalid).
int RunCommand(const CommandContext& ctx, bool once);
int ValidateCommand(const CommandContext& ctx);
int DoctorCommand(const CommandContext& ctx);
// The queue by kind and state and the newest `failures` failed jobs and write-backs.
int StatusCommand(const CommandContext& ctx, int failures);
// Every job of one MDE alert with its sample and write-backs.
int AlertCommand(const CommandContext& ctx, const std::string& alert_id);
int JobsCommand(const CommandContext& ctx, const std::string& state, int limit);
// Reopens the alert's settled jobs so the connector reads the verdicts again and writes back
// what changed.
int ReplayCommand(const CommandContext& ctx, const std::string& alert_id);
// Submits a file or an http(s) URL to VMRay with the configured key.
int SubmitCommand(const CommandContext& ctx, const std::string& target);
// The Sentinel TI feed: one run from the checkpoint (`once`) or a backfill from `since`.
int FeedCommand(const CommandContext& ctx, bool once, const std::string& since);
// The effective configuration as TOML, each value with its source, secrets masked.
int ConfigPrintCommand(const CommandContext& ctx);

// The help footer: the exit codes above in words.
std::string ExitCodesText();

}  // namespace vc::app
