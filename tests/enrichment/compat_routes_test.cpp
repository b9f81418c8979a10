// Each /api/<Function> route called as the playbooks call it (Logic App "Function" action: POST,
// JSON body, key in x-functions-key), compared with the original's documented outputs
// (original-sentinel-solution.md 4.3/4.4), and checked against what the VMRay emulator received.
#include "enrichment/enrichment_test_support.hpp"

#include "core/base64.hpp"

namespace vc::enrichment {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

std::set<std::string> KeysOf(const Json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

const std::set<std::string> kSummaryKeys = {"vmray_job", "vmray_sample", "vmray_submission"};
const std::set<std::string> kJobKeys = {"JobID",  "Created", "SampleID",
                                        "VMName", "VMID",    "JobRuleSampleType"};
const std::set<std::string> kSampleKeys = {"SampleID", "SampleURL", "Created", "FileName",
                                           "FileSize", "SSDeep",    "SHA1"};
const std::set<std::string> kSubmissionKeys = {"SubmissionID", "SubmissionURL", "SampleID"};

void ExpectSummaryShape(const Json& body) {
  ASSERT_TRUE(body.is_object()) << body.dump();
  EXPECT_EQ(KeysOf(body), kSummaryKeys);
  for (const auto& j : body["vmray_job"]) EXPECT_EQ(KeysOf(j), kJobKeys);
  for (const auto& s : body["vmray_sample"]) EXPECT_EQ(KeysOf(s), kSampleKeys);
  for (const auto& s : body["vmray_submission"]) EXPECT_EQ(KeysOf(s), kSubmissionKeys);
}

using CompatTest = EnrichmentTest;

TEST_F(CompatTest, UplaodUrlSubmitsTheUrlWithTheOriginalOptionsAndAnswersTheSummary) {
  auto r = PostJson("/api/UplaodURL", {{"url", "https://malicious.example.com/drop"},
                                       {"shareable", "true"},
                                       {"max_jobs", 2},
                                       {"tags", {"sentinel", "incident_42"}},
                                       {"net_scheme_name", "tor"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("application/json"));
  const Json body = BodyJson(r);
  ExpectSummaryShape(body);
  ASSERT_THAT(body["vmray_submission"], SizeIs(1));
  ASSERT_THAT(body["vmray_sample"], SizeIs(1));
  EXPECT_THAT(body["vmray_job"], Not(IsEmpty()));

  const Json state = vmray().StateJson();
  ASSERT_THAT(state["submissions"], SizeIs(1));
  const Json& sub = state["submissions"][0];
  EXPECT_EQ(sub["url"], "https://malicious.example.com/drop");
  EXPECT_EQ(body["vmray_submission"][0]["SubmissionID"], sub["id"]);
  EXPECT_EQ(body["vmray_submission"][0]["SampleID"], sub["sample_id"]);
  EXPECT_EQ(sub["tags"], Json({"sentinel", "incident_42"}));
  EXPECT_EQ(sub["user_config"], Json({{"net_scheme_name", "tor"}}));
  EXPECT_EQ(sub["shareable"], true);
  EXPECT_EQ(sub["max_jobs"], 2);
}

TEST_F(CompatTest, QueryStringWinsOverTheBodyAsInTheOriginal) {
  auto r = Http().Post("/api/UplaodURL?url=https%3A%2F%2Fquery.example.org%2F", Key(),
                       Json{{"url", "https://body.example.org/"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(vmray().StateJson()["submissions"][0]["url"], "https://query.example.org/");
}

TEST_F(CompatTest, GetWithTheKeyInTheCodeParameterWorks) {
  auto r = Http().Get(
      ("/api/UplaodURL?url=https%3A%2F%2Fa.example.org%2F&code=" + std::string(kFunctionKey))
          .c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(SubmitCalls(), 1u);
}

TEST_F(CompatTest, VmrayUploadSampleDecodesBase64AndPassesEveryOption) {
  const std::string content = "MZ fake executable for the enrichment test";
  auto r = PostJson("/api/VMRayUploadSample", {{"file", Base64Encode(content)},
                                               {"name", "invoice.exe"},
                                               {"document_password", "doc-pw"},
                                               {"archive_password", "infected"},
                                               {"sample_type", "Windows Exe (x86-32)"},
                                               {"shareable", false},
                                               {"max_jobs", "3"},
                                               {"tags", "mail,outlook"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json body = BodyJson(r);
  ExpectSummaryShape(body);
  ASSERT_THAT(body["vmray_sample"], SizeIs(1));
  EXPECT_EQ(body["vmray_sample"][0]["SHA1"], Sha1Hex(content));
  EXPECT_EQ(body["vmray_sample"][0]["FileName"], "invoice.exe");

  const Json state = vmray().StateJson();
  ASSERT_THAT(state["submissions"], SizeIs(1));
  EXPECT_EQ(state["submissions"][0]["sha256"], Sha256Hex(content));
  EXPECT_EQ(state["submissions"][0]["filename"], "invoice.exe");
  EXPECT_EQ(state["submissions"][0]["tags"], Json({"mail", "outlook"}));
  const Json& sub = state["submissions"][0];
  EXPECT_EQ(sub["archive_password"], "infected");
  EXPECT_EQ(sub["document_password"], "doc-pw");
  EXPECT_EQ(sub["sample_type"], "Windows Exe (x86-32)");
  EXPECT_EQ(sub["shareable"], false);
  EXPECT_EQ(sub["max_jobs"], 3);
}

TEST_F(CompatTest, ResubmitFalseReusesTheKnownSampleWithoutSubmitting) {
  const std::string content = "known file content";
  const int64_t sample_id = SeedSample(content, "malicious", "known.exe");
  auto r = PostJson("/api/VMRayUploadSample",
                    {{"file", Base64Encode(content)}, {"name", "known.exe"}, {"resubmit", false}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json body = BodyJson(r);
  ExpectSummaryShape(body);
  EXPECT_EQ(body["vmray_sample"][0]["SampleID"], sample_id);
  ASSERT_THAT(body["vmray_submission"], SizeIs(1));
  EXPECT_EQ(body["vmray_submission"][0]["SampleID"], sample_id);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_EQ(vmray().CountCalls("GET", "^/rest/sample/sha256/" + Sha256Hex(content) + "$"), 1u);

  // The playbook then polls the submission it got: it is finished.
  auto sub = PostJson("/api/GetVMRaySubmission",
                      {{"submission_id", body["vmray_submission"][0]["SubmissionID"]}});
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->status, 200) << sub->body;
  EXPECT_EQ(BodyJson(sub)["submission_finished"], true);
}

TEST_F(CompatTest, ResubmitConfiguredOffIsTheDefaultForRequestsThatDoNotSay) {
  StartServer([](EnrichmentServerOptions& o) { o.operations.resubmit = false; });
  const std::string content = "known file content 2";
  SeedSample(content, "clean");
  auto reused = PostJson("/api/VMRayUploadSample", {{"file", Base64Encode(content)}});
  ASSERT_TRUE(reused);
  ASSERT_EQ(reused->status, 200) << reused->body;
  EXPECT_EQ(SubmitCalls(), 0u);
  // A request may still ask for a new analysis.
  auto again =
      PostJson("/api/VMRayUploadSample", {{"file", Base64Encode(content)}, {"resubmit", "true"}});
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(SubmitCalls(), 1u);
}

TEST_F(CompatTest, ResubmitOnByDefaultSubmitsEvenAKnownFileWithoutALookup) {
  const std::string content = "known file content 3";
  SeedSample(content, "clean");
  auto r = PostJson("/api/VMRayUploadSample", {{"file", Base64Encode(content)}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(SubmitCalls(), 1u);
  EXPECT_EQ(vmray().CountCalls("GET", "^/rest/sample/sha256/"), 0u);
}

TEST_F(CompatTest, ReadRoutesHandVmrayDataThroughWithTheKeysThePlaybooksUse) {
  const std::string content = "read routes content";
  const int64_t id = SeedSample(content, "malicious");
  const std::string sid = std::to_string(id);

  auto sample = PostJson("/api/GetVMRaySample", {{"sample_id", sid}});
  ASSERT_TRUE(sample);
  ASSERT_EQ(sample->status, 200) << sample->body;
  const Json s = BodyJson(sample);
  for (const char* key : {"sample_id", "sample_filename", "sample_verdict", "sample_vti_score",
                          "sample_webif_url", "sample_classifications", "sample_threat_names",
                          "sample_md5hash", "sample_sha1hash", "sample_sha256hash"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["sample_id"], id);
  EXPECT_EQ(s["sample_verdict"], "malicious");

  auto by_hash = PostJson("/api/GetVMRaySampleByHash", {{"hash", Md5Hex(content)}});
  ASSERT_TRUE(by_hash);
  ASSERT_EQ(by_hash->status, 200) << by_hash->body;
  ASSERT_TRUE(BodyJson(by_hash).is_array());
  ASSERT_THAT(BodyJson(by_hash), SizeIs(1));
  EXPECT_EQ(BodyJson(by_hash)[0]["sample_id"], id);
  EXPECT_EQ(vmray().CountCalls("GET", "^/rest/sample/md5/" + Md5Hex(content) + "$"), 1u);

  auto vtis = PostJson("/api/GetVMRayVTIs", {{"sample_id", id}});
  ASSERT_TRUE(vtis);
  ASSERT_EQ(vtis->status, 200) << vtis->body;
  // Held in a variable: a range-for over a member of a temporary reads freed memory.
  const Json vti_body = BodyJson(vtis);
  ASSERT_TRUE(vti_body["threat_indicators"].is_array());
  for (const auto& v : vti_body["threat_indicators"]) {
    for (const char* key : {"score", "category", "operation", "classifications"}) {
      EXPECT_TRUE(v.contains(key)) << key;
    }
  }

  auto ti = PostJson("/api/GetVMRayThreatIndicator", {{"sample_id", sid}});
  ASSERT_TRUE(ti);
  ASSERT_EQ(ti->status, 200) << ti->body;
  EXPECT_EQ(vmray().CountCalls("GET", "^/rest/sample/" + sid + "/threat_indicators$"), 1u);

  auto iocs = PostJson("/api/GetVMRayIOCs", {{"sample_id", sid}});
  ASSERT_TRUE(iocs);
  ASSERT_EQ(iocs->status, 200) << iocs->body;
  EXPECT_TRUE(BodyJson(iocs)["iocs"].is_object()) << iocs->body;

  auto sub_list = vmray().StateJson()["submissions"];
  ASSERT_THAT(sub_list, Not(IsEmpty()));
  auto sub = PostJson("/api/GetVMRaySubmission", {{"submission_id", sub_list[0]["id"]}});
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->status, 200) << sub->body;
  for (const char* key :
       {"submission_id", "submission_finished", "submission_sample_id", "submission_status"}) {
    EXPECT_TRUE(BodyJson(sub).contains(key)) << key;
  }
}

TEST_F(CompatTest, GetAnalysisBySampleIdSendsLimitOnlyWhenGiven) {
  const int64_t id = SeedSample("analysis content", "suspicious");
  auto with = PostJson("/api/GetAnalysisBySampleID", {{"sample_id", id}, {"limit", 5}});
  ASSERT_TRUE(with);
  ASSERT_EQ(with->status, 200) << with->body;
  EXPECT_TRUE(BodyJson(with).is_array());
  auto without = PostJson("/api/GetAnalysisBySampleID", {{"sample_id", id}});
  ASSERT_TRUE(without);
  ASSERT_EQ(without->status, 200) << without->body;
  const auto calls =
      contract::CallsTo(vmray(), "GET", "^/rest/analysis/sample/" + std::to_string(id) + "$");
  ASSERT_THAT(calls, SizeIs(2));
  EXPECT_EQ(calls[0].query, "_limit=5");
  EXPECT_EQ(calls[1].query, "");
}

TEST_F(CompatTest, IocsWithSubmissionAndVerdictIsRecognisedAndRefusedUntilTheStixMappingIsWired) {
  const int64_t id = SeedSample("ioc content", "malicious");
  auto r = PostJson("/api/GetVMRayIOCs", {{"sample_id", id},
                                          {"submission_id", 7},
                                          {"sample_verdict", {"malicious", "suspicious"}},
                                          {"incident_id", "12"},
                                          {"valid_until", 30}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501) << r->body;
  EXPECT_EQ(BodyJson(r)["error"]["code"], "not_implemented");
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(CompatTest, IocsWithIndicatorsCallsTheInjectedMappingWithThisCallsIocsOnly) {
  int calls = 0;
  StartServer([&calls](EnrichmentServerOptions& o) {
    o.operations.custom_resp = [&calls](const IocsInput& in, const Json& api_resp) -> Result<Json> {
      ++calls;
      EXPECT_EQ(*in.submission_id, 7);
      EXPECT_EQ(*in.sample_verdict, std::vector<std::string>({"malicious"}));
      EXPECT_EQ(in.incident_id, "12");
      EXPECT_EQ(*in.valid_until_days, 30);
      return Json::array({{{"sample", in.sample_id}, {"has_iocs", api_resp.contains("iocs")}}});
    };
  });
  const int64_t id = SeedSample("ioc content 2", "malicious");
  auto r = PostJson("/api/GetVMRayIOCs", {{"sample_id", id},
                                          {"submission_id", "7"},
                                          {"sample_verdict", {"Malicious"}},
                                          {"incident_id", "12"},
                                          {"valid_until", "30"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json body = BodyJson(r);
  EXPECT_EQ(KeysOf(body), (std::set<std::string>{"api_resp", "custom_resp"}));
  EXPECT_TRUE(body["api_resp"]["iocs"].is_object());
  EXPECT_EQ(body["custom_resp"], Json::array({{{"sample", id}, {"has_iocs", true}}}));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace vc::enrichment
