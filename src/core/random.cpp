#include "core/random.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace vc {

double Random::Uniform(double lo, double hi) {
  // 53 random bits give every representable double in [0,1) an equal chance.
  const double unit = static_cast<double>(NextU64() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * unit;
}

std::string Random::HexToken(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  uint64_t pool = 0;
  int left = 0;
  for (size_t i = 0; i < bytes; ++i) {
    if (left == 0) {
      pool = NextU64();
      left = 8;
    }
    const auto b = static_cast<unsigned>(pool & 0xff);
    pool >>= 8;
    --left;
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string Random::Uuid4() {
  std::string hex = HexToken(16);
  hex[12] = '4';
  static constexpr char kVariant[] = "89ab";
  hex[16] = kVariant[NextU64() & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

uint64_t SeededRandom::NextU64() {
  std::lock_guard lock(mu_);
  return engine_();
}

uint64_t CryptoRandom::NextU64() {
  std::array<unsigned char, 8> buf{};
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    // OpenSSL's CSPRNG failing means the process cannot make safe tokens at all.
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  uint64_t v = 0;
  std::memcpy(&v, buf.data(), sizeof(v));
  return v;
}

Random& DefaultRandom() {
  static CryptoRandom random;
  return random;
}

}  // namespace vc
