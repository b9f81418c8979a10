// Timestamps as the services write them: MDE uses ISO-8601 UTC with up to 7 fractional digits
// and a 'Z'; VMRay writes "YYYY-MM-DDTHH:MM:SS" in UTC with no zone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace vc {

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]"; no zone means UTC.
std::optional<TimePoint> ParseIso8601(std::string_view text);
// "YYYY-MM-DDTHH:MM:SSZ"
std::string FormatIso8601(TimePoint t);
// "YYYY-MM-DDTHH:MM:SS.mmmZ"
std::string FormatIso8601Millis(TimePoint t);
// "YYYY-MM-DDTHH:MM:SS" (VMRay query format, UTC implied)
std::string FormatVmrayTime(TimePoint t);

}  // namespace vc
