// How a failed enrichment request is answered. Both APIs share it: the versioned API renders
// {"error":{"code","message"}}, the compatible one keeps the original function app's plain-text
// 400 for a missing parameter and uses the same JSON body for everything the original answered
// with a bare "Internal Server Exception".
#pragma once

#include <string>
#include <utility>

#include "core/result.hpp"

namespace vc::enrichment {

struct ApiError {
  ApiError() = default;
  ApiError(int status, std::string code, std::string message, std::string param = {})
      : status(status),
        code(std::move(code)),
        message(std::move(message)),
        param(std::move(param)) {}

  int status = 400;
  std::string code;     // missing_parameter, invalid_parameter, unsupported_media_type, ...
  std::string message;  // says what to do; never holds a secret
  std::string param;    // the parameter at fault, when there is one
  int retry_after_seconds = 0;
};

ApiError MissingParameter(const std::string& name);
ApiError InvalidParameter(const std::string& name, const std::string& message);
// A VMRay failure as the caller should see it: unknown ids are 404, VMRay refusing the input is
// 400, throttling is 503 with Retry-After, everything on VMRay's or our side is 502.
ApiError FromVmrayError(const Error& error);

// The original's text for a missing parameter: "Invalid Request. Missing '<name>' parameter."
std::string OriginalMissingText(const std::string& name);

}  // namespace vc::enrichment
