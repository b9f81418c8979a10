#include "vmray_digest.hpp"

#include <array>
#include <cctype>
#include <stdexcept>

namespace vc::emu::vmray {

std::string SsdeepLike(std::string_view sha256_hex, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t block = 3;
  while (block * 64 < size) block *= 2;
  std::string first, second;
  for (size_t i = 0; i + 1 < sha256_hex.size(); i += 2) {
    const int byte = std::stoi(std::string(sha256_hex.substr(i, 2)), nullptr, 16);
    first.push_back(kAlphabet[byte & 63]);
    if (i % 4 == 0) second.push_back(kAlphabet[(byte >> 2) & 63]);
  }
  return std::to_string(block) + ":" + first + ":" + second;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace vc::emu::vmray
