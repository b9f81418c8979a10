// The versioned API: resource paths, {"data": ...} answers, {"error": {code, message}} failures.
#include "enrichment/enrichment_test_support.hpp"

#include "core/base64.hpp"

namespace vc::enrichment {
namespace {

using ::testing::SizeIs;

using V1Test = EnrichmentTest;

TEST_F(V1Test, SubmitsAUrlAndReadsTheSubmissionBack) {
  auto r = PostJson("/api/v1/submissions/url",
                    {{"url", "https://phish.example.net/login"}, {"tags", {"v1"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json data = BodyJson(r)["data"];
  EXPECT_EQ(data["reused"], false);
  EXPECT_TRUE(data["errors"].is_array());
  ASSERT_THAT(data["vmray_submission"], SizeIs(1));
  const int64_t id = data["vmray_submission"][0]["SubmissionID"].get<int64_t>();

  auto sub = GetWithKey("/api/v1/submissions/" + std::to_string(id));
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->status, 200) << sub->body;
  EXPECT_EQ(BodyJson(sub)["data"]["submission_id"], id);
  EXPECT_EQ(metrics_.Value("vc_enrichment_requests_total",
                           {{"route", "GET /api/v1/submissions/{id}"}, {"status", "200"}}),
            1);
}

TEST_F(V1Test, FileSubmissionReportsReuse) {
  const std::string content = "v1 known content";
  const int64_t id = SeedSample(content, "suspicious");
  auto r = PostJson("/api/v1/submissions/file",
                    {{"file", Base64Encode(content)}, {"name", "a.doc"}, {"resubmit", false}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(BodyJson(r)["data"]["reused"], true);
  EXPECT_EQ(BodyJson(r)["data"]["vmray_sample"][0]["SampleID"], id);
  EXPECT_EQ(SubmitCalls(), 0u);
}

TEST_F(V1Test, SampleRoutes) {
  const std::string content = "v1 sample content";
  const int64_t id = SeedSample(content, "malicious");
  const std::string base = "/api/v1/samples/" + std::to_string(id);
  for (const std::string& path :
       {base, base + "/vtis", base + "/threat-indicators", base + "/analyses?limit=2",
        base + "/iocs", "/api/v1/samples/by-hash/" + Sha256Hex(content)}) {
    auto r = GetWithKey(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_TRUE(BodyJson(r).contains("data")) << path;
  }
  EXPECT_EQ(BodyJson(GetWithKey(base))["data"]["sample_verdict"], "malicious");
}

TEST_F(V1Test, ErrorsAreAlwaysJson) {
  auto missing = PostJson("/api/v1/submissions/url", Json::object());
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(BodyJson(missing)["error"]["code"], "missing_parameter");
  EXPECT_EQ(BodyJson(missing)["error"]["parameter"], "url");
  auto bad_id = GetWithKey("/api/v1/samples/abc/vtis");
  ASSERT_TRUE(bad_id);
  EXPECT_EQ(bad_id->status, 400);
  EXPECT_EQ(BodyJson(bad_id)["error"]["code"], "invalid_parameter");
  auto bad_hash = GetWithKey("/api/v1/samples/by-hash/xyz");
  ASSERT_TRUE(bad_hash);
  EXPECT_EQ(bad_hash->status, 400);
  auto wrong_method = Http().Delete("/api/v1/samples/1", Key());
  ASSERT_TRUE(wrong_method);
  EXPECT_GE(wrong_method->status, 400);
  EXPECT_TRUE(BodyJson(wrong_method).contains("error")) << wrong_method->body;
  EXPECT_EQ(VmrayCalls(), 0u);
}

}  // namespace
}  // namespace vc::enrichment
