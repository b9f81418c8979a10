// Hashes and encodings the VMRay emulator needs to identify samples the way VMRay does (by the
// digests of the uploaded bytes, or of the URL text for URL submissions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vc::emu::vmray {

std::string Sha256Hex(std::string_view data);
std::string Sha1Hex(std::string_view data);
std::string Md5Hex(std::string_view data);
// An ssdeep-shaped value ("blocksize:hash:hash") derived from the sha256; real ssdeep needs a
// library Debian does not ship, and clients only store and display it.
std::string SsdeepLike(std::string_view sha256_hex, size_t size);

// True when `text` has exactly `length` hex digits (either case).
bool IsHexOfLength(std::string_view text, size_t length);
// Standard base64 with padding; nullopt for anything else.
std::optional<std::string> DecodeBase64(std::string_view text);
bool IsValidUtf8(std::string_view text);

}  // namespace vc::emu::vmray
