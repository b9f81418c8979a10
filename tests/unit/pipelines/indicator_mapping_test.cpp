// VMRay IOCs -> MDE indicator bodies (indicator_mapping.hpp): types, actions per type x
// verdict, severity, expiry, generateAlert, description, validation and the allow-list.
#include "pipelines/defender_alerts/indicator_mapping.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/time.hpp"

namespace vc::defender {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const std::string kSha(64, 'a');

Json Iocs(const std::string& verdict) {
  return {
      {"iocs",
       {{"files", Json::array({{{"verdict", verdict},
                                {"hashes", Json::array({{{"sha256_hash", std::string(64, 'B')},
                                                         {"md5_hash", "x"}}})}}})},
        {"ips", Json::array(
                    {{{"verdict", verdict},
                      {"ip_address", "8.8.4.4"},
                      {"domains", Json::array({"c2.evil-example.net", "update.microsoft.com"})}}})},
        {"urls", Json::array({{{"verdict", verdict},
                               {"original_urls",
                                Json::array({"http://User@Gate.Evil-Example.NET:8080/a.php?x=1",
                                             "https://[2606:4700::6810:1]/p"})}}})},
        {"domains", Json::array()}}}};
}

IndicatorContext Context() {
  return {"da637", kSha, "https://vmray.example/samples/1", *ParseIso8601("2026-01-01T00:00:00Z")};
}

AllowList Builtin() {
  auto list = AllowList::Build({});
  EXPECT_TRUE(list);
  return *list;
}

const IndicatorCandidate* Find(const MappedIndicators& m, const std::string& value) {
  for (const auto& c : m.indicators) {
    if (c.value == value) return &c;
  }
  return nullptr;
}

TEST(IndicatorMapping, MaliciousIocsBecomeTypedIndicatorsWithTheOriginalsFields) {
  const MappedIndicators m =
      MapIocs(Iocs("malicious"), {"malicious"}, Context(), IndicatorSettings{}, Builtin());
  const IndicatorCandidate* file = Find(m, std::string(64, 'b'));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->type, "FileSha256");
  EXPECT_EQ(file->body["action"], "Block");
  EXPECT_EQ(file->body["severity"], "High");
  EXPECT_EQ(file->body["generateAlert"], false);
  EXPECT_EQ(file->body["application"], "VMRayDefenderFoEndpointConnectorApp");
  EXPECT_EQ(file->body["expirationTime"], "2026-01-31T00:00:00Z");
  EXPECT_THAT(file->body["title"].get<std::string>(), HasSubstr("da637"));
  const std::string description = file->body["description"];
  EXPECT_THAT(description, HasSubstr("Alert ID: da637"));
  EXPECT_THAT(description, HasSubstr(kSha));
  EXPECT_THAT(description, HasSubstr("https://vmray.example/samples/1"));

  const IndicatorCandidate* ip = Find(m, "8.8.4.4");
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->type, "IpAddress");
  EXPECT_EQ(ip->body["action"], "Block");
  ASSERT_NE(Find(m, "c2.evil-example.net"), nullptr);
  EXPECT_EQ(Find(m, "c2.evil-example.net")->type, "DomainName");
  // URLs are reduced to their hosts, lower-cased, without credentials or port.
  ASSERT_NE(Find(m, "gate.evil-example.net"), nullptr);
  ASSERT_NE(Find(m, "2606:4700::6810:1"), nullptr);
  EXPECT_EQ(Find(m, "2606:4700::6810:1")->type, "IpAddress");
  // No Url indicators unless asked for.
  for (const auto& c : m.indicators) EXPECT_NE(c.type, "Url");
  EXPECT_THAT(m.indicators, SizeIs(5));
  // The Microsoft domain is left out with its reason.
  ASSERT_THAT(m.skipped, SizeIs(1));
  EXPECT_EQ(m.skipped[0].value, "update.microsoft.com");
  EXPECT_EQ(m.skipped[0].reason, "allow_listed_domain");
}

TEST(IndicatorMapping, SuspiciousUsesItsActionsMediumSeverityAndAuditForcesAnAlert) {
  IndicatorSettings s;
  s.action_suspicious_file = "Warn";
  s.action_suspicious_network = "Audit";
  s.expiration_days = 7;
  const MappedIndicators m =
      MapIocs(Iocs("suspicious"), {"malicious", "suspicious"}, Context(), s, Builtin());
  const IndicatorCandidate* file = Find(m, std::string(64, 'b'));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->body["action"], "Warn");
  EXPECT_EQ(file->body["severity"], "Medium");
  EXPECT_EQ(file->body["generateAlert"], false);
  EXPECT_EQ(file->body["expirationTime"], "2026-01-08T00:00:00Z");
  const IndicatorCandidate* ip = Find(m, "8.8.4.4");
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->body["action"], "Audit");
  EXPECT_EQ(ip->body["generateAlert"], true);
  // DefenderIndicatorAlert on: every indicator asks for an alert.
  s.generate_alert = true;
  const MappedIndicators all = MapIocs(Iocs("suspicious"), {"suspicious"}, Context(), s, Builtin());
  for (const auto& c : all.indicators) EXPECT_EQ(c.body["generateAlert"], true) << c.value;
}

TEST(IndicatorMapping, VerdictsNotConfiguredOrNotDetectionsGiveNothing) {
  EXPECT_THAT(MapIocs(Iocs("suspicious"), {"malicious"}, Context(), IndicatorSettings{}, Builtin())
                  .indicators,
              SizeIs(0));
  EXPECT_THAT(
      MapIocs(Iocs("clean"), {"malicious", "suspicious"}, Context(), IndicatorSettings{}, Builtin())
          .indicators,
      SizeIs(0));
  EXPECT_THAT(
      MapIocs(Json::array(), {"malicious"}, Context(), IndicatorSettings{}, Builtin()).indicators,
      SizeIs(0));
}

TEST(IndicatorMapping, UrlIndicatorsWhenAskedForAndOnlyForValidNonAllowListedUrls) {
  IndicatorSettings s;
  s.url_indicators = true;
  Json iocs = Iocs("malicious");
  iocs["iocs"]["urls"][0]["original_urls"].push_back("https://www.microsoft.com/x");
  iocs["iocs"]["urls"][0]["original_urls"].push_back("javascript:alert(1)");
  const MappedIndicators m = MapIocs(iocs, {"malicious"}, Context(), s, Builtin());
  ASSERT_NE(Find(m, "http://User@Gate.Evil-Example.NET:8080/a.php?x=1"), nullptr);
  EXPECT_EQ(Find(m, "http://User@Gate.Evil-Example.NET:8080/a.php?x=1")->type, "Url");
  EXPECT_EQ(Find(m, "https://www.microsoft.com/x"), nullptr);
  bool invalid_reported = false;
  for (const auto& sk : m.skipped)
    invalid_reported |= sk.reason == "invalid_url" || sk.reason == "invalid_domain";
  EXPECT_TRUE(invalid_reported);
}

TEST(IndicatorMapping, InvalidValuesAreSkippedWithAReason) {
  Json iocs = {
      {"files",
       Json::array({{{"verdict", "malicious"},
                     {"hashes", Json::array({{{"sha256_hash", "abc"}}, {{"sha256_hash", 42}}})}}})},
      {"ips", Json::array(
                  {{{"verdict", "malicious"},
                    {"ip_address", "999.1.1.1"},
                    {"domains", Json::array({"-bad-.example", "localhost", "a..b.example",
                                             "ex ample.com", std::string(300, 'a') + ".com"})}}})}};
  const MappedIndicators m =
      MapIocs(iocs, {"malicious"}, Context(), IndicatorSettings{}, Builtin());
  EXPECT_THAT(m.indicators, SizeIs(0));
  std::map<std::string, int> reasons;
  for (const auto& s : m.skipped) ++reasons[s.reason];
  EXPECT_EQ(reasons["invalid_hash"], 1);
  EXPECT_EQ(reasons["invalid_ip"], 1);
  EXPECT_EQ(reasons["invalid_domain"], 5);
  for (const auto& s : m.skipped) EXPECT_LE(s.value.size(), 200u);
  for (const auto& s : m.skipped) {
    EXPECT_NE(std::find(SkipReasons().begin(), SkipReasons().end(), s.reason), SkipReasons().end())
        << s.reason;
  }
}

TEST(IndicatorMapping, ValueSeenTwiceIsOneIndicatorAtItsMostSevereVerdict) {
  Json iocs = {{"ips", Json::array({{{"verdict", "suspicious"}, {"ip_address", "8.8.4.4"}},
                                    {{"verdict", "malicious"}, {"ip_address", "8.8.4.4"}},
                                    {{"verdict", "suspicious"}, {"ip_address", "9.9.9.9"}}})}};
  const MappedIndicators m =
      MapIocs(iocs, {"malicious", "suspicious"}, Context(), IndicatorSettings{}, Builtin());
  ASSERT_THAT(m.indicators, SizeIs(2));
  EXPECT_EQ(Find(m, "8.8.4.4")->severity, "High");
  EXPECT_EQ(Find(m, "9.9.9.9")->severity, "Medium");
}

TEST(AllowListTest, BuiltinRangesAndDomainsWithReasons) {
  const AllowList list = Builtin();
  EXPECT_EQ(list.IpReason("10.1.2.3"), "private_ip");
  EXPECT_EQ(list.IpReason("172.31.255.255"), "private_ip");
  EXPECT_EQ(list.IpReason("192.168.0.1"), "private_ip");
  EXPECT_EQ(list.IpReason("127.0.0.1"), "loopback_ip");
  EXPECT_EQ(list.IpReason("::1"), "loopback_ip");
  EXPECT_EQ(list.IpReason("169.254.1.1"), "link_local_ip");
  EXPECT_EQ(list.IpReason("fe80::1"), "link_local_ip");
  EXPECT_EQ(list.IpReason("224.0.0.251"), "multicast_ip");
  EXPECT_EQ(list.IpReason("ff02::1"), "multicast_ip");
  EXPECT_EQ(list.IpReason("198.51.100.7"), "reserved_ip");
  EXPECT_EQ(list.IpReason("2001:db8::1"), "reserved_ip");
  EXPECT_EQ(list.IpReason("255.255.255.255"), "reserved_ip");
  EXPECT_EQ(list.IpReason("fd00::1"), "private_ip");
  EXPECT_EQ(list.IpReason("8.8.8.8"), std::nullopt);
  EXPECT_EQ(list.IpReason("172.32.0.1"), std::nullopt);
  EXPECT_EQ(list.IpReason("2606:4700::1"), std::nullopt);
  for (const char* d :
       {"microsoft.com", "download.windowsupdate.com", "x.azureedge.net", "foo.azurewebsites.net",
        "a248.e.akamai.net", "e1.akamaiedge.net", "cdnjs.cloudflare.com", "s3.amazonaws.com",
        "fonts.gstatic.com", "www.googleapis.com", "apple.com"}) {
    EXPECT_EQ(list.DomainReason(d), "allow_listed_domain") << d;
  }
  for (const char* d :
       {"evil-microsoft.com", "microsoft.com.evil.example", "notapple.com", "c2.example.net"}) {
    EXPECT_EQ(list.DomainReason(d), std::nullopt) << d;
  }
}

TEST(AllowListTest, UserEntriesExtendItAndBadOnesAreNamed) {
  auto list = AllowList::Build({"contoso.com", "*.fabrikam.net", "cdn*.example.org", "203.0.114.7",
                                "100.100.0.0/16", "2a00:1450::/32", " "});
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->DomainReason("www.contoso.com"), "allow_listed_domain");
  EXPECT_EQ(list->DomainReason("fabrikam.net"), "allow_listed_domain");
  EXPECT_EQ(list->DomainReason("cdn7.example.org"), "allow_listed_domain");
  EXPECT_EQ(list->DomainReason("x.cdn7.example.org"), "allow_listed_domain");
  EXPECT_EQ(list->DomainReason("www.example.org"), std::nullopt);
  EXPECT_EQ(list->IpReason("203.0.114.7"), "allow_listed_ip");
  EXPECT_EQ(list->IpReason("203.0.114.8"), std::nullopt);
  EXPECT_EQ(list->IpReason("2a00:1450:4001::5"), "allow_listed_ip");
  // 100.100.x is inside the built-in shared range: the built-in reason wins.
  EXPECT_EQ(list->IpReason("100.100.1.1"), "private_ip");
  for (const std::string bad : {"10.0.0.0/33", "not a domain", "1.2.3", "http://x.com"}) {
    auto r = AllowList::Build({bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("defender.indicators.allow_list")) << bad;
    EXPECT_THAT(r.error().message, HasSubstr(bad)) << bad;
  }
}

TEST(AllowListTest, ValueNormalisers) {
  EXPECT_EQ(NormalizeSha256(std::string(64, 'F')), std::string(64, 'f'));
  EXPECT_EQ(NormalizeSha256(std::string(63, 'f')), std::nullopt);
  EXPECT_EQ(NormalizeIp("2001:0DB8:0000::0001"), "2001:db8::1");
  EXPECT_EQ(NormalizeIp("1.2.3.04"), std::nullopt);
  EXPECT_EQ(NormalizeDomain("Evil.Example."), "evil.example");
  EXPECT_EQ(NormalizeDomain("1.2.3.4"), std::nullopt);
  EXPECT_EQ(NormalizeDomain("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(NormalizeDomain("bücher.example"), std::nullopt);
  EXPECT_EQ(UrlHost("https://user:pw@[::1]:443/x"), "::1");
  EXPECT_EQ(UrlHost("evil.example/path"), "evil.example");
  EXPECT_EQ(NormalizeUrl("http://evil.example/a b"), std::nullopt);
  EXPECT_EQ(NormalizeUrl("ftp://evil.example/"), std::nullopt);
  EXPECT_EQ(NormalizeUrl("https://evil.example/a"), "https://evil.example/a");
}

}  // namespace
}  // namespace vc::defender
