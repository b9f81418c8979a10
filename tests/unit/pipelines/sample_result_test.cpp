// The cached sample result with its child samples: Dump/Parse and the alert comment built from it.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipelines/defender_alerts/sample_result.hpp"

namespace vc::defender {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Hex(char c) {
  return std::string(64, c);
}

ChildSampleResult Child(int64_t id, int64_t parent, char hex, const std::string& verdict) {
  ChildSampleResult c;
  c.sample_id = id;
  c.parent_sample_id = parent;
  c.sha256 = Hex(hex);
  c.verdict = verdict;
  c.webif_url = "https://vmray.example/user/sample/view?id=" + std::to_string(id);
  return c;
}

SampleResult Parent() {
  SampleResult r;
  r.sample_id = 10;
  r.submission_id = 7;
  r.sha256 = Hex('a');
  r.verdict = "malicious";
  r.webif_url = "https://vmray.example/user/sample/view?id=10";
  r.classifications = {"Dropper"};
  r.threat_names = {"Mal/Generic-S"};
  r.vtis = {{"Persistence", "Installs itself for autorun", 4, {}}};
  r.analysed_at = FromUnixMillis(1'700'000'000'000);
  return r;
}

TEST(SampleResultChildren, DumpAndParseKeepTheChildren) {
  SampleResult r = Parent();
  ChildSampleResult c = Child(11, 10, 'b', "malicious");
  c.classifications = {"Trojan"};
  c.threat_names = {"Trojan.Agent"};
  c.vtis = {{"Network", "Connects to a C2 server", 5, {}}, {"Files", "Drops a file", 2, {}}};
  r.children.push_back(c);
  r.children.push_back(Child(12, 11, 'c', "clean"));
  r.children_not_read = 3;
  r.child_notes = {"Child sample 13 was skipped: VMRay no longer has it."};

  auto parsed = SampleResult::Parse(r.Dump());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->Dump(), r.Dump());
  ASSERT_EQ(parsed->children.size(), 2u);
  EXPECT_EQ(parsed->children[0].sha256, Hex('b'));
  EXPECT_EQ(parsed->children[0].threat_names, std::vector<std::string>{"Trojan.Agent"});
  ASSERT_EQ(parsed->children[0].vtis.size(), 2u);
  EXPECT_EQ(parsed->children[0].vtis[0].operation, "Connects to a C2 server");
  EXPECT_EQ(parsed->children[1].parent_sample_id, 11);
  EXPECT_EQ(parsed->children_not_read, 3);
  EXPECT_EQ(parsed->child_notes, r.child_notes);
  EXPECT_EQ(BuildAlertComment(*parsed), BuildAlertComment(r));
}

TEST(SampleResultChildren, RowsCachedBeforeChildrenStillParse) {
  const std::string old_row =
      R"({"sample_id":10,"submission_id":7,"sha256":")" + Hex('a') +
      R"(","verdict":"malicious","webif_url":"u","classifications":[],"threat_names":["X"],)"
      R"("vtis":[{"category":"c","operation":"op","score":3}],"analysed_at":1700000000000})";
  auto parsed = SampleResult::Parse(old_row);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_TRUE(parsed->children.empty());
  EXPECT_EQ(parsed->children_not_read, 0);
  EXPECT_TRUE(parsed->child_notes.empty());
  EXPECT_EQ(parsed->threat_names, std::vector<std::string>{"X"});
  EXPECT_THAT(BuildAlertComment(*parsed), Not(HasSubstr("Child sample")));
}

TEST(SampleResultChildren, ABrokenChildEntryIsAClearError) {
  SampleResult r = Parent();
  r.children.push_back(Child(11, 10, 'b', "clean"));
  std::string text = r.Dump();
  const std::string sha = "\"sha256\":\"" + Hex('b') + "\"";
  text.replace(text.find(sha), sha.size(), "\"sha256\":42");
  auto parsed = SampleResult::Parse(text);
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("children"));
}

TEST(SampleResultComment, EachChildGetsItsOwnBlockAfterTheSample) {
  SampleResult r = Parent();
  ChildSampleResult bad = Child(11, 10, 'b', "malicious");
  bad.classifications = {"Trojan"};
  bad.threat_names = {"Trojan.Agent"};
  bad.vtis = {{"Files", "Drops a file", 2, {}}, {"Network", "Connects to a C2 server", 5, {}}};
  r.children.push_back(bad);
  r.children.push_back(Child(12, 10, 'c', "clean"));
  r.children.push_back(Child(13, 11, 'd', "suspicious"));  // a grandchild, dropped by 11

  const std::string comment = BuildAlertComment(r);
  // The parent's sections come first, unchanged.
  EXPECT_EQ(comment.find("Evidence SHA256:\n" + Hex('a') + "\nVMRAY Analyzer Verdict: MALICIOUS\n"),
            0u)
      << comment;
  const size_t first_child = comment.find("Child sample SHA256:");
  ASSERT_NE(first_child, std::string::npos);
  EXPECT_LT(comment.find("Installs itself for autorun"), first_child);

  EXPECT_THAT(comment,
              HasSubstr("Child sample SHA256:\n" + Hex('b') +
                        "\nVMRAY Analyzer Verdict: MALICIOUS\nSample Url:\n" + bad.webif_url +
                        "\nClassifications:\nTrojan\nThreat Names:\n"
                        "Trojan.Agent\nVTI's:\n"
                        "Drops a file\nConnects to a C2 server"));
  EXPECT_THAT(comment,
              HasSubstr("Child sample SHA256:\n" + Hex('c') + "\nVMRAY Analyzer Verdict: CLEAN\n"));
  EXPECT_THAT(comment, HasSubstr("Child sample SHA256:\n" + Hex('d') + "\nParent sample SHA256:\n" +
                                 Hex('b') + "\nVMRAY Analyzer Verdict: SUSPICIOUS\n"));
  EXPECT_EQ(Count(comment, "Child sample SHA256:"), 3u);
  EXPECT_LT(comment.find(Hex('b')), comment.find(Hex('c')));
  EXPECT_NE(comment.back(), '\n');
}

TEST(SampleResultComment, ChildrenWithoutAVerdictShareOneLine) {
  SampleResult r = Parent();
  r.children.push_back(Child(11, 10, 'b', ""));
  r.children.push_back(Child(12, 10, 'c', "not_available"));
  r.children.push_back(Child(13, 10, 'd', "clean"));
  const std::string comment = BuildAlertComment(r);
  EXPECT_THAT(comment, HasSubstr("Child samples without a verdict: " + Hex('b') + ", " + Hex('c')));
  EXPECT_EQ(Count(comment, "Child sample SHA256:"), 1u) << comment;
  EXPECT_EQ(Count(comment, "VMRAY Analyzer Verdict:"), 2u) << comment;
}

TEST(SampleResultComment, UnreadAndSkippedChildrenAreNamed) {
  SampleResult r = Parent();
  r.children.push_back(Child(11, 10, 'b', "clean"));
  r.children_not_read = 4;
  r.child_notes = {"Child sample 99 was skipped: VMRay no longer has it."};
  const std::string comment = BuildAlertComment(r);
  EXPECT_THAT(comment,
              HasSubstr(fmt::format("4 more child samples were not read (at most {} are read)",
                                    kMaxChildSamples)));
  EXPECT_THAT(comment, HasSubstr("Child sample 99 was skipped: VMRay no longer has it."));
}

TEST(SampleResultComment, ChildTextIsCleanedOfControlCharacters) {
  SampleResult r = Parent();
  ChildSampleResult c = Child(11, 10, 'b', "malicious");
  c.threat_names = {"Evil\r\nVMRAY Analyzer Verdict: CLEAN"};
  r.children.push_back(c);
  const std::string comment = BuildAlertComment(r);
  EXPECT_THAT(comment, HasSubstr("Evil  VMRAY Analyzer Verdict: CLEAN"));
  EXPECT_THAT(comment, Not(HasSubstr("\nVMRAY Analyzer Verdict: CLEAN")));
}

TEST(SampleResultComment, ManyLargeChildrenStayWithinTheLengthCap) {
  SampleResult r = Parent();
  for (int i = 0; i < 20; ++i) {
    ChildSampleResult c = Child(100 + i, 10, static_cast<char>('b' + i), "malicious");
    for (int v = 0; v < 20; ++v) {
      c.vtis.push_back({"cat", fmt::format("{:03} {}", v, std::string(300, 'x')), 3, {}});
    }
    r.children.push_back(c);
  }
  r.children_not_read = 2;
  const std::string comment = BuildAlertComment(r);
  EXPECT_LE(comment.size(), kMaxAlertComment);
  const size_t shown = Count(comment, "Child sample SHA256:");
  EXPECT_GE(shown, 1u);
  EXPECT_LT(shown, 20u);
  EXPECT_THAT(comment, HasSubstr(fmt::format("{} more child samples not shown here (comment "
                                             "length limit)",
                                             20 - shown)));
  EXPECT_THAT(comment, HasSubstr("2 more child samples were not read"));
}

TEST(SampleResultComment, AnOversizedSampleIsCutAtALineAndSaysSo) {
  SampleResult r = Parent();
  r.vtis.clear();
  for (int v = 0; v < 60; ++v) {
    r.vtis.push_back({"cat", fmt::format("{:03} {}", v, std::string(450, 'y')), 3, {}});
  }
  const std::string comment = BuildAlertComment(r);
  EXPECT_LE(comment.size(), kMaxAlertComment);
  EXPECT_THAT(comment, HasSubstr("[comment cut at 20000 characters"));
  const size_t note = comment.find("\n[comment cut");
  ASSERT_NE(note, std::string::npos);
  // The line before the note is whole: 3 digits, a space and the 450 characters.
  const size_t line = comment.rfind('\n', note - 1);
  EXPECT_EQ(note - line - 1, 454u);
}

}  // namespace
}  // namespace vc::defender
