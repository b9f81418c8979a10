// Reading the claims of an Entra access token, for diagnostics only: the payload of a JWT is
// base64url JSON, and its `roles` claim lists the application permissions the app was granted
// on the token's resource. The signature is not checked; the service that receives the token
// does that, and nothing here decides access.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::app {

// Unpadded or padded base64url; nullopt when the text is not base64url.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// The payload of a JWT (header.payload.signature) as a JSON object. The error never repeats
// the token.
Result<Json> JwtPayload(std::string_view token);

// The `roles` claim; empty when it is missing (Entra leaves it out when nothing is granted).
std::vector<std::string> RolesClaim(const Json& payload);

}  // namespace vc::app
