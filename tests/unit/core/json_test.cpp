#include "core/json.hpp"

#include <gtest/gtest.h>

namespace vc {
namespace {

TEST(Json, MalformedTextIsProtocolErrorWithoutContent) {
  auto r = ParseJson(R"({"secret": "DO-NOT-LOG-x", )", "vmray");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  EXPECT_NE(r.error().message.find("vmray"), std::string::npos);
  EXPECT_EQ(r.error().message.find("DO-NOT-LOG"), std::string::npos);
}

TEST(Json, ReaderNamesThePathOfTheFirstProblem) {
  Json j = Json::parse(R"({"a": "x", "n": "7", "big": 99999999999})");
  JsonReader r(j, "alert");
  EXPECT_EQ(r.Str("a"), "x");
  EXPECT_EQ(r.Int("n"), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().error().message, "alert.n: expected an integer, got string");
}

TEST(Json, RangeAndMissing) {
  Json j = Json::parse(R"({"big": 99999999999, "neg": -1})");
  JsonReader r(j, "x");
  EXPECT_FALSE(r.OptInt("big", 0, 1000));
  EXPECT_NE(r.status().error().message.find("out of range"), std::string::npos);
  JsonReader r2(j, "x");
  r2.Str("missing");
  EXPECT_EQ(r2.status().error().message, "x.missing: required field is missing");
  JsonReader r3(j, "x");
  EXPECT_FALSE(r3.OptStr("missing"));
  EXPECT_TRUE(r3.ok());
}

TEST(Json, NotAnObject) {
  Json j = Json::parse("[1,2]");
  JsonReader r(j, "data");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace vc
