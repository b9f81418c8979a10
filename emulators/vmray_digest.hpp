// Hashes and encodings the VMRay emulator needs to identify samples the way VMRay does (by the
// digests of the uploaded bytes, or of the URL text for URL submissions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "core/hash.hpp"

namespace vc::emu::vmray {

using vc::Md5Hex;
using vc::Sha1Hex;
using vc::Sha256Hex;
// An ssdeep-shaped value ("blocksize:hash:hash") derived from the sha256; real ssdeep needs a
// library Debian does not ship, and clients only store and display it.
std::string SsdeepLike(std::string_view sha256_hex, size_t size);

// True when `text` has exactly `length` hex digits (either case).
inline bool IsHexOfLength(std::string_view text, size_t length) {
  return vc::IsHex(text, length);
}
// Standard base64 with padding; nullopt for anything else (an empty text is not a value).
inline std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return vc::Base64Decode(text);
}
bool IsValidUtf8(std::string_view text);

}  // namespace vc::emu::vmray
