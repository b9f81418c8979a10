// One class at a time: parameter reading, URL checks, the function-key comparison, JSON escaping
// and route labels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/enrichment/function_key.hpp"
#include "server/enrichment/inputs.hpp"
#include "server/enrichment/operations.hpp"
#include "server/enrichment/params.hpp"
#include "server/enrichment/routes.hpp"

namespace vc::enrichment {
namespace {

Params Make(Params::Pairs query, const std::string& body = "") {
  auto p = Params::From(std::move(query), "application/json", body);
  EXPECT_TRUE(std::holds_alternative<Params>(p));
  return std::get<Params>(p);
}

TEST(EnrichmentParams, QueryFirstThenBodyNullIsAbsent) {
  Params p = Make({{"a", "q"}}, R"({"a": "b", "c": 1, "n": null})");
  EXPECT_EQ(*p.Find("a"), "q");
  EXPECT_EQ(*p.Find("c"), 1);
  EXPECT_EQ(p.Find("n"), nullptr);
  EXPECT_EQ(p.Find("missing"), nullptr);
}

TEST(EnrichmentParams, ContentTypeIsCheckedOnlyWhenThereIsABody) {
  EXPECT_TRUE(std::holds_alternative<Params>(Params::From({}, "text/plain", "  \n")));
  auto bad = Params::From({}, "text/plain", "{}");
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad));
  EXPECT_EQ(std::get<ApiError>(bad).status, 415);
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(IsJsonContentType("application/jsonx"));
}

TEST(EnrichmentInputs, UrlProblems) {
  EXPECT_EQ(UrlProblem("https://example.com:8443/a?b=c"), "");
  EXPECT_EQ(UrlProblem("HTTP://EXAMPLE.COM/"), "");
  EXPECT_NE(UrlProblem("https://u:p@example.com/"), "");
  EXPECT_NE(UrlProblem("vbscript:msgbox"), "");
  EXPECT_NE(UrlProblem("https://example.com/\x01"), "");
  EXPECT_NE(UrlProblem(""), "");
}

TEST(EnrichmentInputs, ListsTakeArraysOrCommaSeparatedText) {
  auto a = ParseUrlSubmit(Make({{"url", "https://e.com/"}, {"tags", "a, b,,c"}}));
  ASSERT_TRUE(std::holds_alternative<vmray::SubmitRequest>(a));
  EXPECT_EQ(std::get<vmray::SubmitRequest>(a).tags, (std::vector<std::string>{"a", "b", "c"}));
  auto b = ParseUrlSubmit(Make({}, R"({"url": "https://e.com/", "tags": ["x", 1]})"));
  ASSERT_TRUE(std::holds_alternative<ApiError>(b));
  EXPECT_EQ(std::get<ApiError>(b).param, "tags");
}

TEST(EnrichmentInputs, IocsVariantNeedsBothSubmissionAndVerdicts) {
  auto raw = ParseIocs(Make({{"sample_id", "5"}, {"submission_id", "6"}}));
  ASSERT_TRUE(std::holds_alternative<IocsInput>(raw));
  EXPECT_FALSE(std::get<IocsInput>(raw).WantsCustomResp());
  auto custom = ParseIocs(Make({{"sample_id", "5"}, {"submission_id", "6"}},
                               R"({"sample_verdict": ["malicious", "suspicious"]})"));
  ASSERT_TRUE(std::holds_alternative<IocsInput>(custom));
  EXPECT_TRUE(std::get<IocsInput>(custom).WantsCustomResp());
  auto bad = ParseIocs(Make({{"sample_id", "5"}}, R"({"sample_verdict": ["evil"]})"));
  EXPECT_TRUE(std::holds_alternative<ApiError>(bad));
}

TEST(EnrichmentFunctionKey, MatchesOnlyTheExactKey) {
  const Secret<> key(std::string("k-123456"));
  EXPECT_TRUE(FunctionKeyMatches("k-123456", key));
  EXPECT_FALSE(FunctionKeyMatches("k-123457", key));
  EXPECT_FALSE(FunctionKeyMatches("k-1234567", key));
  EXPECT_FALSE(FunctionKeyMatches("", key));
  EXPECT_FALSE(FunctionKeyMatches("", Secret<>()));
}

TEST(EnrichmentJson, MarkupCharactersAreEscaped) {
  const Json value = {{"name", "<b>&</b>"}};
  const std::string text = SafeDump(value);
  EXPECT_EQ(text.find('<'), std::string::npos);
  EXPECT_EQ(Json::parse(text), value);
}

TEST(EnrichmentRoutes, LabelsAreTemplates) {
  EXPECT_EQ(RouteLabel("POST", "/api/UplaodURL"), "POST /api/UplaodURL");
  EXPECT_EQ(RouteLabel("GET", "/api/v1/samples/123/vtis"), "GET /api/v1/samples/{id}/vtis");
  EXPECT_EQ(RouteLabel("GET", "/api/v1/samples/by-hash/abc"), "GET /api/v1/samples/by-hash/{hash}");
  EXPECT_EQ(RouteLabel("GET", "/api/Whatever"), "other");
  EXPECT_EQ(RouteLabel("GET", "/api/v1/nope"), "other");
}

TEST(EnrichmentSummary, MapsTheSubmitAnswerLikeTheOriginal) {
  const Json data = {
      {"jobs",
       {{{"job_id", 1},
         {"job_created", "c"},
         {"job_sample_id", 2},
         {"job_vm_name", "win10"},
         {"job_vm_id", 3},
         {"job_jobrule_sampletype", "Windows Exe"}}}},
      {"samples",
       {{{"sample_id", 2},
         {"sample_webif_url", "u"},
         {"sample_created", "c"},
         {"submission_filename", "f.exe"},
         {"sample_filesize", 10},
         {"sample_ssdeephash", "s"},
         {"sample_sha1hash", "h"}}}},
      {"submissions",
       {{{"submission_id", 9}, {"submission_webif_url", "w"}, {"submission_sample_id", 2}}}},
      {"errors", Json::array()}};
  const Json expected = {
      {"vmray_job",
       {{{"JobID", 1},
         {"Created", "c"},
         {"SampleID", 2},
         {"VMName", "win10"},
         {"VMID", 3},
         {"JobRuleSampleType", "Windows Exe"}}}},
      {"vmray_sample",
       {{{"SampleID", 2},
         {"SampleURL", "u"},
         {"Created", "c"},
         {"FileName", "f.exe"},
         {"FileSize", 10},
         {"SSDeep", "s"},
         {"SHA1", "h"}}}},
      {"vmray_submission", {{{"SubmissionID", 9}, {"SubmissionURL", "w"}, {"SampleID", 2}}}}};
  EXPECT_EQ(SubmissionSummary(data), expected);
}

}  // namespace
}  // namespace vc::enrichment
