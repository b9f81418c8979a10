// Retry-After comes as delay-seconds or as an HTTP-date (RFC 9110 10.2.3); both are honoured.
#pragma once

#include <optional>
#include <string_view>

#include "core/clock.hpp"

namespace vc::http {

// The wait the header asks for, relative to `now`; nullopt when absent or unparseable. A date
// in the past means "now" (0). Absurd values are capped at one day.
std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now);

}  // namespace vc::http
