// The TI feed's `Polling` setting: the original's timer schedules (5-field cron, UTC) or a
// plain interval. Only interval schedules are accepted; runs fall on multiples of the interval
// since 00:00 UTC, as the cron schedule would run them.
#pragma once

#include <optional>
#include <string_view>

#include "core/clock.hpp"

namespace vc {

// "<n>m" / "<n>h", or the cron forms "*/N * * * *" (N divides 60), "0 * * * *",
// "0 */N * * *" (N divides 24) and "0 0 * * *" -> the interval; nullopt for anything else.
std::optional<Millis> ParsePolling(std::string_view text);
// The first run time after `now` for an interval.
TimePoint NextRun(TimePoint now, Millis interval);

}  // namespace vc
