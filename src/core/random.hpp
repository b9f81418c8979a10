// Injectable randomness: seeded in tests (reproducible jitter), OpenSSL-backed in production
// where values must be unguessable (blob names, request ids).
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace vc {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t NextU64() = 0;
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi);
  // 2*bytes lower-case hex characters.
  std::string HexToken(size_t bytes);
  // RFC 4122 version-4 UUID text.
  std::string Uuid4();
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t NextU64() override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

class CryptoRandom final : public Random {
 public:
  uint64_t NextU64() override;
};

Random& DefaultRandom();

}  // namespace vc
