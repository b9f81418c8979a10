// VMRay IOCs -> STIX 2.1 indicators (stix_mapping.hpp): ids as the original computed them,
// escaped patterns, ports stripped, integer confidence, labels, report link, expiry, the
// verdict filter, the allow-list and the reasons for values left out.
#include "pipelines/sentinel_feed/stix_mapping.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/time.hpp"

namespace vc::sentinel_feed {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

defender::AllowList Builtin() {
  auto list = defender::AllowList::Build({});
  EXPECT_TRUE(list);
  return *list;
}

StixOptions Options(std::vector<std::string> verdicts = {"malicious", "suspicious"}) {
  StixOptions o;
  o.vmray_base_url = "https://eu.cloud.vmray.com/";
  o.verdicts = std::move(verdicts);
  o.expiration_days = 30;
  o.now = *ParseIso8601("2026-03-01T10:20:30.456Z");
  return o;
}

const SampleRef kSample{4711, 9001};

Json Domain(const std::string& value, const std::string& verdict = "malicious") {
  return {{"domain", value}, {"verdict", verdict}, {"ioc_type", "domain"}};
}

const Json* Find(const StixMapping& m, const std::string& key) {
  for (const auto& i : m.indicators) {
    if (i.key == key) return &i.object;
  }
  return nullptr;
}

TEST(StixMapping, IdsAreTheOriginalsUuid5) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "VMRay") and the example of the reference.
  EXPECT_EQ(Uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "VMRay"), kVmrayNamespace);
  EXPECT_EQ(StixIndicatorId("domain:example.com"),
            "indicator--4ace2095-44c6-5a74-ac18-77ecaf65f5fc");
  EXPECT_EQ(StixIndicatorId("ip:1.2.3.4"), "indicator--c1c65641-d832-5a68-b8c2-bd93142b3f0b");
  EXPECT_EQ(StixIndicatorId("file:" + std::string(64, 'a')),
            "indicator--e9b4893c-7ab4-58df-a191-9e3c2ba7ed8b");
}

TEST(StixMapping, DomainBecomesTheHandCheckedObject) {
  Json d = Domain("Example.COM");
  d["analysis_ids"] = {1484, 1485};
  d["threat_names"] = {"Emotet", "Gen:Variant.Ulise.379246"};
  d["classifications"] = {"Downloader", "Trojan"};
  const StixMapping m =
      MapIocsToStix(Json{{"iocs", {{"domains", {d}}}}}, kSample, Options(), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(1));
  const Json expected = Json::parse(R"({
    "type": "indicator", "spec_version": "2.1",
    "id": "indicator--4ace2095-44c6-5a74-ac18-77ecaf65f5fc",
    "created": "2026-03-01T10:20:30.456Z", "modified": "2026-03-01T10:20:30.456Z",
    "valid_from": "2026-03-01T10:20:30.456Z", "valid_until": "2026-03-31T10:20:30Z",
    "revoked": false,
    "labels": ["sample_id: 4711", "submission_id: 9001",
               "threat_names: Emotet, Gen:Variant.Ulise.379246",
               "Classifications: Downloader, Trojan"],
    "confidence": 100,
    "external_references": [{"source_name": "VMRay Threat Intelligence",
                             "description": "Sample ID 4711\nSubmission ID 9001",
                             "url": "https://eu.cloud.vmray.com/sample/4711#summary"}],
    "name": "domain",
    "description": "Sample URL: https://eu.cloud.vmray.com/sample/4711#summary,\nAnalysis IDs: 1484, 1485,\nCategories: ",
    "indicator_types": ["domain"],
    "pattern": "[domain-name:value = 'example.com']",
    "pattern_type": "stix", "pattern_version": "2.1"
  })");
  EXPECT_EQ(m.indicators[0].object, expected) << m.indicators[0].object.dump(2);
  EXPECT_EQ(m.indicators[0].key, "domain:example.com");
  EXPECT_THAT(m.skipped, IsEmpty());
}

TEST(StixMapping, IpsV4AndV6WithPortsStrippedAndPrivateOnesLeftOut) {
  const Json iocs = {{"ips",
                      {{{"ip_address", "8.8.4.4:8080"}, {"verdict", "suspicious"}},
                       {{"ip_address", "[2606:4700:0::6810:1]:443"}, {"verdict", "malicious"}},
                       {{"ip_address", "2606:4700::6810:2"}, {"verdict", "malicious"}},
                       {{"ip_address", "10.1.2.3"}, {"verdict", "malicious"}},
                       {{"ip_address", "1.2.3.4:80x"}, {"verdict", "malicious"}}}}};
  const StixMapping m = MapIocsToStix(iocs, kSample, Options(), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(3));
  const Json* v4 = Find(m, "ip:8.8.4.4");
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ((*v4)["pattern"], "[ipv4-addr:value = '8.8.4.4']");
  EXPECT_EQ((*v4)["confidence"], 75);
  EXPECT_TRUE((*v4)["confidence"].is_number_integer());
  EXPECT_EQ((*v4)["indicator_types"], Json::array({"ip"}));
  const Json* v6 = Find(m, "ip:2606:4700::6810:1");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ((*v6)["pattern"], "[ipv6-addr:value = '2606:4700::6810:1']");
  EXPECT_NE(Find(m, "ip:2606:4700::6810:2"), nullptr);
  ASSERT_THAT(m.skipped, SizeIs(2));
  EXPECT_EQ(m.skipped[0].reason, "private_ip");
  EXPECT_EQ(m.skipped[1].reason, "invalid_ip");
  EXPECT_EQ(m.skipped[1].value, "1.2.3.4:80x");
}

TEST(StixMapping, UrlValuesAreEscapedNotRefused) {
  const std::string nasty = "http://evil.example/a b/it's\\x?q=\xc3\xa4\xe2\x82\xac";
  const Json iocs = {{"urls",
                      {{{"url", nasty}, {"verdict", "malicious"}, {"ioc_type", "url"}},
                       {{"url", "https://update.microsoft.com/x"}, {"verdict", "malicious"}},
                       {{"url", "http://bad.example/\x01"}, {"verdict", "malicious"}}}}};
  const StixMapping m = MapIocsToStix(iocs, kSample, Options(), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(1));
  EXPECT_EQ(m.indicators[0].object["pattern"],
            "[url:value = 'http://evil.example/a b/it\\'s\\\\x?q=\xc3\xa4\xe2\x82\xac']");
  EXPECT_EQ(m.indicators[0].object["id"], StixIndicatorId("url:" + nasty));
  // The body must survive serialisation (valid UTF-8) and parse back to the same pattern.
  EXPECT_EQ(Json::parse(m.indicators[0].object.dump())["pattern"],
            m.indicators[0].object["pattern"]);
  ASSERT_THAT(m.skipped, SizeIs(2));
  EXPECT_EQ(m.skipped[0].reason, "allow_listed_domain");
  EXPECT_EQ(m.skipped[1].reason, "invalid_url");
}

TEST(StixMapping, DomainsWithQuotesAreRefusedAndUnicodeNamesKept) {
  const Json iocs = {{"domains",
                      {Domain("evil'.example"),
                       Domain("b\xc3\xbc"
                              "cher.example"),
                       Domain("two words.example"), Domain("login.microsoftonline.com")}}};
  const StixMapping m = MapIocsToStix(iocs, kSample, Options(), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(1));
  EXPECT_EQ(m.indicators[0].object["pattern"],
            "[domain-name:value = 'b\xc3\xbc"
            "cher.example']");
  ASSERT_THAT(m.skipped, SizeIs(3));
  EXPECT_EQ(m.skipped[0].reason, "invalid_domain");
  EXPECT_EQ(m.skipped[1].reason, "invalid_domain");
  EXPECT_EQ(m.skipped[2].reason, "allow_listed_domain");
}

TEST(StixMapping, FilesGiveOneIndicatorPerHashNamedByFilename) {
  const std::string md5(32, 'A'), sha1(40, 'b'), sha256(64, 'c');
  const Json iocs = {
      {"files",
       {{{"filename", "drop.exe"},
         {"verdict", "malicious"},
         {"ioc_type", "file"},
         {"hashes",
          {{{"md5_hash", md5},
            {"sha1_hash", sha1},
            {"sha256_hash", sha256},
            {"ssdeep_hash", "3:x"}}}}},
        {{"filename", nullptr}, {"verdict", "malicious"}, {"hashes", {{{"md5_hash", "xyz"}}}}},
        {{"filename", "nohash.bin"}, {"verdict", "malicious"}}}}};
  const StixMapping m = MapIocsToStix(iocs, kSample, Options(), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(3));
  const Json* a = Find(m, "file:" + std::string(32, 'a'));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ((*a)["pattern"], "[file:hashes.'MD5' = '" + std::string(32, 'a') + "']");
  EXPECT_EQ((*a)["name"], "drop.exe");
  EXPECT_EQ((*Find(m, "file:" + sha1))["pattern"], "[file:hashes.'SHA-1' = '" + sha1 + "']");
  EXPECT_EQ((*Find(m, "file:" + sha256))["pattern"], "[file:hashes.'SHA-256' = '" + sha256 + "']");
  ASSERT_THAT(m.skipped, SizeIs(2));
  EXPECT_EQ(m.skipped[0].reason, "invalid_hash");
  EXPECT_EQ(m.skipped[1].reason, "no_hashes");
  EXPECT_EQ(m.skipped[1].value, "nohash.bin");
}

TEST(StixMapping, OnlyTheSelectedVerdictsAndNoErrorForMissingFamilies) {
  const Json iocs = {{"domains",
                      {Domain("a.example", "malicious"), Domain("b.example", "suspicious"),
                       Domain("c.example", "clean"), Domain("d.example", "not_available")}},
                     {"mutexes", {{{"mutex_name", "x"}, {"verdict", "malicious"}}}},
                     {"ips", nullptr}};
  const StixMapping m = MapIocsToStix(iocs, kSample, Options({"malicious"}), Builtin());
  ASSERT_THAT(m.indicators, SizeIs(1));
  EXPECT_EQ(m.indicators[0].key, "domain:a.example");
  EXPECT_THAT(MapIocsToStix(Json::object(), kSample, Options(), Builtin()).indicators, IsEmpty());
  EXPECT_THAT(MapIocsToStix(Json(nullptr), kSample, Options(), Builtin()).indicators, IsEmpty());
  // The whole envelope is accepted too.
  const Json envelope = {{"result", "ok"}, {"data", {{"status", "finished"}, {"iocs", iocs}}}};
  EXPECT_THAT(MapIocsToStix(envelope, kSample, Options({"malicious"}), Builtin()).indicators,
              SizeIs(1));
}

TEST(StixMapping, SameValueTwiceIsMergedAndRevokedIsCarried) {
  Json first = Domain("a.example", "suspicious");
  first["threat_names"] = {"X"};
  Json second = Domain("A.example.", "malicious");
  second["threat_names"] = {"Y"};
  StixOptions options = Options();
  options.revoked = true;
  const StixMapping m =
      MapIocsToStix(Json{{"domains", {first, second}}}, kSample, options, Builtin());
  ASSERT_THAT(m.indicators, SizeIs(1));
  const Json& o = m.indicators[0].object;
  EXPECT_EQ(o["confidence"], 100);
  EXPECT_EQ(o["revoked"], true);
  EXPECT_THAT(
      o["labels"].get<std::vector<std::string>>(),
      ElementsAre("sample_id: 4711", "submission_id: 9001", "threat_names: X", "threat_names: Y"));
}

TEST(StixMapping, EscapeDoublesBackslashesAndQuotesOnly) {
  EXPECT_EQ(EscapeStixString(R"(a'b\c"d e)"), R"(a\'b\\c"d e)");
  EXPECT_EQ(EscapeStixString(""), "");
}

}  // namespace
}  // namespace vc::sentinel_feed
