// gunzip with a ceiling on the output, because a live-response download is attacker-shaped
// data and a small gzip can expand into gigabytes.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc::http {

Result<std::string> Gunzip(std::string_view compressed, size_t max_output);
// For tests and emulators.
std::string Gzip(std::string_view data);

}  // namespace vc::http
