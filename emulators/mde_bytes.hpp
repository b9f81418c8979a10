// Byte helpers of the MDE emulator: base64 seeds, SHA-256 of library files, gzip of GetFile
// results (what MDE serves behind a result download link).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vc::emu::mde {

// Standard base64 (with padding); nullopt when the text is not valid base64.
std::optional<std::string> Base64Decode(std::string_view text);
std::string Sha256Hex(std::string_view bytes);
// A gzip member (RFC 1952) holding `bytes`, as `gunzip` reads it.
std::string Gzip(std::string_view bytes);

}  // namespace vc::emu::mde
