// WhitelistedURLDomains exactly as the original playbook 3.0.2 applied it
// (original-sentinel-solution.md 5.2), plus the connector's scheme and credential rules.
#include "pipelines/sentinel_incidents/url_filter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vc::sentinel_incidents {
namespace {

using ::testing::ElementsAre;

TEST(UrlHost, ExtractsTheHostAsThePlaybookDid) {
  EXPECT_EQ(UrlHost("https://Sub.Example.COM/path?q=1#f"), "sub.example.com");
  EXPECT_EQ(UrlHost("http://user:pa@ss@host.example:8443/x"), "host.example");
  EXPECT_EQ(UrlHost("example.org/no-scheme"), "example.org");
  EXPECT_EQ(UrlHost("https://example.org?x"), "example.org");
  EXPECT_EQ(UrlHost("https://example.org#x"), "example.org");
  EXPECT_EQ(UrlHost("https://[2001:db8::1]:8080/"), "2001:db8::1");
  EXPECT_EQ(UrlHost("https:///path"), "");
  EXPECT_EQ(UrlHost("https://user@/path"), "");
  EXPECT_EQ(UrlHost("  https://  /"), "");
  // IDN hosts stay as written (only ASCII is lower-cased).
  EXPECT_EQ(UrlHost("https://B\xC3\xBC"
                    "cher.Example/"),
            "b\xC3\xBC"
            "cher.example");
}

TEST(AllowList, ParsesTheSettingLikeTheOriginal) {
  EXPECT_THAT(ParseAllowedDomains(std::string_view(" Example.com, ,contoso.COM ,a b.org")),
              ElementsAre("example.com", "contoso.com", "ab.org"));
  EXPECT_THAT(ParseAllowedDomains(std::string_view("")), ElementsAre());
}

TEST(AllowList, MatchesTheHostOrItsLastTwoThreeOrFourLabels) {
  const std::vector<std::string> d = {"example.com", "corp.contoso.com", "a.b.c.d", "x.a.b.c.d"};
  EXPECT_TRUE(HostAllowListed("example.com", d));
  EXPECT_TRUE(HostAllowListed("www.example.com", d));
  EXPECT_TRUE(HostAllowListed("a.b.c.d.e.example.com", d));  // last 2 labels
  EXPECT_TRUE(HostAllowListed("mail.corp.contoso.com", d));  // last 3 labels
  EXPECT_FALSE(HostAllowListed("contoso.com", d));
  EXPECT_TRUE(HostAllowListed("z.a.b.c.d", d));  // last 4 labels
  // A five-label entry only matches the host itself: the playbook compared at most 4 labels.
  EXPECT_TRUE(HostAllowListed("x.a.b.c.d", d));
  EXPECT_FALSE(HostAllowListed("y.x.a.b.c.d", {"x.a.b.c.d"}));
  EXPECT_FALSE(HostAllowListed("notexample.com", d));
  EXPECT_FALSE(HostAllowListed("example.com.evil.net", d));
  EXPECT_FALSE(HostAllowListed("", d));
}

TEST(DecideUrl, LeavesOutAllowListedEmptyHostAndOtherSchemes) {
  const std::vector<std::string> d = {"example.com"};
  EXPECT_EQ(DecideUrl("https://www.example.com/a", d).decision, UrlDecision::kAllowListed);
  EXPECT_EQ(DecideUrl("https:///a", d).decision, UrlDecision::kEmptyHost);
  EXPECT_EQ(DecideUrl("", d).decision, UrlDecision::kEmptyHost);
  EXPECT_EQ(DecideUrl("javascript:alert(1)", d).decision, UrlDecision::kUnsupportedScheme);
  EXPECT_EQ(DecideUrl("ftp://files.evil.net/x", d).decision, UrlDecision::kUnsupportedScheme);
  EXPECT_EQ(DecideUrl("data:text/html,<b>x</b>", d).decision, UrlDecision::kUnsupportedScheme);
  EXPECT_EQ(DecideUrl("HTTPS://evil.net/", d).decision, UrlDecision::kSubmit);
  // host:port without a scheme is a host, not a scheme "host".
  EXPECT_EQ(DecideUrl("evil.net:8080/x", d).decision, UrlDecision::kSubmit);
}

TEST(DecideUrl, TakesCredentialsOutAndKeepsThePort) {
  const UrlVerdict v = DecideUrl("  https://alice:s3cret@evil.net:8443/login?x=@y  ", {});
  EXPECT_EQ(v.decision, UrlDecision::kSubmit);
  EXPECT_EQ(v.url, "https://evil.net:8443/login?x=@y");
  EXPECT_EQ(v.host, "evil.net");
}

TEST(WithoutScheme, StripsOnlyHttpAndHttps) {
  EXPECT_EQ(WithoutScheme("https://a.example/x"), "a.example/x");
  EXPECT_EQ(WithoutScheme("HTTP://a.example"), "a.example");
  EXPECT_EQ(WithoutScheme("a.example"), "a.example");
}

}  // namespace
}  // namespace vc::sentinel_incidents
