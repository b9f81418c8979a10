#include "core/redact.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

#include "core/secret.hpp"

namespace vc {
namespace {

TEST(Redact, SecretNeverPrints) {
  Secret<> s("DO-NOT-LOG-secret-value-1");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  EXPECT_EQ(fmt::format("{}", s), "[redacted]");
  EXPECT_EQ(s.Reveal(), "DO-NOT-LOG-secret-value-1");
}

TEST(Redact, RegisteredValuesAreScrubbedFromAnyText) {
  Secret<> s("DO-NOT-LOG-abcdef");
  EXPECT_EQ(Scrub("token=DO-NOT-LOG-abcdef; again DO-NOT-LOG-abcdef"),
            "token=[redacted]; again [redacted]");
}

TEST(Redact, ShortValuesAreNotRegistered) {
  Redactor r;
  r.Register("true");
  EXPECT_EQ(r.Scrub("true story"), "true story");
}

TEST(Redact, UrlQueryParameters) {
  EXPECT_EQ(RedactUrl("https://x.blob/c/b?sv=2021&sig=abc%2Fdef&se=2030#frag"),
            "https://x.blob/c/b?sv=2021&sig=[redacted]&se=2030#frag");
  EXPECT_EQ(RedactUrl("https://f/api/x?code=k1&name=a"), "https://f/api/x?code=[redacted]&name=a");
  EXPECT_EQ(RedactUrl("https://plain/path"), "https://plain/path");
}

TEST(Redact, FormBody) {
  EXPECT_EQ(RedactFormBody("grant_type=client_credentials&client_id=id&client_secret=s3cr%2Bt"),
            "grant_type=client_credentials&client_id=id&client_secret=[redacted]");
}

TEST(Redact, SensitiveHeaders) {
  EXPECT_TRUE(IsSensitiveHeader("Authorization"));
  EXPECT_TRUE(IsSensitiveHeader("x-functions-key"));
  EXPECT_FALSE(IsSensitiveHeader("Content-Type"));
}

}  // namespace
}  // namespace vc
