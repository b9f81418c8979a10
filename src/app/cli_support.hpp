// What the commands share: loading the configuration with the same report as `run`, quiet
// logging for one-shot commands, and opening the store beside a running daemon.
#pragma once

#include <memory>
#include <optional>

#include "app/cli.hpp"
#include "store/store.hpp"

namespace vc::app {

// Loads the configuration; on problems prints each one to ctx.err and returns nullopt (the
// caller exits with kExitConfig). Warnings go to ctx.err either way.
std::optional<config::Config> LoadOrReport(const CommandContext& ctx);

// One-shot commands log warnings and errors only, to standard error, so their output stays
// readable and parseable.
void QuietLogging();

// Opens the store the daemon uses without opening the daemon: no instance lock, no lease
// release, so it is safe while `run` is going. Prints the error and returns null on failure.
std::unique_ptr<store::Store> OpenStoreOrReport(const CommandContext& ctx,
                                                const config::Config& config);

// A time as "2026-11-23T15:40:24Z", or "-" for the epoch (never set).
std::string ShowTime(TimePoint t);
// "in 5m 3s" / "12s ago" relative to now.
std::string ShowRelative(TimePoint t, TimePoint now);

}  // namespace vc::app
