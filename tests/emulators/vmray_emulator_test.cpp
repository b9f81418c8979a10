// The VMRay emulator against its contract: what a correct client gets, and that an incorrect
// client is caught (assertion recorded) instead of silently served.
#include "vmray_emulator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.hpp"
#include "core/time.hpp"
#include "vmray_fixtures.hpp"

namespace vc::emu {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kKey[] = "emu-vmray-key-DO-NOT-LOG";
// The standard 68-byte antivirus test file and its well-known sha256.
constexpr char kEicar[] = R"(X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*)";
constexpr char kEicarSha256[] = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
constexpr char kSeedSha256[] = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
constexpr char kSeedSha1[] = "6c26eab9b233bd1921f1607879a9d3f4aa92ff23";
constexpr char kSeedMd5[] = "607234cb98cd6127dbc761c04c53fd65";

Json ReadFixture(const std::string& name) {
  std::ifstream in(std::string(VC_FIXTURES_DIR) + "/real/vmray/" + name);
  EXPECT_TRUE(in) << name;
  return Json::parse(in);
}

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
  out.resize(n);
  return out;
}

std::string Hex64(char fill) {
  return std::string(64, fill);
}

httplib::MultipartFormData FilePart(std::string content, std::string filename) {
  return {"sample_file", std::move(content), std::move(filename), "application/octet-stream"};
}
httplib::MultipartFormData Field(std::string name, std::string value) {
  return {std::move(name), std::move(value), "", ""};
}

class VmrayEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith(Json::object()); }

  void StartWith(const Json& options) {
    client_.reset();
    emu_.reset();
    emu_ =
        std::make_unique<VmrayEmulator>(VmrayEmulator::Options::FromJson(options), clock_, tokens_);
    emu_->Start();
    client_ = std::make_unique<httplib::Client>(emu_->BaseUrl());
    client_->set_read_timeout(std::chrono::seconds(10));
  }

  static httplib::Headers Auth() { return {{"Authorization", std::string("api_key ") + kKey}}; }

  httplib::Result Get(const std::string& path) { return client_->Get(path, Auth()); }

  // GET that must succeed; returns the whole envelope.
  Json GetEnvelope(const std::string& path) {
    auto res = Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return Json();
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    Json body = Json::parse(res->body);
    EXPECT_EQ(body.at("result"), "ok");
    return body;
  }
  Json GetData(const std::string& path) { return GetEnvelope(path).at("data"); }

  httplib::Result Submit(const httplib::MultipartFormDataItems& items) {
    return client_->Post("/rest/sample/submit", Auth(), items);
  }
  // Submit that must succeed; returns `data`.
  Json SubmitOk(const httplib::MultipartFormDataItems& items) {
    auto res = Submit(items);
    EXPECT_TRUE(res);
    if (!res) return Json();
    EXPECT_EQ(res->status, 200) << res->body;
    return Json::parse(res->body).at("data");
  }

  // Polls until finished (bounded) and returns the submission object.
  Json PollUntilFinished(int64_t submission_id, int max_polls = 5) {
    Json sub;
    for (int i = 0; i < max_polls; ++i) {
      sub = GetData("/rest/submission/" + std::to_string(submission_id));
      if (sub.at("submission_finished").get<bool>()) return sub;
    }
    ADD_FAILURE() << "submission " << submission_id << " did not finish";
    return sub;
  }

  // The call log is written after the response went out, so a count read right after the
  // client returns can lag by a moment: wait for it, bounded.
  size_t CallsAfterSettling(const std::string& method, const std::string& path_regex,
                            size_t expected) {
    size_t n = emu_->CountCalls(method, path_regex);
    for (int i = 0; i < 200 && n < expected; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      n = emu_->CountCalls(method, path_regex);
    }
    return n;
  }

  void SeedOk(const Json& seed) {
    auto problem = emu_->Seed(seed);
    ASSERT_FALSE(problem.has_value()) << *problem;
  }

  ManualClock clock_;
  TokenRegistry tokens_;
  std::unique_ptr<VmrayEmulator> emu_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(VmrayEmulatorTest, EmbeddedFixturesEqualTheFilesTheyWereCopiedFrom) {
  ASSERT_FALSE(vmray::EmbeddedFixtures().empty());
  for (const auto& f : vmray::EmbeddedFixtures()) {
    EXPECT_EQ(Json::parse(f.text), ReadFixture(std::string(f.file))) << f.file;
  }
}

TEST_F(VmrayEmulatorTest, MissingOrWrongApiKeyIs401WithVmrayErrorBody) {
  const Json expected = ReadFixture("error_401_invalid_authentication_rapid7.json");
  const std::vector<httplib::Headers> bad = {
      {},
      {{"Authorization", "api_key wrong-key"}},
      {{"Authorization", std::string("Bearer ") + kKey}},
      {{"Authorization", std::string("API_KEY ") + kKey}},
      {{"Authorization", std::string("api_key  ") + kKey}},
      {{"Authorization", kKey}},
  };
  for (const auto& headers : bad) {
    auto res = client_->Get("/rest/system_info", headers);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(Json::parse(res->body), expected);
  }
  auto submit =
      client_->Post("/rest/sample/submit", httplib::MultipartFormDataItems{FilePart("x", "x.bin")});
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->status, 401);
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty()) << "a bad key is the client's runtime "
                                                       "problem, not a contract violation";
  EXPECT_EQ(GetData("/rest/system_info").at("version"), "4.2.0");
}

TEST_F(VmrayEmulatorTest, SystemInfoPointsAtTheEmulatorsWebInterface) {
  const Json info = GetData("/rest/system_info");
  EXPECT_EQ(info.at("webif_base_url"), emu_->BaseUrl());
  EXPECT_EQ(info.at("api_items_per_request"), 100);
  EXPECT_EQ(info.at("webif_max_upload_size"), 209715200);
  EXPECT_EQ(info.at("version_major"), 4);

  StartWith({{"webif_base_url", "https://vmray.example.com/"}, {"page_size", 7}});
  const Json other = GetData("/rest/system_info");
  EXPECT_EQ(other.at("webif_base_url"), "https://vmray.example.com");
  EXPECT_EQ(other.at("api_items_per_request"), 7);
}

TEST_F(VmrayEmulatorTest, UnknownHashGivesEmptyList) {
  EXPECT_EQ(GetData("/rest/sample/sha256/" + Hex64('a')), Json::array());
  EXPECT_EQ(GetData("/rest/sample/md5/" + std::string(32, 'b')), Json::array());
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, SeededSampleIsFoundBySha256Sha1AndMd5InEitherCase) {
  SeedOk({{"samples",
           {{{"sha256", kSeedSha256},
             {"sha1", kSeedSha1},
             {"md5", kSeedMd5},
             {"filename", "SmokeTester.exe"},
             {"verdict", "malicious"},
             {"analysed_at", "2023-11-10T08:00:00"}}}}});
  std::string upper = kSeedSha256;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& path :
       {"/rest/sample/sha256/" + std::string(kSeedSha256), "/rest/sample/sha256/" + upper,
        "/rest/sample/sha1/" + std::string(kSeedSha1),
        "/rest/sample/md5/" + std::string(kSeedMd5)}) {
    const Json list = GetData(path);
    ASSERT_THAT(list, SizeIs(1)) << path;
    const Json& s = list[0];
    EXPECT_EQ(s.at("sample_sha256hash"), kSeedSha256);
    EXPECT_EQ(s.at("sample_md5hash"), kSeedMd5);
    EXPECT_EQ(s.at("sample_verdict"), "malicious");
    EXPECT_EQ(s.at("sample_filename"), "SmokeTester.exe");
    EXPECT_EQ(s.at("sample_classifications"), Json::array({"EICAR"}));
    EXPECT_EQ(s.at("sample_webif_url"), emu_->BaseUrl() + "/user/sample/view?id=" +
                                            std::to_string(s.at("sample_id").get<int64_t>()));
  }
  // Same keys as the real sample document: the lookup gives full sample objects.
  const Json sample = GetData("/rest/sample/sha256/" + std::string(kSeedSha256))[0];
  const Json real = ReadFixture("sample_details_malicious.json").at("data");
  for (const auto& [key, value] : real.items()) EXPECT_TRUE(sample.contains(key)) << key;
  EXPECT_EQ(sample.size(), real.size());
  const int64_t id = sample.at("sample_id").get<int64_t>();
  EXPECT_EQ(GetData("/rest/sample/" + std::to_string(id)), sample);

  // The seeded analysis is complete: one finished submission, one analysis, VTIs and IOCs.
  const Json subs = GetData("/rest/submission/sample/" + std::to_string(id));
  ASSERT_THAT(subs, SizeIs(1));
  EXPECT_EQ(subs[0].at("submission_finished"), true);
  EXPECT_EQ(subs[0].at("submission_finish_time"), "2023-11-10T08:00:00");
  EXPECT_EQ(subs[0].at("submission_verdict"), "malicious");
  const Json analyses = GetData("/rest/analysis/submission/" +
                                std::to_string(subs[0].at("submission_id").get<int64_t>()));
  ASSERT_THAT(analyses, SizeIs(1));
  EXPECT_EQ(analyses[0].at("analysis_sample_id"), id);
  EXPECT_FALSE(
      GetData("/rest/sample/" + std::to_string(id) + "/vtis").at("threat_indicators").empty());
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, MissingSeedHashesAreDerivedDeterministically) {
  SeedOk({{"samples", {{{"sha256", Hex64('c')}, {"verdict", "clean"}}}}});
  const Json first = GetData("/rest/sample/sha256/" + Hex64('c'))[0];
  EXPECT_THAT(first.at("sample_md5hash").get<std::string>(), SizeIs(32));
  EXPECT_THAT(first.at("sample_sha1hash").get<std::string>(), SizeIs(40));
  EXPECT_EQ(GetData("/rest/sample/md5/" + first.at("sample_md5hash").get<std::string>()),
            Json::array({first}));
  emu_->ResetState();
  SeedOk({{"samples", {{{"sha256", Hex64('c')}, {"verdict", "clean"}}}}});
  EXPECT_EQ(GetData("/rest/sample/sha256/" + Hex64('c'))[0].at("sample_md5hash"),
            first.at("sample_md5hash"));
}

TEST_F(VmrayEmulatorTest, MalformedHashOrIdIsAContractViolation) {
  for (const std::string& path :
       std::vector<std::string>{"/rest/sample/sha256/abc", "/rest/sample/md5/" + Hex64('a'),
                                "/rest/sample/sha1/" + std::string(40, 'g'),
                                "/rest/sample/not-a-number", "/rest/submission/12x"}) {
    auto res = Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_THAT(res->body, HasSubstr("emulator assertion failed")) << path;
  }
  EXPECT_THAT(emu_->AssertionFailures(), SizeIs(5));
  EXPECT_THAT(emu_->AssertionFailures()[0], HasSubstr("64 hex digits"));
}

TEST_F(VmrayEmulatorTest, UnknownIdsAre404NoSuchElement) {
  for (const std::string path :
       {"/rest/sample/1", "/rest/submission/1", "/rest/analysis/1", "/rest/job/submission/1",
        "/rest/continuation/99", "/rest/sample/1/iocs", "/rest/analysis/submission/1"}) {
    auto res = Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(Json::parse(res->body),
              Json({{"result", "error"}, {"error_msg", "No such element"}}));
  }
}

TEST_F(VmrayEmulatorTest, EicarSubmissionWithNonAsciiNameFinishesMaliciousWithVtisAndIocs) {
  const std::string name = "Rechnung \xC3\xBC\xC3\x9F \xE6\x97\xA5\xE6\x9C\xAC.exe";  // ü ß 日本
  const Json data = SubmitOk({FilePart(kEicar, "@param=sample_filename_b64enc"),
                              Field("sample_filename_b64enc", Base64(name)),
                              Field("tags", "EDR_alert,da638:1-x.y"),
                              Field("comment", "Sample from VMRay Analyzer - MDE Connector"),
                              Field("user_config", R"({"timeout":120})")});
  // Response shape of the real submit capture.
  const Json real = ReadFixture("submit_file_response_rapid7.json").at("data");
  for (const auto& [key, value] : real.items()) EXPECT_TRUE(data.contains(key)) << key;
  EXPECT_EQ(data.size(), real.size());
  EXPECT_THAT(data.at("errors"), IsEmpty());
  ASSERT_THAT(data.at("submissions"), SizeIs(1));
  ASSERT_THAT(data.at("samples"), SizeIs(1));
  ASSERT_THAT(data.at("jobs"), SizeIs(1));
  const Json& submitted = data.at("submissions")[0];
  EXPECT_EQ(submitted.at("submission_finished"), false);
  EXPECT_EQ(submitted.at("submission_filename"), name);
  EXPECT_EQ(submitted.at("submission_tags"), Json::array({"EDR_alert", "da638:1-x.y"}));
  const Json& sample = data.at("samples")[0];
  EXPECT_EQ(sample.at("sample_sha256hash"), kEicarSha256);
  EXPECT_EQ(sample.at("sample_filesize"), 68);
  EXPECT_EQ(sample.at("submission_filename"), name);
  EXPECT_EQ(data.at("jobs")[0].at("job_status"), "queued");
  const int64_t sub_id = submitted.at("submission_id").get<int64_t>();
  const int64_t sample_id = sample.at("sample_id").get<int64_t>();
  const std::string sub_path = "/rest/submission/" + std::to_string(sub_id);
  const std::string jobs_path = "/rest/job/submission/" + std::to_string(sub_id);
  const std::string sample_path = "/rest/sample/" + std::to_string(sample_id);

  EXPECT_EQ(GetData(jobs_path)[0].at("job_status"), "queued");
  EXPECT_EQ(GetData("/rest/analysis/submission/" + std::to_string(sub_id)), Json::array());
  EXPECT_EQ(GetData(sub_path).at("submission_finished"), false);  // poll 1 of 2
  EXPECT_EQ(GetData(jobs_path)[0].at("job_status"), "inwork");
  const Json finished = GetData(sub_path);  // poll 2: finished
  EXPECT_EQ(finished.at("submission_finished"), true);
  EXPECT_EQ(finished.at("submission_verdict"), "malicious");
  EXPECT_EQ(finished.at("submission_severity"), "malicious");
  EXPECT_EQ(finished.at("submission_score"), 100);
  EXPECT_EQ(finished.at("submission_finish_time"), FormatVmrayTime(clock_.Now()));
  const Json real_sub = ReadFixture("submission_finished_misp_feed.json").at("data");
  for (const auto& [key, value] : real_sub.items()) EXPECT_TRUE(finished.contains(key)) << key;

  auto jobs = Get(jobs_path);
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->status, 404);

  const Json analyses = GetData("/rest/analysis/submission/" + std::to_string(sub_id));
  ASSERT_THAT(analyses, SizeIs(1));
  const int64_t analysis_id = analyses[0].at("analysis_id").get<int64_t>();
  EXPECT_EQ(analyses[0].at("analysis_verdict"), "malicious");
  EXPECT_EQ(GetData("/rest/analysis?analysis_submission_id=" + std::to_string(sub_id)), analyses);

  const Json details = GetData(sample_path);
  EXPECT_EQ(details.at("sample_verdict"), "malicious");
  EXPECT_EQ(details.at("sample_vti_score"), 100);
  EXPECT_EQ(details.at("sample_threat_names"),
            Json::array({"EICAR", "EICAR-Test-File (not a virus)"}));

  const Json vtis = GetData(sample_path + "/vtis");
  EXPECT_EQ(vtis.at("status"), "finished");
  EXPECT_THAT(vtis.at("threat_indicators"), SizeIs(11));
  EXPECT_EQ(vtis.at("threat_indicators")[0].at("analysis_ids"), Json::array({analysis_id}));

  const Json iocs = GetData(sample_path + "/iocs").at("iocs");
  for (const char* kind : {"files", "domains", "ips", "urls"}) {
    ASSERT_FALSE(iocs.at(kind).empty()) << kind;
    for (const Json& entry : iocs.at(kind)) EXPECT_EQ(entry.at("verdict"), "malicious") << kind;
  }
  EXPECT_EQ(iocs.at("files")[0].at("hashes")[0].at("sha256_hash"), kEicarSha256);
  EXPECT_EQ(iocs.at("files")[0].at("filename"), name);
  EXPECT_EQ(GetData(sample_path + "/iocs/verdict/malicious").at("iocs"), iocs);
  const Json clean_only = GetData(sample_path + "/iocs/verdict/clean").at("iocs");
  for (const auto& [kind, list] : clean_only.items()) EXPECT_THAT(list, IsEmpty()) << kind;
  const Json all = GetData(sample_path + "/iocs/all_artifacts/true").at("iocs");
  EXPECT_EQ(all.at("domains").size(), iocs.at("domains").size() + 1);
  EXPECT_EQ(all.at("domains").back().at("ioc"), false);
  EXPECT_FALSE(GetData(sample_path + "/mitre_attack").at("mitre_attack_techniques").empty());

  const Json state = emu_->StateJson();
  ASSERT_THAT(state.at("submissions"), SizeIs(1));
  const Json& recorded = state.at("submissions")[0];
  EXPECT_EQ(recorded.at("filename"), name);
  EXPECT_EQ(recorded.at("tags"), Json::array({"EDR_alert", "da638:1-x.y"}));
  EXPECT_EQ(recorded.at("comment"), "Sample from VMRay Analyzer - MDE Connector");
  EXPECT_EQ(recorded.at("user_config"), Json({{"timeout", 120}}));
  EXPECT_EQ(recorded.at("verdict"), "malicious");
  EXPECT_EQ(recorded.at("polls"), 2);
  EXPECT_EQ(state.at("submit_count"), 1);
  EXPECT_EQ(CallsAfterSettling("GET", "/rest/submission/\\d+", 2), 2u);
  EXPECT_EQ(CallsAfterSettling("POST", "/rest/sample/submit", 1), 1u);
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, CleanFileFinishesCleanWithoutIndicators) {
  const Json data = SubmitOk({FilePart("just a harmless text file\n", "notes.txt")});
  const int64_t sub_id = data.at("submissions")[0].at("submission_id").get<int64_t>();
  const int64_t sample_id = data.at("samples")[0].at("sample_id").get<int64_t>();
  EXPECT_EQ(PollUntilFinished(sub_id).at("submission_verdict"), "clean");
  const std::string sample_path = "/rest/sample/" + std::to_string(sample_id);
  const Json details = GetData(sample_path);
  EXPECT_EQ(details.at("sample_verdict"), "clean");
  EXPECT_LT(details.at("sample_vti_score").get<int>(), 20);
  EXPECT_THAT(details.at("sample_classifications"), IsEmpty());
  EXPECT_THAT(GetData(sample_path + "/vtis").at("threat_indicators"), IsEmpty());
  const Json iocs = GetData(sample_path + "/iocs").at("iocs");
  for (const auto& [kind, list] : iocs.items()) {
    EXPECT_THAT(list, IsEmpty()) << kind;
  }
}

TEST_F(VmrayEmulatorTest, SuspiciousMarkerGivesSuspiciousWithoutTheStrongestVtis) {
  const Json data = SubmitOk({FilePart("payload VC-SUSPICIOUS payload", "s.bin")});
  const int64_t sub_id = data.at("submissions")[0].at("submission_id").get<int64_t>();
  EXPECT_EQ(PollUntilFinished(sub_id).at("submission_verdict"), "suspicious");
  const std::string sample_path =
      "/rest/sample/" + std::to_string(data.at("samples")[0].at("sample_id").get<int64_t>());
  const Json vtis = GetData(sample_path + "/vtis").at("threat_indicators");
  ASSERT_FALSE(vtis.empty());
  for (const Json& v : vtis) EXPECT_LT(v.at("score").get<int>(), 4);
  EXPECT_EQ(GetData(sample_path + "/iocs/verdict/suspicious").at("iocs").at("ips")[0].at("verdict"),
            "suspicious");
}

TEST_F(VmrayEmulatorTest, SameContentReusesTheSampleWithANewSubmission) {
  const Json first = SubmitOk({FilePart(kEicar, "a.exe")});
  const Json second = SubmitOk({FilePart(kEicar, "b.exe"), Field("tags", "AV_Alert")});
  EXPECT_EQ(first.at("samples")[0].at("sample_id"), second.at("samples")[0].at("sample_id"));
  EXPECT_NE(first.at("submissions")[0].at("submission_id"),
            second.at("submissions")[0].at("submission_id"));
  EXPECT_THAT(GetData("/rest/sample/sha256/" + std::string(kEicarSha256)), SizeIs(1));
  EXPECT_EQ(emu_->StateJson().at("submit_count"), 2);
}

TEST_F(VmrayEmulatorTest, AnalysisTimeHoldsTheResultBackUntilTheClockPassesIt) {
  StartWith({{"finish_after_polls", 1}, {"analysis_ms", 60000}});
  const Json data = SubmitOk({FilePart(kEicar, "a.exe")});
  const std::string path =
      "/rest/submission/" +
      std::to_string(data.at("submissions")[0].at("submission_id").get<int64_t>());
  EXPECT_EQ(GetData(path).at("submission_finished"), false);
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(GetData(path).at("submission_finished"), false);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetData(path).at("submission_finished"), true);
}

TEST_F(VmrayEmulatorTest, UrlSubmissionUsesSeededVerdictThenUrlWords) {
  SeedOk({{"verdicts",
           {{"https://harmless.example.org/page",
             {{"verdict", "malicious"}, {"threat_names", {"Phish.Kit"}}}}}}});
  const Json seeded = SubmitOk({Field("sample_url", "https://harmless.example.org/page")});
  const Json& sample = seeded.at("samples")[0];
  EXPECT_EQ(sample.at("sample_type"), "URL");
  EXPECT_EQ(sample.at("sample_url"), "https://harmless.example.org/page");
  const int64_t sub_id = seeded.at("submissions")[0].at("submission_id").get<int64_t>();
  EXPECT_EQ(PollUntilFinished(sub_id).at("submission_verdict"), "malicious");
  const std::string sample_path =
      "/rest/sample/" + std::to_string(sample.at("sample_id").get<int64_t>());
  EXPECT_EQ(GetData(sample_path).at("sample_threat_names"), Json::array({"Phish.Kit"}));
  EXPECT_EQ(GetData(sample_path + "/iocs").at("iocs").at("urls")[0].at("url"),
            "https://harmless.example.org/page");

  // Form-urlencoded is how the python library posts a submit without a file.
  auto res = client_->Post("/rest/sample/submit", Auth(),
                           httplib::Params{{"sample_url", "http://a.example/suspicious/x"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const int64_t second =
      Json::parse(res->body).at("data").at("submissions")[0].at("submission_id").get<int64_t>();
  EXPECT_EQ(PollUntilFinished(second).at("submission_verdict"), "suspicious");
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, SeededVerdictForAHashOverridesTheContent) {
  SeedOk({{"verdicts", {{kEicarSha256, {{"verdict", "clean"}}}}}});
  const Json data = SubmitOk({FilePart(kEicar, "eicar.com")});
  EXPECT_EQ(PollUntilFinished(data.at("submissions")[0].at("submission_id").get<int64_t>())
                .at("submission_verdict"),
            "clean");
}

TEST_F(VmrayEmulatorTest, BadTagIs400NamingTheTag) {
  auto res = Submit({FilePart(kEicar, "a.exe"), Field("tags", "AV_Alert,Trojan:Win32/Wacatac")});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  const Json body = Json::parse(res->body);
  EXPECT_EQ(body.at("result"), "error");
  EXPECT_THAT(body.at("error_msg").get<std::string>(), HasSubstr("'Trojan:Win32/Wacatac'"));
  for (const std::string tags : {"", "a,,b", "has space"}) {
    auto again = Submit({FilePart(kEicar, "a.exe"), Field("tags", tags)});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 400) << tags;
  }
  EXPECT_THAT(emu_->StateJson().at("submissions"), IsEmpty());
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, InvalidValuesAre400) {
  const std::vector<httplib::MultipartFormDataItems> cases = {
      {FilePart(kEicar, "a.exe"), Field("user_config", "[120]")},
      {FilePart(kEicar, "a.exe"), Field("user_config", "{not json")},
      {FilePart(kEicar, "a.exe"), Field("analyzer_mode", "dynamic")},
      {FilePart(kEicar, "a.exe"), Field("max_jobs", "two")},
      {FilePart(kEicar, "a.exe"), Field("reanalyze", "yes")},
      {FilePart("", "empty.bin")},
  };
  for (const auto& items : cases) {
    auto res = Submit(items);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << items.back().name;
    EXPECT_EQ(Json::parse(res->body).at("result"), "error") << items.back().name;
  }
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
  // The documented optional fields are accepted.
  SubmitOk({FilePart(kEicar, "a.exe"), Field("analyzer_mode", "static_dynamic"),
            Field("reanalyze", "True"), Field("shareable", "false"), Field("max_jobs", "3"),
            Field("archive_password", "infected"), Field("document_password", "x"),
            Field("sample_type", "Windows Exe (x86-32)"), Field("jobrule_entries", "x")});
}

TEST_F(VmrayEmulatorTest, ContractViolationsOnSubmitAreAssertions) {
  struct Case {
    httplib::MultipartFormDataItems items;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{FilePart(kEicar, "a.exe"), Field("alert_id", "da1")},
       "unknown submit form field 'alert_id'"},
      {{FilePart(kEicar, "a.exe"), Field("sample_url", "http://x.example")}, "exactly one"},
      {{Field("comment", "no sample")}, "exactly one"},
      {{Field("sample_file", "not a file part")}, "file part"},
      {{FilePart(kEicar, "a.exe"), Field("sample_filename_b64enc", "%%%")}, "base64"},
      {{FilePart(kEicar, "a.exe"), Field("tags", "a"), Field("tags", "b")}, "more than once"},
  };
  for (const auto& c : cases) {
    emu_->ClearCalls();
    auto res = Submit(c.items);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    ASSERT_THAT(emu_->AssertionFailures(), SizeIs(1)) << c.reason;
    EXPECT_THAT(emu_->AssertionFailures()[0], HasSubstr(c.reason));
  }
  emu_->ClearCalls();
  auto json =
      client_->Post("/rest/sample/submit", Auth(), R"({"sample_url":"x"})", "application/json");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 400);
  EXPECT_THAT(emu_->AssertionFailures(), ElementsAre(HasSubstr("multipart/form-data")));
  EXPECT_THAT(emu_->StateJson().at("submissions"), IsEmpty());
}

TEST_F(VmrayEmulatorTest, UploadOverTheLimitIs400) {
  StartWith({{"max_upload_size", 1000}});
  auto res = Submit({FilePart(std::string(2000, 'A'), "big.bin")});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(Json::parse(res->body).at("error_msg").get<std::string>(),
              HasSubstr("maximum upload size of 1000 bytes"));
  EXPECT_THAT(emu_->StateJson().at("submissions"), IsEmpty());
}

TEST_F(VmrayEmulatorTest, SoftErrorAnswers200WithErrorsAndStoresNothing) {
  SeedOk({{"soft_error_for", {kEicarSha256}}});
  const Json data = SubmitOk({FilePart(kEicar, "cached.exe")});
  ASSERT_THAT(data.at("errors"), SizeIs(1));
  EXPECT_EQ(data.at("errors")[0],
            Json({{"error_msg", "Submission not stored because no jobs were created"},
                  {"submission_filename", "cached.exe"}}));
  EXPECT_THAT(data.at("submissions"), IsEmpty());
  EXPECT_THAT(data.at("samples"), IsEmpty());
  EXPECT_THAT(data.at("jobs"), IsEmpty());
  const Json state = emu_->StateJson();
  EXPECT_THAT(state.at("submissions"), IsEmpty());
  EXPECT_THAT(state.at("samples"), IsEmpty());
  EXPECT_EQ(state.at("submit_count"), 1);
}

TEST_F(VmrayEmulatorTest, ContinuationPagesReturnEverySubmissionExactlyOnce) {
  StartWith({{"page_size", 2}});
  Json samples = Json::array();
  for (char c : std::string("12345"))
    samples.push_back({{"sha256", Hex64(c)}, {"verdict", "malicious"}});
  SeedOk({{"samples", samples}});

  Json page = GetEnvelope("/rest/submission");
  std::vector<int64_t> ids;
  int pages = 1;
  while (true) {
    for (const Json& s : page.at("data")) ids.push_back(s.at("submission_id").get<int64_t>());
    EXPECT_LE(page.at("data").size(), 2u);
    if (!page.contains("continuation_id")) break;
    ASSERT_LT(pages, 10);
    page = GetEnvelope("/rest/continuation/" +
                       std::to_string(page.at("continuation_id").get<int64_t>()));
    ++pages;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(ids, SizeIs(5));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 5u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(CallsAfterSettling("GET", "/rest/continuation/\\d+", 2), 2u);

  // The list controls: newest first, limited, after an id.
  const Json desc = GetData("/rest/submission?_order=desc&_limit=2");
  ASSERT_THAT(desc, SizeIs(2));
  EXPECT_EQ(desc[0].at("submission_id"), ids[4]);
  const Json after = GetData("/rest/submission?_last_id=" + std::to_string(ids[2]));
  ASSERT_THAT(after, SizeIs(2));
  EXPECT_EQ(after[0].at("submission_id"), ids[3]);
}

TEST_F(VmrayEmulatorTest, FinishTimeWindowIsInclusiveAndCombinesWithVerdict) {
  SeedOk(
      {{"samples",
        {{{"sha256", Hex64('1')}, {"verdict", "malicious"}, {"analysed_at", "2024-03-01T10:00:00"}},
         {{"sha256", Hex64('2')},
          {"verdict", "suspicious"},
          {"analysed_at", "2024-03-01T11:00:00"}},
         {{"sha256", Hex64('3')}, {"verdict", "malicious"}, {"analysed_at", "2024-03-01T12:00:00"}},
         {{"sha256", Hex64('4')},
          {"verdict", "malicious"},
          {"analysed_at", "2024-03-02T12:00:00"}}}}});
  auto shas = [](const Json& list) {
    std::vector<std::string> out;
    for (const Json& s : list) out.push_back(s.at("submission_sample_sha256").get<std::string>());
    return out;
  };
  const std::string window =
      "/rest/submission?submission_finish_time=2024-03-01T10:00:00~2024-03-01T12:00:00";
  EXPECT_THAT(shas(GetData(window)), ElementsAre(Hex64('1'), Hex64('2'), Hex64('3')));
  EXPECT_THAT(shas(GetData(window + "&submission_verdict=malicious")),
              ElementsAre(Hex64('1'), Hex64('3')));
  EXPECT_THAT(shas(GetData(window + "&submission_verdict=suspicious")), ElementsAre(Hex64('2')));
  EXPECT_THAT(GetData(window + "&submission_verdict=clean"), IsEmpty());
  // Unfinished submissions have no finish time and never match a window.
  SubmitOk({FilePart(kEicar, "pending.exe")});
  EXPECT_THAT(
      GetData("/rest/submission?submission_finish_time=2000-01-01T00:00:00~2100-01-01T00:00:00"),
      SizeIs(4));
  EXPECT_THAT(GetData("/rest/submission"), SizeIs(5));
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, BadListParametersAreAssertions) {
  for (const std::string query :
       {"submission_finish_time=2024-03-01~2024-03-02",
        "submission_finish_time=2024-03-01T10:00:00", "submission_verdict=evil", "_order=up",
        "_limit=0", "_limit=-1", "page=2", "_limit=1&_limit=2"}) {
    auto res = Get("/rest/submission?" + query);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << query;
  }
  EXPECT_THAT(emu_->AssertionFailures(), SizeIs(8));
  EXPECT_THAT(emu_->AssertionFailures(), Contains(HasSubstr("unknown query parameter 'page'")));
  auto extra = Get("/rest/system_info?verbose=1");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->status, 400);
}

TEST_F(VmrayEmulatorTest, InjectedFaultsUseTheVmrayErrorEnvelope) {
  auto add =
      client_->Post("/_emulator/faults",
                    R"([{"path_regex": "^/rest/submission/", "status": 429, "retry_after": 7},
                               {"path_regex": "^/rest/system_info$", "malformed": true},
                               {"path_regex": "^/rest/sample/", "status": 503, "times": 2}])",
                    "application/json");
  ASSERT_TRUE(add);
  ASSERT_EQ(add->status, 200) << add->body;

  auto limited = Get("/rest/submission/1");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "7");
  EXPECT_EQ(Json::parse(limited->body).at("result"), "error");
  EXPECT_EQ(Get("/rest/submission/1")->status, 404);  // the fault was used up

  auto malformed = Get("/rest/system_info");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_TRUE(Json::parse(malformed->body, nullptr, false).is_discarded());

  const std::string lookup = "/rest/sample/sha256/" + Hex64('e');
  for (int i = 0; i < 2; ++i) {
    auto down = Get(lookup);
    ASSERT_TRUE(down);
    EXPECT_EQ(down->status, 503);
    EXPECT_EQ(Json::parse(down->body),
              Json({{"result", "error"}, {"error_msg", "Service unavailable"}}));
  }
  EXPECT_EQ(Get(lookup)->status, 200);
  EXPECT_EQ(CallsAfterSettling("GET", "/rest/sample/sha256/.*", 3), 3u);
}

// A fault answered before the server read the upload must not leave the body on the kept-alive
// connection, where it was parsed as a second request (a logged 400 that made resent
// submissions look refused).
TEST_F(VmrayEmulatorTest, FaultOnAnUploadLeavesTheConnectionCleanForTheResend) {
  auto add =
      client_->Post("/_emulator/faults",
                    R"([{"path_regex": "^/rest/sample/submit$", "status": 429, "times": 1}])",
                    "application/json");
  ASSERT_TRUE(add);
  ASSERT_EQ(add->status, 200) << add->body;
  emu_->ClearCalls();
  client_->set_keep_alive(true);
  const std::string big(256 * 1024, 'Z');
  auto first = Submit({FilePart(big, "big.bin")});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 429);
  auto second = Submit({FilePart(big, "big.bin")});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->body;
  ASSERT_EQ(CallsAfterSettling("", ".*", 2), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a stray third call would show
  std::vector<int> statuses;
  for (const auto& c : emu_->Calls()) statuses.push_back(c.status);
  EXPECT_THAT(statuses, ElementsAre(429, 200));
  EXPECT_THAT(emu_->AssertionFailures(), IsEmpty());
}

TEST_F(VmrayEmulatorTest, BadSeedsAreRejectedWithAMessageAndChangeNothing) {
  const std::vector<std::pair<Json, std::string>> cases = {
      {Json::array(), "expected a JSON object"},
      {{{"sample", Json::array()}}, "unknown key 'sample'"},
      {{{"samples", {{{"sha256", "abc"}, {"verdict", "clean"}}}}}, "samples[0].sha256"},
      {{{"samples", {{{"sha256", Hex64('a')}, {"verdict", "evil"}}}}}, "samples[0].verdict"},
      {{{"samples", {{{"sha256", Hex64('a')}, {"verdict", "clean"}, {"colour", 1}}}}},
       "unknown key 'colour'"},
      {{{"samples",
         {{{"sha256", Hex64('a')}, {"verdict", "clean"}, {"analysed_at", "yesterday"}}}}},
       "analysed_at"},
      {{{"samples", {{{"sha256", Hex64('a')}, {"verdict", "clean"}, {"vti_score", 101}}}}},
       "vti_score"},
      {{{"samples",
         {{{"sha256", Hex64('a')}, {"verdict", "clean"}, {"child_sample_ids", {Hex64('b')}}}}}},
       "no sample with sha256"},
      {{{"verdicts", {{"http://x.example", {{"verdict", "clean"}, {"extra", 1}}}}}}, "extra"},
      {{{"soft_error_for", {"123"}}}, "soft_error_for[0]"},
  };
  for (const auto& [seed, expected] : cases) {
    auto problem = emu_->Seed(seed);
    ASSERT_TRUE(problem.has_value()) << seed.dump();
    EXPECT_THAT(*problem, HasSubstr(expected)) << seed.dump();
  }
  EXPECT_THAT(emu_->StateJson().at("samples"), IsEmpty());

  // Through the control route too.
  auto res =
      client_->Post("/_emulator/state", R"({"samples": [{"sha256": "x"}]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("sha256"));
}

TEST_F(VmrayEmulatorTest, ChildSamplesLinkBothWays) {
  SeedOk({{"samples",
           {{{"sha256", Hex64('a')}, {"verdict", "malicious"}, {"child_sample_ids", {Hex64('b')}}},
            {{"sha256", Hex64('b')}, {"verdict", "suspicious"}}}}});
  const Json parent = GetData("/rest/sample/sha256/" + Hex64('a'))[0];
  const Json child = GetData("/rest/sample/sha256/" + Hex64('b'))[0];
  EXPECT_EQ(parent.at("sample_child_sample_ids"), Json::array({child.at("sample_id")}));
  EXPECT_EQ(child.at("sample_parent_sample_ids"), Json::array({parent.at("sample_id")}));
}

TEST_F(VmrayEmulatorTest, ReportPageNeedsNoKeyAndEscapesNames) {
  const Json data = SubmitOk({FilePart(kEicar, "<script>x</script>.exe")});
  const std::string url = data.at("samples")[0].at("sample_webif_url").get<std::string>();
  ASSERT_EQ(url.rfind(emu_->BaseUrl(), 0), 0u) << url;
  auto page = client_->Get(url.substr(emu_->BaseUrl().size()));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->body, AllOf(HasSubstr(kEicarSha256), HasSubstr("&lt;script&gt;")));
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("<script>")));
  EXPECT_EQ(client_->Get("/user/sample/view?id=42")->status, 404);
}

TEST_F(VmrayEmulatorTest, StateNeverShowsTheApiKeyAndResetEmptiesIt) {
  SeedOk({{"samples", {{{"sha256", Hex64('a')}, {"verdict", "clean"}}}}});
  SubmitOk({FilePart(kEicar, "a.exe")});
  const std::string dump = emu_->StateJson().dump();
  EXPECT_THAT(dump, ::testing::Not(HasSubstr(kKey)));
  auto via_route = client_->Get("/_emulator/state");
  ASSERT_TRUE(via_route);
  EXPECT_THAT(via_route->body, ::testing::Not(HasSubstr(kKey)));

  ASSERT_EQ(client_->Post("/_emulator/reset", "", "application/json")->status, 200);
  const Json state = emu_->StateJson();
  EXPECT_THAT(state.at("samples"), IsEmpty());
  EXPECT_THAT(state.at("submissions"), IsEmpty());
  EXPECT_EQ(state.at("submit_count"), 0);
  EXPECT_EQ(GetData("/rest/sample/sha256/" + Hex64('a')), Json::array());
}

TEST(VmrayEmulatorOptionsTest, RejectsUnknownKeysAndBadValuesWithoutShowingTheKey) {
  EXPECT_THROW(VmrayEmulator::Options::FromJson({{"finish_after_poll", 2}}), std::invalid_argument);
  EXPECT_THROW(VmrayEmulator::Options::FromJson({{"page_size", 0}}), std::invalid_argument);
  EXPECT_THROW(VmrayEmulator::Options::FromJson({{"webif_base_url", "vmray.local"}}),
               std::invalid_argument);
  try {
    VmrayEmulator::Options::FromJson({{"api_key", 42}});
    ADD_FAILURE() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("api_key"));
  }
  const auto o = VmrayEmulator::Options::FromJson(
      {{"api_key", "other-DO-NOT-LOG"}, {"finish_after_polls", 3}, {"max_upload_size", 10}});
  EXPECT_EQ(o.api_key.Reveal(), "other-DO-NOT-LOG");
  EXPECT_EQ(o.finish_after_polls, 3);
  EXPECT_EQ(o.max_upload_size, 10);
  EXPECT_EQ(VmrayEmulator::Options::FromJson(Json()).page_size, 100);
}

TEST(VmrayEmulatorLoadTest, TenThousandSeededSamplesAreServedAndPaged) {
  ManualClock clock;
  TokenRegistry tokens;
  VmrayEmulator emu({}, clock, tokens);
  auto sha_of = [](int i) {
    char sha[65];
    std::snprintf(sha, sizeof sha, "%064x", i + 1);
    return std::string(sha);
  };
  Json samples = Json::array();
  for (int i = 0; i < 10000; ++i) {
    samples.push_back({{"sha256", sha_of(i)}, {"verdict", i % 2 ? "malicious" : "clean"}});
  }
  ASSERT_FALSE(emu.Seed({{"samples", samples}}).has_value());
  emu.Start();
  httplib::Client client(emu.BaseUrl());
  const httplib::Headers auth = {{"Authorization", std::string("api_key ") + kKey}};
  for (int i = 0; i < 200; ++i) {
    const int n = (i * 37) % 10000;
    auto res = client.Get("/rest/sample/sha256/" + sha_of(n), auth);
    ASSERT_TRUE(res);
    const Json data = Json::parse(res->body).at("data");
    ASSERT_EQ(data.size(), 1u);
    EXPECT_EQ(data[0].at("sample_verdict"), n % 2 ? "malicious" : "clean");
  }
  auto list = client.Get("/rest/submission?submission_verdict=malicious", auth);
  ASSERT_TRUE(list);
  const Json page = Json::parse(list->body);
  EXPECT_EQ(page.at("data").size(), 100u);
  EXPECT_TRUE(page.contains("continuation_id"));
  EXPECT_EQ(emu.StateJson().at("submissions").size(), 10000u);
}

}  // namespace
}  // namespace vc::emu
