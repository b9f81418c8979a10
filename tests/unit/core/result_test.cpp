#include "core/result.hpp"

#include <gtest/gtest.h>

namespace vc {
namespace {

Result<int> Half(int x) {
  if (x % 2) return MakeError(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  VC_ASSIGN_OR_RETURN(int h, Half(x));
  VC_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  VC_RETURN_IF_ERROR(Half(x));
  return Ok();
}

TEST(Result, HoldsValueOrError) {
  auto ok = Half(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_FALSE(Quarter(6));
  EXPECT_TRUE(CheckEven(2));
  EXPECT_EQ(CheckEven(1).error().message, "odd");
}

TEST(Error, ToStringCarriesServiceDetails) {
  Error e = MakeError(ErrorCode::kRateLimited, "slow down");
  e.service = "mde";
  e.http_status = 429;
  e.service_code = "TooManyRequests";
  e.request_id = "abc";
  e.retry_after = std::chrono::seconds(7);
  EXPECT_EQ(
      e.ToString(),
      "RateLimited [mde http=429 code=TooManyRequests request-id=abc retry-after=7s]: slow down");
  EXPECT_TRUE(e.IsTransient());
  EXPECT_FALSE(MakeError(ErrorCode::kPermissionDenied, "x").IsTransient());
}

}  // namespace
}  // namespace vc
