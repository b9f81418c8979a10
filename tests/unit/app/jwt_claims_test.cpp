// Reading the roles claim of an access token: base64url with and without padding, and tokens
// that are not JWTs fail with a message that does not repeat the token.
#include "app/jwt_claims.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vc::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(Base64Url, DecodesTheUrlAlphabetWithOrWithoutPadding) {
  // The bytes fb ff are "+/8=" in base64 and "-_8" in base64url.
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_EQ(Base64UrlDecode("-_8="), "\xfb\xff");
  EXPECT_EQ(Base64UrlDecode("YQ"), "a");
  EXPECT_EQ(Base64UrlDecode("YQ=="), "a");
  EXPECT_EQ(Base64UrlDecode("YWI"), "ab");
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_FALSE(Base64UrlDecode("+/8=").has_value()) << "standard alphabet";
  EXPECT_FALSE(Base64UrlDecode("Y").has_value()) << "impossible length";
  EXPECT_FALSE(Base64UrlDecode("Y!Q").has_value());
}

TEST(JwtPayload, ReadsTheRolesOfAnEntraShapedToken) {
  // {"alg":"none"} . {"aud":"https://api.securitycenter.microsoft.com","roles":["Alert.Read.All",
  // "Machine.LiveResponse"]} . "sig"
  const std::string token =
      "eyJhbGciOiJub25lIn0."
      "eyJhdWQiOiJodHRwczovL2FwaS5zZWN1cml0eWNlbnRlci5taWNyb3NvZnQuY29tIiwicm9sZXMiOlsiQWxlcnQu"
      "UmVhZC5BbGwiLCJNYWNoaW5lLkxpdmVSZXNwb25zZSJdfQ.c2ln";
  auto payload = JwtPayload(token);
  ASSERT_TRUE(payload) << payload.error().message;
  EXPECT_EQ((*payload)["aud"], "https://api.securitycenter.microsoft.com");
  EXPECT_THAT(RolesClaim(*payload), ElementsAre("Alert.Read.All", "Machine.LiveResponse"));
}

TEST(JwtPayload, MissingOrOddRolesAreEmpty) {
  EXPECT_THAT(RolesClaim(Json{{"aud", "x"}}), IsEmpty());
  EXPECT_THAT(RolesClaim(Json{{"roles", "Alert.Read.All"}}), IsEmpty());
  EXPECT_THAT(RolesClaim(Json{{"roles", {1, "Machine.Read.All"}}}),
              ElementsAre("Machine.Read.All"));
}

TEST(JwtPayload, NonJwtsAreRefusedWithoutRepeatingTheToken) {
  const std::string secretish = "opaque-token-DO-NOT-LOG";
  for (const std::string& token :
       std::vector<std::string>{secretish, "a.b", "a.b.c.d", "eyJ9.@@@.c2ln",
                                "eyJhIjoxfQ.bm90IGpzb24.c2ln", "eyJhIjoxfQ.WzFd.c2ln"}) {
    auto payload = JwtPayload(token);
    ASSERT_FALSE(payload) << token;
    EXPECT_EQ(payload.error().code, ErrorCode::kProtocol) << token;
    EXPECT_THAT(payload.error().message, Not(HasSubstr("DO-NOT-LOG")));
  }
}

}  // namespace
}  // namespace vc::app
