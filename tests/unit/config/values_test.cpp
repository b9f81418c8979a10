#include "config/values.hpp"

#include <gtest/gtest.h>

#include "config/edit_distance.hpp"

namespace vc::config {
namespace {

using Strings = std::vector<std::string>;

TEST(ConfigValues, BoolAcceptsTheAzureSpellings) {
  for (const char* yes : {"true", "True", "TRUE", "1", "yes", "Yes", " true "}) {
    EXPECT_EQ(ParseBool(yes), true) << yes;
  }
  for (const char* no : {"false", "False", "0", "no", "NO"}) EXPECT_EQ(ParseBool(no), false) << no;
  for (const char* bad : {"", "maybe", "2", "y", "truee", "on"}) {
    EXPECT_EQ(ParseBool(bad), std::nullopt) << bad;
  }
}

TEST(ConfigValues, IntIsStrictDecimal) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt(" -7 "), -7);
  EXPECT_EQ(ParseInt("+5"), 5);
  for (const char* bad : {"", "5 min", "0x10", "1.5", "abc", "99999999999999999999"}) {
    EXPECT_EQ(ParseInt(bad), std::nullopt) << bad;
  }
}

TEST(ConfigValues, ListFromCommaTextTrimsAndDropsEmpties) {
  EXPECT_EQ(ParseList(" New , InProgress,, ,Resolved ").value(),
            (Strings{"New", "InProgress", "Resolved"}));
  EXPECT_EQ(ParseList("").value(), Strings{});
  EXPECT_EQ(ParseList("one").value(), Strings{"one"});
}

TEST(ConfigValues, ListFromJsonArrayAsInTheLogicApp) {
  EXPECT_EQ(ParseList(R"(["New","InProgress"])").value(), (Strings{"New", "InProgress"}));
  EXPECT_EQ(ParseList(R"( [ "a, with comma", " b ", "" ] )").value(),
            (Strings{"a, with comma", "b"}));
  EXPECT_EQ(ParseList("[]").value(), Strings{});
}

TEST(ConfigValues, BrokenJsonArrayIsRefusedWithBothForms) {
  for (const char* bad : {R"(["New",)", "[1,2]", R"([{"a":1}])"}) {
    auto list = ParseList(bad);
    ASSERT_FALSE(list.has_value()) << bad;
    EXPECT_NE(list.error().message.find("New,InProgress"), std::string::npos);
  }
}

TEST(ConfigValues, EnumIsCaseInsensitiveAndCanonical) {
  std::vector<std::string_view> values = {"Malicious", "Suspicious", "Malicious & Suspicious"};
  EXPECT_EQ(MatchEnum(values, "malicious"), "Malicious");
  EXPECT_EQ(MatchEnum(values, " MALICIOUS & suspicious "), "Malicious & Suspicious");
  EXPECT_EQ(MatchEnum(values, "Clean"), std::nullopt);
}

TEST(ConfigValues, HttpsUrlIsAcceptedAndTrailingSlashesRemoved) {
  EXPECT_EQ(CheckUrl("https://eu.cloud.vmray.com/").value(), "https://eu.cloud.vmray.com");
  EXPECT_EQ(CheckUrl("https://vmray.example:8443/base//").value(),
            "https://vmray.example:8443/base");
  EXPECT_EQ(CheckUrl("HTTPS://login.microsoftonline.us").value(),
            "HTTPS://login.microsoftonline.us");
}

TEST(ConfigValues, PlainHttpOnlyForLoopback) {
  EXPECT_EQ(CheckUrl("http://127.0.0.1:8080").value(), "http://127.0.0.1:8080");
  EXPECT_EQ(CheckUrl("http://localhost:1234/api").value(), "http://localhost:1234/api");
  EXPECT_EQ(CheckUrl("http://[::1]:9000").value(), "http://[::1]:9000");
  auto refused = CheckUrl("http://vmray.example.com");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("loopback"), std::string::npos);
  EXPECT_NE(refused.error().message.find("clear text"), std::string::npos);
  EXPECT_NE(refused.error().message.find("http://vmray.example.com"), std::string::npos);
  EXPECT_FALSE(CheckUrl("http://127.0.0.2.example.com").has_value());
}

TEST(ConfigValues, MalformedUrlsAreRefused) {
  for (const char* bad :
       {"eu.cloud.vmray.com", "ftp://host", "https://", "https:///path", "https://host:0",
        "https://host:99999", "https://host:abc", "https://host?x=1", "https://host/p#frag",
        "https://[::1", "https://ho st"}) {
    EXPECT_FALSE(CheckUrl(bad).has_value()) << bad;
  }
}

TEST(ConfigValues, CredentialsInUrlAreRefusedWithoutRepeatingThem) {
  auto refused = CheckUrl("https://user:DO-NOT-LOG-pw@host.example");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message.find("DO-NOT-LOG"), std::string::npos);
  EXPECT_NE(refused.error().message.find("user name or password"), std::string::npos);
}

TEST(ConfigValues, TomlRenderingRoundTrips) {
  EXPECT_EQ(ToTomlText(Value(std::string("a \"q\" \\ b"))), R"("a \"q\" \\ b")");
  EXPECT_EQ(ToTomlText(Value(true)), "true");
  EXPECT_EQ(ToTomlText(Value(int64_t{-3})), "-3");
  EXPECT_EQ(ToTomlText(Value(Strings{"New", "InProgress"})), R"(["New", "InProgress"])");
  EXPECT_EQ(ToTomlText(Value(Strings{})), "[]");
}

TEST(ConfigValues, ShownValuesAreShortenedAndControlCharsMasked) {
  const KeySpec* spec = FindKey("log.format");
  auto result = ValueFromText(*spec, std::string(200, 'x') + "\x1b[31m");
  ASSERT_FALSE(result.has_value());
  EXPECT_LT(result.error().message.size(), 200u);
  EXPECT_EQ(result.error().message.find('\x1b'), std::string::npos);
}

TEST(ConfigEditDistance, CountsTranspositionsAsOneEdit) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("vmray", "vmary"), 1u);
  EXPECT_EQ(EditDistance("poll_intervall_seconds", "poll_interval_seconds"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("VmrayApiMaxRetry", "VmrayAPIMaxRetry"), 2u);  // case-sensitive
  EXPECT_EQ(EditDistance("ca", "abc"), 3u);  // optimal string alignment, not full DL
}

TEST(ConfigEditDistance, ClosestPrefersSmallestThenFirst) {
  std::vector<std::string> names = {"workers", "lease_seconds", "worker"};
  EXPECT_EQ(Closest("workerz", names, 2)->name, "workers");
  EXPECT_EQ(Closest("lease_second", names, 1)->name, "lease_seconds");
  EXPECT_EQ(Closest("unrelated", names, 2), std::nullopt);
}

}  // namespace
}  // namespace vc::config
