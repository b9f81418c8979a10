#include "clients/blob/names.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace vc::blob {
namespace {

using ::testing::HasSubstr;

std::string NameError(std::string_view name) {
  Status s = ValidateBlobName(name);
  EXPECT_FALSE(s) << name;
  return s ? "" : s.error().message;
}

TEST(BlobNames, ContainerNamesFollowTheDnsRules) {
  for (const char* good : {"abc", "vmray-defender-quarantine-files", "a1-b2", "123"}) {
    EXPECT_TRUE(ValidateContainerName(good)) << good;
  }
  EXPECT_TRUE(ValidateContainerName(std::string(63, 'a')));
  EXPECT_FALSE(ValidateContainerName(std::string(64, 'a')));
  EXPECT_FALSE(ValidateContainerName("ab"));
  EXPECT_FALSE(ValidateContainerName("Upper"));
  EXPECT_FALSE(ValidateContainerName("-abc"));
  EXPECT_FALSE(ValidateContainerName("abc-"));
  EXPECT_FALSE(ValidateContainerName("a--b"));
  EXPECT_FALSE(ValidateContainerName("a_b"));
  EXPECT_FALSE(ValidateContainerName("../x"));
  Status s = ValidateContainerName("a--b");
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("two '-' in a row"));
}

TEST(BlobNames, LengthIsCountedInCharacters) {
  EXPECT_TRUE(ValidateBlobName("a"));
  EXPECT_TRUE(ValidateBlobName(std::string(1024, 'a')));
  EXPECT_THAT(NameError(std::string(1025, 'a')), HasSubstr("1025 characters, more than 1024"));
  // 1024 two-byte characters are 2048 bytes and still a valid name.
  std::string umlauts;
  for (int i = 0; i < 1024; ++i) umlauts += "\xC3\xA4";
  EXPECT_TRUE(ValidateBlobName(umlauts));
  EXPECT_FALSE(ValidateBlobName(umlauts + "a"));
  EXPECT_THAT(NameError(""), HasSubstr("empty"));
}

TEST(BlobNames, SegmentsAndTrailingCharacters) {
  EXPECT_TRUE(ValidateBlobName("a/b/c.zip"));
  EXPECT_TRUE(
      ValidateBlobName("a/.hidden/..x/x.."
                       "y"));
  EXPECT_THAT(NameError("a/b."), HasSubstr("must not end with '/' or '.'"));
  EXPECT_THAT(NameError("a/b/"), HasSubstr("must not end with '/' or '.'"));
  EXPECT_THAT(NameError("a//b"), HasSubstr("empty path segment"));
  EXPECT_THAT(NameError("/a"), HasSubstr("empty path segment"));
  // 254 segments is the limit.
  std::string deep = "a";
  for (int i = 1; i < 254; ++i) deep += "/a";
  EXPECT_TRUE(ValidateBlobName(deep));
  EXPECT_THAT(NameError(deep + "/a"), HasSubstr("255 path segments"));
}

TEST(BlobNames, TraversalIsRefused) {
  for (const char* bad : {"..", ".", "../x", "a/../b", "a/./b", "a/..", "./a", "x/../../../etc"}) {
    Status s = ValidateBlobName(bad);
    EXPECT_FALSE(s) << bad;
  }
  EXPECT_THAT(NameError("a/../b"), HasSubstr("'.' or '..' path segment"));
  EXPECT_THAT(NameError("a\\..\\b"), HasSubstr("'\\'"));
  EXPECT_THAT(NameError(std::string("a\0b", 3)), HasSubstr("control character at byte 1"));
  EXPECT_THAT(NameError("a\nb"), HasSubstr("control character"));
  EXPECT_THAT(NameError("a\xC3"), HasSubstr("not valid UTF-8 at byte 1"));
  EXPECT_THAT(NameError("\xC0\xAF"), HasSubstr("not valid UTF-8"));      // overlong '/'
  EXPECT_THAT(NameError("\xED\xA0\x80"), HasSubstr("not valid UTF-8"));  // surrogate
}

TEST(BlobNames, PathIsEncodedPerSegment) {
  EXPECT_EQ(EncodeBlobPath("a/b/c.zip"), "a/b/c.zip");
  EXPECT_EQ(EncodeBlobPath("dir one/f?x#y%z&a=b+c.txt"), "dir%20one/f%3Fx%23y%25z%26a%3Db%2Bc.txt");
  EXPECT_EQ(EncodeBlobPath("\xC3\xA4/\xE2\x82\xAC"), "%C3%A4/%E2%82%AC");
  // Encoded dots stay literal text: "%2e%2e" is a name, never a step up.
  EXPECT_EQ(EncodeBlobPath("%2e%2e/x"), "%252e%252e/x");
  // The unreserved characters are kept as they are.
  EXPECT_EQ(EncodeBlobPath("A-z_0.9~"), "A-z_0.9~");
}

TEST(BlobNames, SegmentFromUntrustedTextIsAlwaysOneSafeSegment) {
  EXPECT_EQ(BlobNameSegment("report.pdf"), "report.pdf");
  EXPECT_EQ(BlobNameSegment("../../etc/passwd"), ".._.._etc_passwd");
  EXPECT_EQ(BlobNameSegment("..\\..\\boot.ini"), ".._.._boot.ini");
  EXPECT_EQ(BlobNameSegment(".."), "._");
  EXPECT_EQ(BlobNameSegment("."), "_");
  EXPECT_EQ(BlobNameSegment("name."), "name_");
  EXPECT_EQ(BlobNameSegment(""), "_");
  EXPECT_EQ(BlobNameSegment("a\nb\x01"
                            "c"),
            "a_b_c");
  EXPECT_EQ(BlobNameSegment("bad\xC3utf8"), "bad_utf8");
  EXPECT_EQ(BlobNameSegment("\xC3\xA4rger.exe"), "\xC3\xA4rger.exe");
  // Cut on a character boundary: three bytes allowed, the second 'ä' (2 bytes) does not fit.
  EXPECT_EQ(BlobNameSegment("\xC3\xA4\xC3\xA4", 3), "\xC3\xA4");
  EXPECT_EQ(BlobNameSegment(std::string(500, 'x')).size(), 200u);
  for (const char* text : {"../../etc/passwd", "..", ".", "", "/", "//", "a/../b", "x.", "\\",
                           "\xFF\xFE", "%2e%2e", "..\x00.."}) {
    const std::string segment = BlobNameSegment(text);
    EXPECT_TRUE(ValidateBlobName(segment)) << segment;
    EXPECT_EQ(segment.find('/'), std::string::npos) << segment;
    EXPECT_NE(segment, "..");
    EXPECT_TRUE(ValidateBlobName("alerts/" + segment + "/file")) << segment;
  }
}

}  // namespace
}  // namespace vc::blob
