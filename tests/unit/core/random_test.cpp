#include "core/random.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace vc {
namespace {

TEST(Random, SeededIsReproducible) {
  SeededRandom a(42), b(42);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.NextU64(), b.NextU64());
}

TEST(Random, UniformStaysInRange) {
  SeededRandom r(1);
  for (int i = 0; i < 1000; ++i) {
    double v = r.Uniform(2.0, 3.0);
    EXPECT_GE(v, 2.0);
    EXPECT_LT(v, 3.0);
  }
}

TEST(Random, Uuid4Format) {
  CryptoRandom r;
  const std::string u = r.Uuid4();
  EXPECT_TRUE(std::regex_match(
      u, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << u;
  EXPECT_NE(r.HexToken(16), r.HexToken(16));
}

}  // namespace
}  // namespace vc
