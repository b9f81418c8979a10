// The VMRay emulator's generated backlog (seed "generate", the TI feed benchmark's input): the
// feed maps every generated IOC (nothing left out or rejected, IPv6, ports and quotes included),
// the same seed gives the same samples, and a bad spec changes nothing and says what is wrong.
#include <gmock/gmock.h>

#include "sentinel_feed/feed_fixture.hpp"

namespace vc::sentinel_feed::testing {
namespace {

using ::testing::HasSubstr;

Json Generate(int count) {
  return {{"vmray",
           {{"generate",
             {{"count", count},
              {"iocs_per_sample", 10},
              {"seed", 3},
              {"from", "2026-02-27T00:00:00"},
              {"to", "2026-02-28T23:00:00"}}}}}};
}

TEST_F(FeedTest, GeneratedBacklogIsMappedWithoutLoss) {
  ASSERT_FALSE(emulators_->Seed(Generate(40)));
  FeedOptions o;
  o.verdicts = {"malicious", "suspicious"};
  o.initial_fetch_days = 3;
  auto summary = Runner(o).RunOnce();
  ASSERT_TRUE(summary) << summary.error().ToString();
  // A sample finishing in a window's boundary second is read by both windows (read twice
  // rather than never); every generated one is read.
  EXPECT_GE(summary->submissions, 40);
  EXPECT_LE(summary->submissions, 42);
  EXPECT_EQ(emulators_->vmray().CountCalls("GET", "^/rest/sample/[0-9]+/iocs$"),
            static_cast<size_t>(summary->samples));
  EXPECT_EQ(summary->skipped, 0);
  EXPECT_EQ(summary->rejected, 0);
  // 10 IOC entries a sample: 4 domains, 2 IPs, 3 URLs and a file with 3 hashes; family C2
  // domains repeat across samples and are uploaded once.
  const auto objects = Objects();
  // Per-window counts: an indicator of two windows is uploaded (updated) twice.
  EXPECT_LE(static_cast<int64_t>(objects.size()), summary->indicators);
  EXPECT_EQ(summary->uploaded, summary->indicators);
  EXPECT_GT(objects.size(), 40u * 10);
  EXPECT_LE(objects.size(), 40u * 12);
  bool ipv6 = false, quote = false, sha256 = false;
  for (const auto& [id, object] : objects) {
    const std::string pattern = object["pattern"];
    ipv6 = ipv6 || pattern.rfind("[ipv6-addr:value = '2a03:b0c0:", 0) == 0;
    quote = quote || pattern.find("o\\'brien") != std::string::npos;
    sha256 = sha256 || pattern.rfind("[file:hashes.'SHA-256' = '", 0) == 0;
    const std::string_view v4 = "[ipv4-addr:value = '";
    if (pattern.rfind(v4, 0) == 0) {
      EXPECT_EQ(pattern.find(':', v4.size()), std::string::npos) << "port kept: " << pattern;
    }
  }
  EXPECT_TRUE(ipv6);
  EXPECT_TRUE(quote);
  EXPECT_TRUE(sha256);
}

TEST_F(FeedTest, GeneratorIsDeterministicAndRejectsABadSpec) {
  ASSERT_FALSE(emulators_->Seed(Generate(5)));
  ASSERT_FALSE(emulators_->Seed(Generate(5)));
  const Json state = emulators_->vmray().StateJson();
  // Same seed, same files: a second submission of each of the 5 samples.
  EXPECT_EQ(state["samples"].size(), 5u);
  EXPECT_EQ(state["submissions"].size(), 10u);

  auto problem = emulators_->Seed({{"vmray", {{"generate", {{"count", 0}}}}}});
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("seed.generate.count"));
  problem = emulators_->Seed({{"vmray", {{"generate", {{"count", 3}, {"bogus", 1}}}}}});
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("unknown key 'bogus'"));
  problem = emulators_->Seed({{"vmray", {{"generate", {{"count", 3}, {"from", "2026-03-01"}}}}}});
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("seed.generate.from"));
  EXPECT_EQ(emulators_->vmray().StateJson()["samples"].size(), 5u);
}

}  // namespace
}  // namespace vc::sentinel_feed::testing
