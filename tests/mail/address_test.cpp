#include "clients/mail/address.hpp"

#include <gtest/gtest.h>

namespace vc::mail {
namespace {

TEST(MailAddress, AcceptsPlainAddresses) {
  for (const char* a :
       {"a@b.c", "first.last+tag@sub.example.com", "soc-team_1@example.org", "x@localhost"}) {
    EXPECT_TRUE(ValidateAddress(a)) << a;
  }
}

TEST(MailAddress, RefusesInjectionAndOddForms) {
  for (const char* a :
       {"", "no-at-sign", "a@", "@b.com", "a b@c.com", "a@b.com\r\nBcc: evil@example.com",
        "a@b.com\nBcc: evil@example.com", "<a@b.com>", "Name <a@b.com>", "a..b@c.com", ".a@c.com",
        "a@-b.com", "a@b..com", "\"q\"@b.com", "a@b.com,c@d.com", "a@b.com>", "a@exa_mple.com",
        "\xc3\xa9@b.com"}) {
    const Status s = ValidateAddress(a);
    ASSERT_FALSE(s) << a;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("name@example.com"), std::string::npos);
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find('\r'), std::string::npos) << s.error().message;
  }
}

TEST(MailAddress, RefusesOverlongParts) {
  EXPECT_FALSE(ValidateAddress(std::string(65, 'a') + "@b.com"));
  EXPECT_FALSE(ValidateAddress("a@" + std::string(64, 'b') + ".com"));
  EXPECT_FALSE(ValidateAddress("a@" + std::string(250, 'b')));
}

}  // namespace
}  // namespace vc::mail
