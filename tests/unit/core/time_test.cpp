#include "core/time.hpp"

#include <gtest/gtest.h>

namespace vc {
namespace {

TEST(Time, ParsesMdeTimestampsWithSevenDigits) {
  auto t = ParseIso8601("2021-01-26T20:33:57.7220239Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIso8601Millis(*t), "2021-01-26T20:33:57.722Z");
}

TEST(Time, VmrayTimestampsAreUtc) {
  auto t = ParseIso8601("2021-02-17T15:07:51");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIso8601(*t), "2021-02-17T15:07:51Z");
  EXPECT_EQ(FormatVmrayTime(*t), "2021-02-17T15:07:51");
}

TEST(Time, Offsets) {
  auto a = ParseIso8601("2021-02-17T17:07:51+02:00");
  auto b = ParseIso8601("2021-02-17T15:07:51Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(Time, RejectsGarbage) {
  EXPECT_FALSE(ParseIso8601(""));
  EXPECT_FALSE(ParseIso8601("2021-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseIso8601("2021-01-01T00:00:00Zjunk"));
  EXPECT_FALSE(ParseIso8601("2021-01-01T00:00:00."));
  EXPECT_FALSE(ParseIso8601("yesterday"));
}

}  // namespace
}  // namespace vc
