#include "http/retry_after.hpp"

#include <gtest/gtest.h>

namespace vc::http {
namespace {

TEST(RetryAfter, Forms) {
  const TimePoint now{std::chrono::seconds(1'700'000'000)};  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(ParseRetryAfter("5", now), Millis(5000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), Millis(0));
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 22:14:20 GMT", now), Millis(60000));
  EXPECT_EQ(ParseRetryAfter("Tuesday, 14-Nov-23 22:14:20 GMT", now), Millis(60000));
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 22:00:00 GMT", now), Millis(0));  // past
  EXPECT_EQ(ParseRetryAfter("99999999999999", now), Millis(24 * 3600 * 1000));
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("-5", now));
}

}  // namespace
}  // namespace vc::http
