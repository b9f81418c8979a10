#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "core/hash.hpp"

namespace vc {
namespace {

TEST(Base64, RoundTripAndStrictness) {
  const std::string data("\x00\xffhello\x7f", 8);
  EXPECT_EQ(Base64Decode(Base64Encode(data)), data);
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(Base64Decode("YWI="), "ab");
  EXPECT_FALSE(Base64Decode("YWI"));   // length
  EXPECT_FALSE(Base64Decode("Y=WI"));  // padding in the middle
  EXPECT_FALSE(Base64Decode("YW I"));  // blank
  EXPECT_FALSE(Base64Decode("YW*="));  // alphabet
}

TEST(Hash, KnownDigests) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_TRUE(IsHex("00ffAA", 6));
  EXPECT_FALSE(IsHex("00ffAG", 6));
  EXPECT_FALSE(IsHex("00ff", 6));
}

}  // namespace
}  // namespace vc
