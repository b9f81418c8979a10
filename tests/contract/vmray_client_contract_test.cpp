// The VMRay client against the VMRay emulator: every call's request shape as the emulator saw
// it, continuation paging, and every failure the pipeline and the client's error mapping must
// handle (bad key, 403, 404, 429 in both Retry-After forms, 503, exhausted retries, malformed
// JSON, soft errors, slow answers, dropped connections, non-idempotent submits).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <httplib.h>

#include <set>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/vmray/client.hpp"
#include "contract/contract_support.hpp"
#include "core/hash.hpp"

namespace vc::contract {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr std::string_view kApiKey = emu::VmrayEmulator::kDefaultApiKey;
constexpr std::string_view kEicar =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

class VmrayContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    Start(Json::object());
  }

  void Start(const Json& vmray_options) {
    emu::EmulatorSetOptions options;
    options.vmray = emu::VmrayEmulator::Options::FromJson(vmray_options);
    StartEmulators(std::move(options));
  }

  // As app/daemon.cpp builds it: api_key credential, the VMRay user agent, no local limiter.
  std::unique_ptr<vmray::Client> MakeClient(const ClientSetup& setup = {},
                                            std::string api_key = std::string(kApiKey)) {
    auto credential = std::make_shared<auth::ApiKeyCredential>(Secret<>(std::move(api_key)));
    return std::make_unique<vmray::Client>(vmray().BaseUrl(),
                                           MakePipeline(setup, kVmrayUserAgent, credential));
  }

  emu::VmrayEmulator& vmray() { return emulators().vmray(); }

  // Seeds an analysed sample of `content` and returns the id the emulator gave it.
  int64_t SeedSample(const std::string& content, const std::string& verdict,
                     const std::string& filename = "invoice.exe") {
    Seed({{"vmray",
           {{"samples",
             {{{"sha256", Sha256Hex(content)},
               {"sha1", Sha1Hex(content)},
               {"md5", Md5Hex(content)},
               {"filename", filename},
               {"verdict", verdict}}}}}}});
    const Json state = vmray().StateJson();
    for (const auto& s : state["samples"]) {
      if (s["sha256"] == Sha256Hex(content)) return s["id"].get<int64_t>();
    }
    ADD_FAILURE() << "seeded sample not in the emulator state: " << state.dump();
    return 0;
  }

  // The emulator's record of the only submission, or null.
  Json OnlySubmission() {
    const Json state = vmray().StateJson();
    EXPECT_THAT(state["submissions"], SizeIs(1)) << state.dump(2);
    return state["submissions"].empty() ? Json() : state["submissions"][0];
  }

  // The submission document as VMRay serves it, read past the client (which does not model
  // every field), to see what the emulator made of the submit form.
  Json RawSubmission(int64_t id) {
    httplib::Client http(vmray().BaseUrl());
    auto r = http.Get("/rest/submission/" + std::to_string(id),
                      {{"Authorization", "api_key " + std::string(kApiKey)}});
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << r->body;
    return Json::parse(r->body, nullptr, false)["data"];
  }

  void AddFault(emu::FaultRule rule) { vmray().AddFault(std::move(rule)); }

  static emu::FaultRule Fault(std::string method, std::string path_regex, int status,
                              int times = 1) {
    emu::FaultRule rule;
    rule.method = std::move(method);
    rule.path_regex = std::move(path_regex);
    rule.status = status;
    rule.times = times;
    return rule;
  }
};

// ---- happy paths and request shapes ---------------------------------------------------------

TEST_F(VmrayContractTest, SystemInfoSendsTheApiKeySchemeAndUnwrapsTheEnvelope) {
  auto client = MakeClient();
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ((*info)["api_items_per_request"], 100);
  EXPECT_TRUE(info->contains("version"));

  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].method, "GET");
  EXPECT_EQ(calls[0].path, "/rest/system_info");
  EXPECT_EQ(calls[0].query, "");
  EXPECT_EQ(calls[0].auth, "api_key");
  EXPECT_EQ(calls[0].status, 200);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(VmrayContractTest, HealthCheckReadsSystemInfoOnly) {
  auto client = MakeClient();
  auto status = client->HealthCheck();
  ASSERT_TRUE(status) << status.error().ToString();
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].path, "/rest/system_info");
}

TEST_F(VmrayContractTest, QuotaCountsAcceptedSubmissions) {
  auto client = MakeClient();
  auto unlimited = client->Quota();
  ASSERT_TRUE(unlimited) << unlimited.error().ToString();
  EXPECT_EQ(unlimited->quota_limit, 0) << "0: no limit";
  EXPECT_EQ(unlimited->used_quota, 0);

  vmray::SubmitRequest request;
  request.url = "https://quota.example.com/";
  ASSERT_TRUE(client->Submit(request));
  auto used = client->Quota();
  ASSERT_TRUE(used) << used.error().ToString();
  EXPECT_EQ(used->used_quota, 1);
  const auto calls = vmray().Calls();
  EXPECT_EQ(calls.front().path, "/rest/api_key/quota");
  EXPECT_EQ(calls.front().auth, "api_key");
}

TEST_F(VmrayContractTest, QuotaLimitFromTheOptions) {
  Start(Json{{"quota_limit", 500}});
  auto quota = MakeClient()->Quota();
  ASSERT_TRUE(quota) << quota.error().ToString();
  EXPECT_EQ(quota->quota_limit, 500);
}

TEST_F(VmrayContractTest, SamplesByHashChoosesTheRouteByHashLength) {
  const std::string content = "contract sample for hash lookups";
  const int64_t id = SeedSample(content, "malicious");
  auto client = MakeClient();

  for (const std::string& hash : {Md5Hex(content), Sha1Hex(content), Sha256Hex(content)}) {
    auto samples = client->SamplesByHash(hash);
    ASSERT_TRUE(samples) << samples.error().ToString();
    ASSERT_THAT(*samples, SizeIs(1)) << hash;
    EXPECT_EQ((*samples)[0].sample_id, id);
    EXPECT_EQ((*samples)[0].sha256, Sha256Hex(content));
    EXPECT_EQ((*samples)[0].md5, Md5Hex(content));
    EXPECT_EQ((*samples)[0].verdict, "malicious");
    EXPECT_EQ((*samples)[0].filename, "invoice.exe");
  }
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(3));
  EXPECT_EQ(calls[0].path, "/rest/sample/md5/" + Md5Hex(content));
  EXPECT_EQ(calls[1].path, "/rest/sample/sha1/" + Sha1Hex(content));
  EXPECT_EQ(calls[2].path, "/rest/sample/sha256/" + Sha256Hex(content));
  for (const auto& c : calls) EXPECT_EQ(c.method, "GET");

  // Never seen: an empty list, not an error.
  auto unknown = client->SamplesByHash(Sha256Hex("never submitted"));
  ASSERT_TRUE(unknown) << unknown.error().ToString();
  EXPECT_THAT(*unknown, IsEmpty());
}

TEST_F(VmrayContractTest, BadHashIsRefusedBeforeAnyRequest) {
  auto client = MakeClient();
  for (const std::string& bad :
       {std::string("not-a-hash"), std::string(63, 'a'), std::string(64, 'g'), std::string()}) {
    auto r = client->SamplesByHash(bad);
    ASSERT_FALSE(r) << bad;
    const Error& e = Seen(r.error());
    EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << e.ToString();
    EXPECT_THAT(e.message, HasSubstr("SHA-256"));
  }
  EXPECT_THAT(vmray().Calls(), IsEmpty());
}

TEST_F(VmrayContractTest, GetSampleReadsVerdictAndReportLink) {
  const int64_t id = SeedSample("contract sample details", "suspicious", "macro.docm");
  auto client = MakeClient();
  auto sample = client->GetSample(id);
  ASSERT_TRUE(sample) << sample.error().ToString();
  EXPECT_EQ(sample->sample_id, id);
  EXPECT_EQ(sample->verdict, "suspicious");
  EXPECT_EQ(sample->filename, "macro.docm");
  EXPECT_EQ(sample->sha256, Sha256Hex("contract sample details"));
  EXPECT_THAT(sample->webif_url, HasSubstr(vmray().BaseUrl()));
  EXPECT_TRUE(sample->created.has_value());
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].path, "/rest/sample/" + std::to_string(id));
}

TEST_F(VmrayContractTest, UnknownIdsAreNotFound) {
  auto client = MakeClient();
  auto sample = client->GetSample(424242);
  ASSERT_FALSE(sample);
  const Error& e = Seen(sample.error());
  EXPECT_EQ(e.code, ErrorCode::kNotFound) << e.ToString();
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.service, "vmray");
  EXPECT_THAT(e.message, HasSubstr("No such element"));

  auto submission = client->GetSubmission(424242);
  ASSERT_FALSE(submission);
  EXPECT_EQ(Seen(submission.error()).code, ErrorCode::kNotFound);
  auto vtis = client->Vtis(424242);
  ASSERT_FALSE(vtis);
  EXPECT_EQ(Seen(vtis.error()).code, ErrorCode::kNotFound);
  // A 404 is an answer, not a transient failure: one call each, no back-off.
  EXPECT_EQ(vmray().Calls().size(), 3u);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(VmrayContractTest, SubmitFileWithNonAsciiNameSanitisedTagsCommentAndUserConfig) {
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "Rechnung-M\xC3\xA4rz 2024.exe";  // "Rechnung-März 2024.exe"
  request.content = std::string(kEicar);
  request.tags = {"EDR_alert", "Trojan:Win32/Wacatac.B!ml", ""};
  request.comment = "MDE alert da6374 on alice-laptop";
  request.user_config = {{"timeout", 120}};

  auto result = client->Submit(request);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_THAT(result->errors, IsEmpty());
  ASSERT_THAT(result->submissions, SizeIs(1));
  ASSERT_THAT(result->samples, SizeIs(1));
  EXPECT_FALSE(result->submissions[0].finished);
  EXPECT_EQ(result->samples[0].sha256, Sha256Hex(kEicar));
  EXPECT_EQ(result->submissions[0].sample_id, result->samples[0].sample_id);
  EXPECT_THAT(result->samples[0].webif_url, HasSubstr(vmray().BaseUrl()));

  // What VMRay stored: the real name (from the b64 field), sanitised tags, comment, config.
  const Json sub = OnlySubmission();
  EXPECT_EQ(sub["id"], result->submissions[0].submission_id);
  EXPECT_EQ(sub["filename"], request.filename);
  EXPECT_EQ(sub["tags"], Json::array({"EDR_alert", "Trojan:Win32_Wacatac.B_ml"}));
  EXPECT_EQ(sub["comment"], request.comment);
  EXPECT_EQ(sub["user_config"], Json({{"timeout", 120}}));
  EXPECT_TRUE(sub["url"].is_null());

  // What went over the wire: one multipart POST whose file part has a placeholder name, so the
  // real one reached VMRay only through sample_filename_b64enc. (The emulator's call log holds
  // no multipart bodies: cpp-httplib parses them into parts before the log sees the request.)
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_EQ(calls[0].path, "/rest/sample/submit");
  EXPECT_EQ(calls[0].query, "");
  EXPECT_EQ(calls[0].auth, "api_key");
  EXPECT_THAT(calls[0].content_type, ::testing::StartsWith("multipart/form-data; boundary="));
  EXPECT_EQ(RawSubmission(sub["id"].get<int64_t>())["submission_original_filename"], "sample");
}

TEST_F(VmrayContractTest, SubmitPlainNameKeepsItAndQuotedNameTravelsInBase64) {
  auto client = MakeClient();
  vmray::SubmitRequest plain;
  plain.filename = "invoice.exe";
  plain.content = "plain name content";
  auto first = client->Submit(plain);
  ASSERT_TRUE(first) << first.error().ToString();

  vmray::SubmitRequest quoted;
  quoted.filename = "report \"final\".pdf";
  quoted.content = "quoted name content";
  auto second = client->Submit(quoted);
  ASSERT_TRUE(second) << second.error().ToString();

  const Json state = vmray().StateJson();
  ASSERT_THAT(state["submissions"], SizeIs(2));
  const Json& first_sub = state["submissions"][0];
  EXPECT_EQ(first_sub["filename"], "invoice.exe");
  EXPECT_EQ(RawSubmission(first_sub["id"].get<int64_t>())["submission_original_filename"],
            "invoice.exe");
  // No tags, comment or config given: none sent (VMRay refuses an empty tag).
  EXPECT_THAT(first_sub["tags"], IsEmpty());
  EXPECT_TRUE(first_sub["comment"].is_null());
  EXPECT_TRUE(first_sub["user_config"].is_null());
  const Json& second_sub = state["submissions"][1];
  EXPECT_EQ(second_sub["filename"], quoted.filename);
  EXPECT_EQ(RawSubmission(second_sub["id"].get<int64_t>())["submission_original_filename"],
            "sample");
}

TEST_F(VmrayContractTest, SubmitUrl) {
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.url = "https://malicious.example.com/payload?id=7";
  request.tags = {"Sentinel_incident"};
  auto result = client->Submit(request);
  ASSERT_TRUE(result) << result.error().ToString();
  ASSERT_THAT(result->submissions, SizeIs(1));

  const Json sub = OnlySubmission();
  EXPECT_EQ(sub["url"], request.url);
  EXPECT_EQ(sub["tags"], Json::array({"Sentinel_incident"}));
  EXPECT_EQ(RawSubmission(sub["id"].get<int64_t>())["submission_original_url"], request.url);
  EXPECT_EQ(vmray().CountCalls("POST", "/rest/sample/submit"), 1u);

  // The verdict comes from the URL; the raw read above was the first of the two polls.
  auto done = client->GetSubmission(result->submissions[0].submission_id);
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_TRUE(done->finished);
  EXPECT_EQ(done->verdict, "malicious");
}

TEST_F(VmrayContractTest, SubmitSoftErrorComesBackInTheResult) {
  const std::string content = "analysis caching suppresses this one";
  Seed({{"vmray", {{"soft_error_for", {Sha256Hex(content)}}}}});
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "cached.exe";
  request.content = content;
  auto result = client->Submit(request);
  ASSERT_TRUE(result) << result.error().ToString();
  ASSERT_THAT(result->errors, SizeIs(1));
  EXPECT_EQ(result->errors[0].message, "Submission not stored because no jobs were created");
  EXPECT_EQ(result->errors[0].filename, "cached.exe");
  EXPECT_THAT(result->submissions, IsEmpty());
  const Json state = vmray().StateJson();
  EXPECT_EQ(state["submit_count"], 1);
  EXPECT_THAT(state["submissions"], IsEmpty());
}

TEST_F(VmrayContractTest, SubmitOfAnEmptyFileIsRefusedWithVmraysReason) {
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "empty.bin";
  auto result = client->Submit(request);
  ASSERT_FALSE(result);
  const Error& e = Seen(result.error());
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << e.ToString();
  EXPECT_EQ(e.http_status, 400);
  EXPECT_THAT(e.message, HasSubstr("is empty"));
  EXPECT_EQ(vmray().Calls().size(), 1u);
}

TEST_F(VmrayContractTest, GetSubmissionAndAnalysesFollowTheAnalysis) {
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "eicar.com";
  request.content = std::string(kEicar);
  auto submitted = client->Submit(request);
  ASSERT_TRUE(submitted) << submitted.error().ToString();
  const int64_t id = submitted->submissions[0].submission_id;

  // finish_after_polls is 2: the first poll sees it running, without analyses yet.
  auto running = client->GetSubmission(id);
  ASSERT_TRUE(running) << running.error().ToString();
  EXPECT_FALSE(running->finished);
  auto none = client->AnalysesOfSubmission(id);
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_THAT(*none, IsEmpty());

  auto done = client->GetSubmission(id);
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_TRUE(done->finished);
  EXPECT_EQ(done->verdict, "malicious");
  EXPECT_EQ(done->sample_id, submitted->samples[0].sample_id);
  EXPECT_TRUE(done->finish_time.has_value());
  auto analyses = client->AnalysesOfSubmission(id);
  ASSERT_TRUE(analyses) << analyses.error().ToString();
  ASSERT_THAT(*analyses, SizeIs(1));
  EXPECT_EQ((*analyses)[0].verdict, "malicious");
  EXPECT_GT((*analyses)[0].analysis_id, 0);

  const std::string sid = std::to_string(id);
  EXPECT_EQ(vmray().CountCalls("GET", "/rest/submission/" + sid), 2u);
  EXPECT_EQ(vmray().CountCalls("GET", "/rest/analysis/submission/" + sid), 2u);
  EXPECT_EQ(OnlySubmission()["polls"], 2);
}

TEST_F(VmrayContractTest, SubmissionsOfSampleFollowsContinuationIds) {
  Start({{"page_size", 2}});
  const std::string content = "sample with many submissions";
  int64_t sample_id = 0;
  for (int i = 0; i < 5; ++i) sample_id = SeedSample(content, "clean");
  auto client = MakeClient();

  auto subs = client->SubmissionsOfSample(sample_id);
  ASSERT_TRUE(subs) << subs.error().ToString();
  ASSERT_THAT(*subs, SizeIs(5));
  std::set<int64_t> ids;
  for (const auto& s : *subs) {
    EXPECT_EQ(s.sample_id, sample_id);
    EXPECT_TRUE(s.finished);
    ids.insert(s.submission_id);
  }
  EXPECT_THAT(ids, SizeIs(5));

  // Three pages of two: the list, then two continuation pages, each asked once.
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(3));
  EXPECT_EQ(calls[0].path, "/rest/submission/sample/" + std::to_string(sample_id));
  EXPECT_THAT(calls[1].path, ::testing::MatchesRegex("/rest/continuation/[0-9]+"));
  EXPECT_THAT(calls[2].path, ::testing::MatchesRegex("/rest/continuation/[0-9]+"));
  EXPECT_NE(calls[1].path, calls[2].path);
}

TEST_F(VmrayContractTest, ContinuationPageIsRetriedAfter503) {
  Start({{"page_size", 2}});
  const std::string content = "paged sample with a flaky page";
  int64_t sample_id = 0;
  for (int i = 0; i < 3; ++i) sample_id = SeedSample(content, "clean");
  AddFault(Fault("GET", "^/rest/continuation/", 503));
  auto client = MakeClient();

  auto subs = client->SubmissionsOfSample(sample_id);
  ASSERT_TRUE(subs) << subs.error().ToString();
  EXPECT_THAT(*subs, SizeIs(3));
  EXPECT_THAT(StatusesOf(CallsTo(vmray(), "GET", "/rest/continuation/[0-9]+")),
              ElementsAre(503, 200));
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(VmrayContractTest, VtisAndIocsOfAMaliciousSample) {
  const int64_t id = SeedSample("contract malicious sample", "malicious");
  auto client = MakeClient();

  auto vtis = client->Vtis(id);
  ASSERT_TRUE(vtis) << vtis.error().ToString();
  ASSERT_THAT(*vtis, Not(IsEmpty()));
  for (const auto& v : *vtis) {
    EXPECT_FALSE(v.operation.empty());
    EXPECT_GE(v.score, 1);
    EXPECT_LE(v.score, 5);
  }

  auto iocs = client->Iocs(id);
  ASSERT_TRUE(iocs) << iocs.error().ToString();
  ASSERT_TRUE(iocs->contains("iocs")) << iocs->dump();
  EXPECT_TRUE((*iocs)["iocs"].is_object());
  auto malicious = client->Iocs(id, "malicious");
  ASSERT_TRUE(malicious) << malicious.error().ToString();
  EXPECT_TRUE(malicious->contains("iocs"));

  const std::string sid = std::to_string(id);
  const auto calls = vmray().Calls();
  ASSERT_THAT(calls, SizeIs(3));
  EXPECT_EQ(calls[0].path, "/rest/sample/" + sid + "/vtis");
  EXPECT_EQ(calls[1].path, "/rest/sample/" + sid + "/iocs");
  EXPECT_EQ(calls[2].path, "/rest/sample/" + sid + "/iocs/verdict/malicious");
}

// ---- authentication and permissions ---------------------------------------------------------

TEST_F(VmrayContractTest, WrongApiKeyIsUnauthenticatedNamesTheSettingAndIsNotRetried) {
  auto client = MakeClient({}, "wrong-vmray-key-DO-NOT-LOG");
  auto info = client->SystemInfo();
  ASSERT_FALSE(info);
  const Error& e = Seen(info.error());
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated) << e.ToString();
  EXPECT_EQ(e.http_status, 401);
  EXPECT_EQ(e.service, "vmray");
  EXPECT_THAT(e.message, HasSubstr("VmrayAPIKey"));
  EXPECT_THAT(e.message, HasSubstr("Invalid authentication"));
  EXPECT_THAT(e.ToString(), Not(HasSubstr("wrong-vmray-key")));

  auto health = client->HealthCheck();
  ASSERT_FALSE(health);
  EXPECT_EQ(Seen(health.error()).code, ErrorCode::kUnauthenticated);
  // An API key cannot be refreshed: one call per attempt, no back-off.
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(401, 401));
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(VmrayContractTest, ForbiddenIsPermissionDenied) {
  const int64_t id = SeedSample("contract forbidden sample", "clean");
  AddFault(Fault("GET", "^/rest/sample/[0-9]+$", 403));
  auto client = MakeClient();
  auto sample = client->GetSample(id);
  ASSERT_FALSE(sample);
  const Error& e = Seen(sample.error());
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied) << e.ToString();
  EXPECT_EQ(e.http_status, 403);
  EXPECT_THAT(e.message, HasSubstr("Permission denied"));
  EXPECT_EQ(vmray().Calls().size(), 1u);
}

// ---- throttling and retries -----------------------------------------------------------------

TEST_F(VmrayContractTest, TooManyRequestsWaitsRetryAfterSeconds) {
  auto rule = Fault("GET", "^/rest/system_info$", 429);
  rule.retry_after = "3";
  AddFault(rule);
  auto client = MakeClient();
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(3000)));
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(429, 200));
}

TEST_F(VmrayContractTest, TooManyRequestsWaitsRetryAfterHttpDate) {
  auto rule = Fault("GET", "^/rest/system_info$", 429);
  rule.retry_after = HttpDate(clock_.Now() + seconds(7));
  AddFault(rule);
  auto client = MakeClient();
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(7000)));
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(429, 200));
}

TEST_F(VmrayContractTest, RetryAfterBeyondInlineWaitComesBackAsAnError) {
  // Both forms: the job is rescheduled from retry_after instead of a worker sleeping.
  for (const std::string& retry_after :
       {std::string("120"), HttpDate(clock_.Now() + seconds(120))}) {
    auto rule = Fault("GET", "^/rest/system_info$", 429);
    rule.retry_after = retry_after;
    AddFault(rule);
    auto client = MakeClient();
    auto info = client->SystemInfo();
    ASSERT_FALSE(info) << retry_after;
    const Error& e = Seen(info.error());
    EXPECT_EQ(e.code, ErrorCode::kRateLimited) << e.ToString();
    EXPECT_EQ(e.http_status, 429);
    ASSERT_TRUE(e.retry_after.has_value()) << retry_after;
    EXPECT_EQ(*e.retry_after, seconds(120)) << retry_after;
  }
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(429, 429));
}

TEST_F(VmrayContractTest, ServiceUnavailableThenSuccess) {
  AddFault(Fault("GET", "^/rest/system_info$", 503));
  ClientSetup setup;
  auto client = MakeClient(setup);
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(503, 200));
  // No Retry-After: full jitter, below the first back-off step.
  const auto sleeps = clock_.Sleeps();
  ASSERT_THAT(sleeps, SizeIs(1));
  EXPECT_LT(sleeps[0], setup.retry.base_delay);
  EXPECT_THAT(Logs(), HasSubstr("retrying vmray system_info"));
  EXPECT_THAT(Logs(), HasSubstr("(http 503; attempt 1 of 3)"));
}

TEST_F(VmrayContractTest, RetriesStopAtMaxRetries) {
  AddFault(Fault("GET", "^/rest/system_info$", 503, /*times=*/-1));
  ClientSetup setup;
  setup.retry.max_retries = 2;
  auto client = MakeClient(setup);
  auto info = client->SystemInfo();
  ASSERT_FALSE(info);
  const Error& e = Seen(info.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.http_status, 503);
  EXPECT_THAT(e.message, HasSubstr("Service unavailable"));
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(503, 503, 503));
  const auto sleeps = clock_.Sleeps();
  ASSERT_THAT(sleeps, SizeIs(2));
  EXPECT_LT(sleeps[0], Millis(1000));
  EXPECT_LT(sleeps[1], Millis(2000));
}

TEST_F(VmrayContractTest, RetriesStopAtTheTotalBudget) {
  auto rule = Fault("GET", "^/rest/system_info$", 503, /*times=*/-1);
  rule.retry_after = "2";
  AddFault(rule);
  ClientSetup setup;
  setup.retry.max_retries = 10;
  setup.retry.total_budget = Millis(5000);
  auto client = MakeClient(setup);
  auto info = client->SystemInfo();
  ASSERT_FALSE(info);
  EXPECT_EQ(Seen(info.error()).code, ErrorCode::kUnavailable);
  // 0 s, 2 s, 4 s; a third wait would end at 6 s, past the 5 s budget.
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(2000), Millis(2000)));
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(503, 503, 503));
}

// ---- broken answers -------------------------------------------------------------------------

TEST_F(VmrayContractTest, MalformedJsonIsAProtocolErrorWithoutTheBody) {
  emu::FaultRule rule = Fault("GET", "^/rest/system_info$", 200);
  rule.malformed = true;
  AddFault(rule);
  auto client = MakeClient();
  auto info = client->SystemInfo();
  ASSERT_FALSE(info);
  const Error& e = Seen(info.error());
  EXPECT_EQ(e.code, ErrorCode::kProtocol) << e.ToString();
  EXPECT_EQ(e.service, "vmray");
  EXPECT_THAT(e.message, HasSubstr("VMRay"));
  EXPECT_THAT(e.message, HasSubstr("malformed JSON"));
  EXPECT_THAT(e.message, Not(HasSubstr("truncat")));
  EXPECT_EQ(vmray().Calls().size(), 1u);
}

TEST_F(VmrayContractTest, SlowAnswerTimesOut) {
  emu::FaultRule rule = Fault("GET", "^/rest/system_info$", 200);
  rule.delay_ms = 1500;
  rule.pass_through = true;
  AddFault(rule);
  ClientSetup setup;
  setup.transport.request_timeout = Millis(300);
  setup.retry.max_retries = 0;
  auto client = MakeClient(setup);
  auto info = client->SystemInfo();
  ASSERT_FALSE(info);
  const Error& e = Seen(info.error());
  EXPECT_EQ(e.code, ErrorCode::kTimeout) << e.ToString();
  EXPECT_EQ(e.service, "vmray");
  EXPECT_EQ(e.service_code, http::kTransportTimeout);
}

TEST_F(VmrayContractTest, SlowAnswerOnAGetIsRetried) {
  emu::FaultRule rule = Fault("GET", "^/rest/system_info$", 200);
  rule.delay_ms = 1500;
  rule.pass_through = true;
  AddFault(rule);
  ClientSetup setup;
  setup.transport.request_timeout = Millis(300);
  auto client = MakeClient(setup);
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(VmrayContractTest, DroppedConnectionOnAGetIsRetried) {
  emu::FaultRule rule = Fault("GET", "^/rest/system_info$", 200);
  rule.drop_connection = true;
  AddFault(rule);
  auto client = MakeClient();
  auto info = client->SystemInfo();
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(vmray().CountCalls("GET", "/rest/system_info"), 2u);
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(VmrayContractTest, DroppedConnectionOnSubmitIsNotRetried) {
  emu::FaultRule rule = Fault("POST", "^/rest/sample/submit$", 200);
  rule.drop_connection = true;
  AddFault(rule);
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "once.exe";
  request.content = "must be submitted at most once";
  auto result = client->Submit(request);
  ASSERT_FALSE(result);
  const Error& e = Seen(result.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.service, "vmray");
  EXPECT_EQ(e.service_code, http::kTransportIo);
  // The server may have acted on it: a second submission would analyse the file twice.
  EXPECT_EQ(vmray().CountCalls("POST", "/rest/sample/submit"), 1u);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(VmrayContractTest, SubmitIsNotRepeatedAfter503) {
  AddFault(Fault("POST", "^/rest/sample/submit$", 503));
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "once.exe";
  request.content = "must be submitted at most once";
  auto result = client->Submit(request);
  ASSERT_FALSE(result);
  const Error& e = Seen(result.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.http_status, 503);
  EXPECT_EQ(vmray().CountCalls("POST", "/rest/sample/submit"), 1u);
  EXPECT_THAT(vmray().StateJson()["submissions"], IsEmpty());
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(VmrayContractTest, SubmitIsRepeatedAfter429BecauseNothingWasStored) {
  auto rule = Fault("POST", "^/rest/sample/submit$", 429);
  rule.retry_after = "1";
  AddFault(rule);
  auto client = MakeClient();
  vmray::SubmitRequest request;
  request.filename = "throttled.exe";
  request.content = "submitted once after a 429";
  auto result = client->Submit(request);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_THAT(StatusesOf(vmray().Calls()), ElementsAre(429, 200));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(1000)));
  OnlySubmission();
}

}  // namespace
}  // namespace vc::contract
