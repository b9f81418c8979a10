#include "http/gzip.hpp"

#include <gtest/gtest.h>

namespace vc::http {
namespace {

TEST(Gzip, RoundTrip) {
  std::string data(100000, 'x');
  data += "tail";
  auto r = Gunzip(Gzip(data), 1 << 20);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, data);
}

TEST(Gzip, BombIsStoppedAtTheLimit) {
  auto r = Gunzip(Gzip(std::string(10 << 20, '\0')), 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("max_file_size_bytes"), std::string::npos);
}

TEST(Gzip, TruncatedAndGarbage) {
  const std::string z = Gzip(std::string(50000, 'a') + "b");
  EXPECT_FALSE(Gunzip(z.substr(0, z.size() / 2), 1 << 20));
  EXPECT_FALSE(Gunzip("not gzip at all", 1 << 20));
  EXPECT_FALSE(Gunzip("", 1 << 20));
}

}  // namespace
}  // namespace vc::http
