// Digests through OpenSSL, as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace vc {

std::string Sha256Hex(std::string_view data);
std::string Sha1Hex(std::string_view data);
std::string Md5Hex(std::string_view data);
// True when `text` is exactly `length` hex digits.
bool IsHex(std::string_view text, size_t length);

}  // namespace vc
