// Function-key check as Azure Functions does it for authLevel "function": the key comes in the
// x-functions-key header or the code query parameter.
#pragma once

#include <string_view>

#include "core/secret.hpp"

namespace vc::enrichment {

// Constant time in the content of both values: both are hashed to SHA-256 first, so neither the
// key's length nor a matching prefix shows in the time taken. An empty key never matches.
bool FunctionKeyMatches(std::string_view presented, const Secret<>& key);

}  // namespace vc::enrichment
