#include "core/hash.hpp"

#include <openssl/evp.h>

#include <cctype>

namespace vc {
namespace {
std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[buf[i] >> 4]);
    out.push_back(kHex[buf[i] & 0xf]);
  }
  return out;
}
}  // namespace

std::string Sha256Hex(std::string_view data) {
  return Digest(EVP_sha256(), data);
}
std::string Sha1Hex(std::string_view data) {
  return Digest(EVP_sha1(), data);
}
std::string Md5Hex(std::string_view data) {
  return Digest(EVP_md5(), data);
}

bool IsHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace vc
