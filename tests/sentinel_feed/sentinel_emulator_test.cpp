// The Sentinel emulator's validator (what the service refuses) and the feed's mapping checked
// against it: every object the mapping builds from awkward values is one the service accepts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/time.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"
#include "sentinel_emulator.hpp"

namespace vc::emu {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(SentinelEmulatorPatterns, AcceptsStixComparisonsAndRefusesBrokenOnes) {
  for (const char* ok : {"[domain-name:value = 'a.example']", "[file:hashes.'SHA-256' = 'abc']",
                         "[url:value = 'http://x/it\\'s \\\\ here']",
                         "[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '1.2.3.5']",
                         "[a:b = 'x'] AND [c:d != 'y']"}) {
    EXPECT_EQ(SentinelEmulator::PatternProblem(ok), "") << ok;
  }
  for (const char* bad :
       {"domain-name:value = 'a'", "[domain-name:value = 'it's']", "[url:value = 'a\\b']",
        "[url:value = 'open", "[value = 'x']", "[a:b 'x']", "[a:b = 'x'] junk"}) {
    EXPECT_NE(SentinelEmulator::PatternProblem(bad), "") << bad;
  }
}

TEST(SentinelEmulatorPatterns, ObjectValidationNamesTheProperty) {
  const Json o = {{"type", "indicator"},
                  {"id", "indicator--4ace2095-44c6-5a74-ac18-77ecaf65f5fc"},
                  {"created", "2026-03-01T10:00:00.000Z"},
                  {"modified", "2026-03-01T10:00:00Z"},
                  {"valid_from", "2026-03-01T10:00:00Z"},
                  {"valid_until", "2026-02-01T10:00:00Z"},
                  {"pattern_type", "stix"},
                  {"confidence", 101}};
  const auto problems = SentinelEmulator::ValidateObject(o);
  ASSERT_THAT(problems, SizeIs(3));
  EXPECT_THAT(problems[0], HasSubstr("Property=valid_until"));
  EXPECT_THAT(problems[1], HasSubstr("Property=pattern: Required property is missing"));
  EXPECT_THAT(problems[2], HasSubstr("Property=confidence"));
}

TEST(SentinelEmulatorPatterns, EveryMappedObjectIsValid) {
  using namespace vc::sentinel_feed;
  auto allow = defender::AllowList::Build({});
  ASSERT_TRUE(allow);
  StixOptions options;
  options.vmray_base_url = "https://eu.cloud.vmray.com";
  options.verdicts = {"malicious", "suspicious"};
  options.now = *ParseIso8601("2026-03-01T10:00:00Z");
  const Json iocs = {
      {"urls",
       {{{"url", "http://e.example/'\\ \" \xe2\x82\xac"}, {"verdict", "malicious"}},
        {{"url", "https://e.example/%27%5C"}, {"verdict", "suspicious"}}}},
      {"domains", {{{"domain", "x\xc3\xa9.example"}, {"verdict", "malicious"}}}},
      {"ips", {{{"ip_address", "[2606:4700::1]:80"}, {"verdict", "malicious"}}}},
      {"files",
       {{{"filename", "it's.exe"},
         {"verdict", "malicious"},
         {"hashes",
          {{{"md5_hash", std::string(32, 'a')}, {"sha1_hash", std::string(40, 'b')}}}}}}}};
  const StixMapping m = MapIocsToStix(iocs, {1, 2}, options, *allow);
  ASSERT_THAT(m.indicators, SizeIs(6));
  for (const auto& i : m.indicators) {
    EXPECT_THAT(SentinelEmulator::ValidateObject(i.object), IsEmpty()) << i.object.dump();
  }
}

}  // namespace
}  // namespace vc::emu
