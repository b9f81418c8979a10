#include "pipelines/defender_alerts/quarantine_file.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>

namespace vc::defender {
namespace {

// The key Defender uses for every quarantine file (public: extracted from mpengine.dll).
constexpr std::array<unsigned char, 256> kKey = {
    0x1E, 0x87, 0x78, 0x1B, 0x8D, 0xBA, 0xA8, 0x44, 0xCE, 0x69, 0x70, 0x2C, 0x0C, 0x78, 0xB7, 0x86,
    0xA3, 0xF6, 0x23, 0xB7, 0x38, 0xF5, 0xED, 0xF9, 0xAF, 0x83, 0x53, 0x0F, 0xB3, 0xFC, 0x54, 0xFA,
    0xA2, 0x1E, 0xB9, 0xCF, 0x13, 0x31, 0xFD, 0x0F, 0x0D, 0xA9, 0x54, 0xF6, 0x87, 0xCB, 0x9E, 0x18,
    0x27, 0x96, 0x97, 0x90, 0x0E, 0x53, 0xFB, 0x31, 0x7C, 0x9C, 0xBC, 0xE4, 0x8E, 0x23, 0xD0, 0x53,
    0x71, 0xEC, 0xC1, 0x59, 0x51, 0xB8, 0xF3, 0x64, 0x9D, 0x7C, 0xA3, 0x3E, 0xD6, 0x8D, 0xC9, 0x04,
    0x7E, 0x82, 0xC9, 0xBA, 0xAD, 0x97, 0x99, 0xD0, 0xD4, 0x58, 0xCB, 0x84, 0x7C, 0xA9, 0xFF, 0xBE,
    0x3C, 0x8A, 0x77, 0x52, 0x33, 0x55, 0x7D, 0xDE, 0x13, 0xA8, 0xB1, 0x40, 0x87, 0xCC, 0x1B, 0xC8,
    0xF1, 0x0F, 0x6E, 0xCD, 0xD0, 0x83, 0xA9, 0x59, 0xCF, 0xF8, 0x4A, 0x9D, 0x1D, 0x50, 0x75, 0x5E,
    0x3E, 0x19, 0x18, 0x18, 0xAF, 0x23, 0xE2, 0x29, 0x35, 0x58, 0x76, 0x6D, 0x2C, 0x07, 0xE2, 0x57,
    0x12, 0xB2, 0xCA, 0x0B, 0x53, 0x5E, 0xD8, 0xF6, 0xC5, 0x6C, 0xE7, 0x3D, 0x24, 0xBD, 0xD0, 0x29,
    0x17, 0x71, 0x86, 0x1A, 0x54, 0xB4, 0xC2, 0x85, 0xA9, 0xA3, 0xDB, 0x7A, 0xCA, 0x6D, 0x22, 0x4A,
    0xEA, 0xCD, 0x62, 0x1D, 0xB9, 0xF2, 0xA2, 0x2E, 0xD1, 0xE9, 0xE1, 0x1D, 0x75, 0xBE, 0xD7, 0xDC,
    0x0E, 0xCB, 0x0A, 0x8E, 0x68, 0xA2, 0xFF, 0x12, 0x63, 0x40, 0x8D, 0xC8, 0x08, 0xDF, 0xFD, 0x16,
    0x4B, 0x11, 0x67, 0x74, 0xCD, 0x0B, 0x9B, 0x8D, 0x05, 0x41, 0x1E, 0xD6, 0x26, 0x2E, 0x42, 0x9B,
    0xA4, 0x95, 0x67, 0x6B, 0x83, 0x98, 0xDB, 0x2F, 0x35, 0xD3, 0xC1, 0xB9, 0xCE, 0xD5, 0x26, 0x36,
    0xF2, 0x76, 0x5E, 0x1A, 0x95, 0xCB, 0x7C, 0xA4, 0xC3, 0xDD, 0xAB, 0xDD, 0xBF, 0xF3, 0x82, 0x53};

// RC4 lives in OpenSSL 3's legacy provider; a private library context keeps it from changing
// what the rest of the process (libcurl's TLS) sees.
Result<std::string> Rc4(std::string_view in) {
  static OSSL_LIB_CTX* ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    if (c) OSSL_PROVIDER_load(c, "legacy");
    return c;
  }();
  static EVP_CIPHER* cipher = ctx ? EVP_CIPHER_fetch(ctx, "RC4", nullptr) : nullptr;
  if (!cipher) {
    return MakeError(ErrorCode::kInternal,
                     "OpenSSL's legacy provider (RC4) is not available; install the libssl3 "
                     "package's ossl-modules/legacy.so to read encrypted quarantine files");
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                    EVP_CIPHER_CTX_free);
  std::string out(in.size(), '\0');
  int len = 0;
  if (!c || EVP_CipherInit_ex2(c.get(), cipher, nullptr, nullptr, 1, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_key_length(c.get(), static_cast<int>(kKey.size())) != 1 ||
      EVP_CipherInit_ex2(c.get(), nullptr, kKey.data(), nullptr, 1, nullptr) != 1 ||
      EVP_CipherUpdate(c.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) != 1) {
    return MakeError(ErrorCode::kInternal, "RC4 through OpenSSL failed");
  }
  return out;
}

uint64_t ReadLe(const std::string& s, size_t offset, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[offset + i])) << (8 * i);
  return v;
}

void WriteLe(std::string& s, size_t offset, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) s[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

Result<std::string> DecryptQuarantineResource(std::string_view encrypted, size_t max_output) {
  auto plain = Rc4(encrypted);
  if (!plain) return plain.error();
  const std::string& d = *plain;
  if (d.size() < 0x0C) {
    return MakeError(
        ErrorCode::kProtocol,
        fmt::format("quarantine resource file too short ({} bytes)", encrypted.size()));
  }
  const uint64_t sd_len = ReadLe(d, 0x08, 4);
  const uint64_t header = 0x28 + sd_len;
  if (sd_len > d.size() || sd_len + 0x1C + 8 > d.size() || header > d.size()) {
    return MakeError(ErrorCode::kProtocol,
                     "quarantine resource file header does not fit its size: "
                     "not a Defender quarantine file, or truncated");
  }
  const uint64_t size = ReadLe(d, sd_len + 0x1C, 8);
  if (size > d.size() - header) {
    return MakeError(
        ErrorCode::kProtocol,
        fmt::format("quarantine resource file is truncated: it announces {} bytes, holds {}", size,
                    d.size() - header));
  }
  if (size > max_output) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("file is larger than the {} byte limit (vmray.max_file_size_bytes)",
                    max_output));
  }
  return d.substr(header, size);
}

std::string EncryptQuarantineResource(std::string_view original, size_t sd_len) {
  std::string plain(0x28 + sd_len, '\0');
  WriteLe(plain, 0x08, sd_len, 4);
  WriteLe(plain, sd_len + 0x1C, original.size(), 8);
  plain.append(original);
  plain.append(16, '\0');  // Defender appends stream records after the data; readers ignore them
  auto encrypted = Rc4(plain);
  return encrypted ? *encrypted : std::string();
}

}  // namespace vc::defender
