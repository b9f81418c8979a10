// Base64 through OpenSSL (standard alphabet, padded).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vc {

std::string Base64Encode(std::string_view data);
// nullopt when the text is not valid padded base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace vc
