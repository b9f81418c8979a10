// Bad input and failures: each has a defined answer, and a request that fails validation or
// authentication never reaches VMRay (asserted on the emulator's request log).
#include "enrichment/enrichment_test_support.hpp"

#include "core/base64.hpp"

namespace vc::enrichment {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using FaultsTest = EnrichmentTest;

TEST_F(FaultsTest, MissingOrWrongFunctionKeyIs401WithAnEmptyBodyAsAzureFunctions) {
  const std::string body = Json{{"url", "https://a.example.org/"}}.dump();
  auto none = Http().Post("/api/UplaodURL", body, "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, "");
  auto wrong =
      Http().Post("/api/UplaodURL", {{"x-functions-key", "fk-wrong"}}, body, "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  // Same length, one character off.
  std::string near(kFunctionKey);
  near.back() = near.back() == 'c' ? 'd' : 'c';
  auto close = Http().Get(("/api/GetVMRaySample?sample_id=1&code=" + near).c_str());
  ASSERT_TRUE(close);
  EXPECT_EQ(close->status, 401);
  auto v1 = Http().Get("/api/v1/samples/1");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->status, 401);
  EXPECT_EQ(BodyJson(v1)["error"]["code"], "unauthorized");
  EXPECT_EQ(VmrayCalls(), 0u);
  EXPECT_EQ(metrics_.Value("vc_enrichment_requests_total",
                           {{"route", "POST /api/UplaodURL"}, {"status", "401"}}),
            2);
}

TEST_F(FaultsTest, MissingParametersGetTheOriginalsPlainText400) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"UplaodURL", "url"},
      {"VMRayUploadSample", "file"},
      {"GetVMRaySubmission", "submission_id"},
      {"GetVMRaySample", "sample_id"},
      {"GetVMRaySampleByHash", "hash"},
      {"GetVMRayVTIs", "sample_id"},
      {"GetVMRayThreatIndicator", "sample_id"},
      {"GetAnalysisBySampleID", "sample_id"},
      {"GetVMRayIOCs", "sample_id"},
  };
  for (const auto& [function, param] : cases) {
    auto r = PostJson("/api/" + function, Json::object());
    ASSERT_TRUE(r) << function;
    EXPECT_EQ(r->status, 400) << function;
    EXPECT_EQ(r->body, "Invalid Request. Missing '" + param + "' parameter.") << function;
    EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("text/plain"));
    // No body at all, as a Logic App GET sends it.
    auto get = GetWithKey("/api/" + function);
    ASSERT_TRUE(get);
    EXPECT_EQ(get->status, 400) << function;
  }
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(FaultsTest, NonNumericIdsAreRefusedWithAJsonErrorNamingTheParameter) {
  for (const Json& bad : {Json("12a"), Json("-4"), Json("0"), Json(1.5), Json("1e3"),
                          Json("99999999999999999999999"), Json::array({1})}) {
    auto r = PostJson("/api/GetVMRaySample", {{"sample_id", bad}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad.dump();
    const Json body = BodyJson(r);
    EXPECT_EQ(body["error"]["code"], "invalid_parameter") << r->body;
    EXPECT_EQ(body["error"]["parameter"], "sample_id");
  }
  auto sub = GetWithKey("/api/GetVMRaySubmission?submission_id=abc");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->status, 400);
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(FaultsTest, Base64ThatDoesNotDecodeIsRefused) {
  for (const std::string bad : {"not base64!!", "QUJD=", "QUJ", "===="}) {
    auto r = PostJson("/api/VMRayUploadSample", {{"file", bad}, {"name", "a.exe"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(BodyJson(r)["error"]["parameter"], "file") << r->body;
  }
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(FaultsTest, OversizedBodiesAndFilesAre413WithoutAVmrayCall) {
  StartServer([](EnrichmentServerOptions& o) {
    o.max_body_bytes = 4096;
    o.operations.max_file_bytes = 100;
  });
  auto big = PostJson("/api/VMRayUploadSample",
                      {{"file", Base64Encode(std::string(8000, 'A'))}, {"name", "a.bin"}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(BodyJson(big)["error"]["code"], "body_too_large") << big->body;
  auto file = PostJson("/api/VMRayUploadSample",
                       {{"file", Base64Encode(std::string(200, 'A'))}, {"name", "a.bin"}});
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 413);
  EXPECT_EQ(BodyJson(file)["error"]["code"], "file_too_large") << file->body;
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(FaultsTest, WrongContentTypeAndBrokenJsonAreRefused) {
  auto form = Http().Post("/api/UplaodURL", Key(), "url=https://a.example.org/",
                          "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  EXPECT_EQ(BodyJson(form)["error"]["code"], "unsupported_media_type");
  auto broken = Http().Post("/api/UplaodURL", Key(), "{\"url\": ", "application/json");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 400);
  EXPECT_EQ(BodyJson(broken)["error"]["code"], "invalid_json");
  auto array = Http().Post("/api/UplaodURL", Key(), "[1,2]", "application/json; charset=utf-8");
  ASSERT_TRUE(array);
  EXPECT_EQ(array->status, 400);
  EXPECT_EQ(VmrayCalls(), 0u);
}

TEST_F(FaultsTest, UrlsWithCredentialsOrOddSchemesAreRefusedPortsAndIdnsAreSubmitted) {
  for (const std::string bad :
       {"https://user:secret@evil.example.com/", "https://user@evil.example.com/",
        "javascript:alert(1)", "file:///etc/passwd", "ftp://files.example.com/x",
        "data:text/html,<script>alert(1)</script>", "evil.example.com/no-scheme",
        "https://evil.example.com/a b"}) {
    auto r = PostJson("/api/UplaodURL", {{"url", bad}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(BodyJson(r)["error"]["parameter"], "url") << bad << ": " << r->body;
    EXPECT_THAT(r->body, Not(HasSubstr("secret"))) << "the URL's password came back";
  }
  EXPECT_EQ(VmrayCalls(), 0u);
  for (const std::string good :
       {"http://evil.example.com:8080/path?q=1", "https://bücher.example/kaufen",
        "https://xn--bcher-kva.example/"}) {
    auto r = PostJson("/api/UplaodURL", {{"url", good}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << good << ": " << r->body;
  }
  EXPECT_EQ(SubmitCalls(), 3u);
}

TEST_F(FaultsTest, HtmlInNamesComesBackJsonEncodedNeverAsMarkup) {
  const std::string name = "<img src=x onerror=alert(1)>.exe";
  auto r = PostJson("/api/VMRayUploadSample",
                    {{"file", Base64Encode("html name content")}, {"name", name}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("application/json"));
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_THAT(r->body, Not(HasSubstr("<img")));
  EXPECT_THAT(r->body, HasSubstr("\\u003cimg"));
  // Still the same value for a JSON reader.
  EXPECT_EQ(BodyJson(r)["vmray_sample"][0]["FileName"], name);
}

TEST_F(FaultsTest, VmrayErrorsBecomeClearAnswers) {
  auto unknown = PostJson("/api/GetVMRaySample", {{"sample_id", 987654}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(BodyJson(unknown)["error"]["code"], "not_found") << unknown->body;

  emu::FaultRule unavailable;
  unavailable.method = "GET";
  unavailable.path_regex = "^/rest/sample/[0-9]+/vtis$";
  unavailable.status = 503;
  unavailable.times = 100;
  vmray().AddFault(unavailable);
  contract::ClientSetup no_retry;
  no_retry.retry.max_retries = 0;
  MakeVmray(no_retry);
  StartServer();
  auto down = PostJson("/api/GetVMRayVTIs", {{"sample_id", 1}});
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 502);
  EXPECT_EQ(BodyJson(down)["error"]["code"], "vmray_unavailable") << down->body;

  emu::FaultRule throttled;
  throttled.method = "GET";
  throttled.path_regex = "^/rest/submission/[0-9]+$";
  throttled.status = 429;
  throttled.retry_after = "17";
  vmray().AddFault(throttled);
  auto slow = PostJson("/api/GetVMRaySubmission", {{"submission_id", 1}});
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 503);
  EXPECT_EQ(slow->get_header_value("Retry-After"), "17");
  EXPECT_EQ(BodyJson(slow)["error"]["code"], "vmray_throttled");
}

TEST_F(FaultsTest, AWrongVmrayKeyIsTheConnectorsProblemAndNeverShowsTheKey) {
  MakeVmray({}, "wrong-vmray-key-DO-NOT-LOG");
  StartServer();
  auto r = PostJson("/api/GetVMRaySample", {{"sample_id", 1}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(BodyJson(r)["error"]["code"], "vmray_auth") << r->body;
  EXPECT_THAT(r->body, Not(HasSubstr("DO-NOT-LOG")));
}

TEST_F(FaultsTest, UnknownRoutesAre404Json) {
  auto r = GetWithKey("/api/GetVMRaySomethingElse");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(BodyJson(r)["error"]["code"], "not_found");
  EXPECT_EQ(metrics_.Value("vc_enrichment_requests_total", {{"route", "other"}, {"status", "404"}}),
            1);
}

}  // namespace
}  // namespace vc::enrichment
