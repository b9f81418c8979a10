// The TI feed against the emulators (feed_fixture.hpp): the uploader's pacing, 429 handling and
// per-record errors; the feed's mapping of awkward values, checkpoint behaviour under VMRay and
// Sentinel failures, token expiry, a restart in the middle of a backlog, revocation, and an
// end-to-end backfill whose result in Sentinel is exactly the expected set of objects.
#include <gmock/gmock.h>

#include "core/metrics.hpp"
#include "sentinel_feed/feed_fixture.hpp"

namespace vc::sentinel_feed::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::SizeIs;

Json Indicator(const std::string& key, Json confidence = 80,
               std::string pattern = "[domain-name:value = 'x.example']") {
  return {{"type", "indicator"},
          {"spec_version", "2.1"},
          {"id", StixIndicatorId(key)},
          {"created", "2026-03-01T12:00:00.000Z"},
          {"modified", "2026-03-01T12:00:00.000Z"},
          {"valid_from", "2026-03-01T12:00:00.000Z"},
          {"pattern", pattern},
          {"pattern_type", "stix"},
          {"confidence", confidence}};
}

std::set<std::string> Ids(const std::map<std::string, Json>& objects) {
  std::set<std::string> out;
  for (const auto& [id, _] : objects) out.insert(id);
  return out;
}

TEST_F(FeedTest, UploaderPacesAtTheLimitWithoutA429) {
  std::vector<Json> objects;
  for (int i = 0; i < 250; ++i) objects.push_back(Indicator(fmt::format("domain:{}.example", i)));
  const TimePoint start = clock_.Now();
  // 250 single-object requests: more than two minutes' worth of the 100/min limit.
  for (const auto& o : objects) {
    auto r = uploader_->UploadBatch({o});
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->accepted, 1u);
  }
  EXPECT_EQ(emulators_->sentinel().throttled(), 0);
  EXPECT_THAT(Objects(), SizeIs(250));
  // Paced, not bursted past the limit: the third hundred could not start before two minutes.
  EXPECT_GE(clock_.Now() - start, std::chrono::minutes(2));
  EXPECT_LT(clock_.Now() - start, std::chrono::minutes(3));
}

TEST_F(FeedTest, UploadSplitsIntoBatchesOfAHundred) {
  std::vector<Json> objects;
  for (int i = 0; i < 250; ++i) objects.push_back(Indicator(fmt::format("domain:{}.example", i)));
  auto r = uploader_->Upload(objects);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->accepted, 250u);
  EXPECT_EQ(r->requests, 3);
  EXPECT_EQ(emulators_->sentinel().CountCalls("POST", ".*stix-objects:upload"), 3u);
  EXPECT_THAT(Objects(), SizeIs(250));
}

TEST_F(FeedTest, A429IsWaitedOutAsTheServiceAsksHeaderOrText) {
  emu::FaultRule header;
  header.method = "POST";
  header.path_regex = ".*stix-objects:upload";
  header.status = 429;
  header.retry_after = "7";
  emulators_->sentinel().AddFault(header);
  auto first = uploader_->UploadBatch({Indicator("domain:a.example")});
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->throttled, 1);
  EXPECT_THAT(clock_.Sleeps(), Contains(Millis(7000)));

  emu::FaultRule text = header;
  text.retry_after.reset();
  text.body = R"({"statusCode":429,"message":"Rate limit is exceeded. Try again in 9 seconds."})";
  emulators_->sentinel().AddFault(text);
  auto second = uploader_->UploadBatch({Indicator("domain:b.example")});
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->throttled, 1);
  EXPECT_THAT(clock_.Sleeps(), Contains(Millis(9000)));
  EXPECT_THAT(Objects(), SizeIs(2));
}

TEST_F(FeedTest, RecordsRejectedInA200ComeBackWithTheirReasons) {
  const std::vector<Json> batch = {
      Indicator("domain:ok.example"), Indicator("domain:bad-confidence.example", "100"),
      Indicator("domain:bad-pattern.example", 50, "[domain-name:value = 'it's']"),
      Indicator("domain:ok2.example")};
  auto r = uploader_->UploadBatch(batch);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->accepted, 2u);
  ASSERT_THAT(r->rejected, SizeIs(2));
  EXPECT_EQ(r->rejected[0].id, StixIndicatorId("domain:bad-confidence.example"));
  EXPECT_THAT(r->rejected[0].reason, HasSubstr("Property=confidence"));
  EXPECT_EQ(r->rejected[1].id, StixIndicatorId("domain:bad-pattern.example"));
  EXPECT_THAT(r->rejected[1].reason, HasSubstr("Property=pattern"));
  EXPECT_EQ(Ids(Objects()), (std::set<std::string>{StixIndicatorId("domain:ok.example"),
                                                   StixIndicatorId("domain:ok2.example")}));
}

TEST_F(FeedTest, UnknownWorkspaceSaysWhatToSet) {
  sentinel::TiUploadOptions bad;
  bad.base_url = emulators_->sentinel().BaseUrl();
  bad.workspace_id = "not-a-guid";
  http::ServicePipelineOptions pipe;
  pipe.credential =
      std::make_shared<auth::EntraCredential>(tokens_, "https://management.azure.com");
  sentinel::TiUploader uploader(bad, http::MakeServicePipeline(pipe, transport_, clock_, random_),
                                clock_);
  auto r = uploader.UploadBatch({Indicator("domain:a.example")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("AzureWorkspaceID"));
}

// Values with quotes, backslashes, spaces and non-ASCII; IPs with ports; empty and missing
// families; a sample with thousands of IOCs; verdict filter; labels merged across samples.
TEST_F(FeedTest, EndToEndBackfillLeavesExactlyTheExpectedObjects) {
  Json many = Json::array();
  for (int i = 0; i < 2500; ++i) many.push_back(Domain(fmt::format("host{}.bulk.example", i)));
  Seed(Json::array(
      {Sample(
           1, "malicious", "2026-02-27T08:00:00",
           {{"urls",
             {{{"url", "http://evil.example/a b/it's\\x?q=\xc3\xa4"}, {"verdict", "malicious"}}}},
            {"ips",
             {{{"ip_address", "45.33.32.156:8443"}, {"verdict", "malicious"}},
              {{"ip_address", "[2606:4700::6810:85e5]:443"}, {"verdict", "suspicious"}},
              {{"ip_address", "192.168.1.10"}, {"verdict", "malicious"}}}},
            {"domains",
             {Domain("shared.example"), Domain("b\xc3\xbc"
                                               "cher.example")}},
            {"files", Json::array()}}),
       Sample(2, "suspicious", "2026-02-27T09:30:00",
              {{"domains",
                {Domain("shared.example", "suspicious"), Domain("only-clean.example", "clean")}},
               {"files",
                {{{"filename", "drop.exe"},
                  {"verdict", "suspicious"},
                  {"hashes", {{{"sha256_hash", std::string(64, 'e')}}}}}}}}),
       Sample(3, "malicious", "2026-02-28T10:00:00", {{"domains", many}}),
       Sample(4, "clean", "2026-02-28T11:00:00", {{"domains", {Domain("clean-sample.example")}}}),
       Sample(5, "malicious", "2026-02-28T11:30:00", Json::object())}));

  FeedOptions o;
  o.verdicts = {"malicious", "suspicious"};
  o.max_window = std::chrono::hours(12);
  std::vector<std::string> progress;
  auto summary = Runner(o).Backfill(*ParseIso8601("2026-02-27T00:00:00Z"),
                                    [&](const FeedSummary& total, const FeedSummary&) {
                                      progress.push_back(total.ToJson().dump());
                                    });
  ASSERT_TRUE(summary) << summary.error().ToString();

  std::set<std::string> expected = {
      StixIndicatorId("url:http://evil.example/a b/it's\\x?q=\xc3\xa4"),
      StixIndicatorId("ip:45.33.32.156"),
      StixIndicatorId("ip:2606:4700::6810:85e5"),
      StixIndicatorId("domain:shared.example"),
      StixIndicatorId("domain:b\xc3\xbc"
                      "cher.example"),
      StixIndicatorId("file:" + std::string(64, 'e'))};
  for (int i = 0; i < 2500; ++i) {
    expected.insert(StixIndicatorId(fmt::format("domain:host{}.bulk.example", i)));
  }
  const auto objects = Objects();
  EXPECT_EQ(Ids(objects), expected);
  EXPECT_EQ(summary->uploaded, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(summary->rejected, 0);
  EXPECT_EQ(summary->skipped, 1);  // the private IP
  EXPECT_EQ(summary->samples, 4);
  EXPECT_EQ(emulators_->sentinel().throttled(), 0);

  const Json& url = objects.at(StixIndicatorId("url:http://evil.example/a b/it's\\x?q=\xc3\xa4"));
  EXPECT_EQ(url["pattern"], "[url:value = 'http://evil.example/a b/it\\'s\\\\x?q=\xc3\xa4']");
  EXPECT_EQ(objects.at(StixIndicatorId("ip:45.33.32.156"))["pattern"],
            "[ipv4-addr:value = '45.33.32.156']");
  // One object for a value two samples reported, with both samples' labels.
  const Json& shared = objects.at(StixIndicatorId("domain:shared.example"));
  EXPECT_THAT(shared["labels"], Contains(fmt::format("sample_id: {}", SampleId(1))));
  EXPECT_THAT(shared["labels"], Contains(fmt::format("sample_id: {}", SampleId(2))));
  EXPECT_EQ(shared["confidence"], 100);
  EXPECT_EQ(emulators_->sentinel().UploadCounts().at(StixIndicatorId("domain:shared.example")), 1);
  // The checkpoint is now, and the backfill reported every window.
  ExpectCheckpointAt("2026-03-01T12:00:00Z");
  EXPECT_EQ(summary->windows, static_cast<int>(progress.size()));
  EXPECT_GE(summary->windows, 5);
}

TEST_F(FeedTest, VmrayFailureInTheMiddleOfPagingLeavesTheCheckpoint) {
  Json samples = Json::array();
  for (int i = 1; i <= 5; ++i) {
    samples.push_back(Sample(i, "malicious", fmt::format("2026-02-28T0{}:00:00", i),
                             {{"domains", {Domain(fmt::format("d{}.example", i))}}}));
  }
  Seed(samples);
  emu::FaultRule fault;
  fault.method = "GET";
  fault.path_regex = "/rest/continuation/.*";
  fault.status = 503;
  fault.times = -1;
  emulators_->vmray().AddFault(fault);
  FeedOptions o;
  o.initial_fetch_days = 2;
  auto failed = Runner(o).RunOnce();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  // The empty windows before went through; the one whose paging failed did not.
  EXPECT_EQ(Cursor(kCheckpointCursor), "2026-02-28T00:00:00Z");
  EXPECT_THAT(Objects(), SizeIs(0));

  emulators_->vmray().ClearFaults();
  auto ok = Runner(o).RunOnce();
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_THAT(Objects(), SizeIs(5));
  ExpectCheckpointAt("2026-03-01T12:00:00Z");
}

// A Sentinel outage in the middle of a backlog, then a restart (new store handle, new runner):
// the checkpoint stayed at the last complete window, and the rerun uploads the rest, repeating
// the interrupted window under the same ids.
TEST_F(FeedTest, SentinelFailureMidBacklogAndRestartLoseNothing) {
  Json samples = Json::array();
  for (int i = 1; i <= 6; ++i) {
    samples.push_back(Sample(i, "malicious", fmt::format("2026-02-28T{:02}:30:00", i * 3),
                             {{"domains", {Domain(fmt::format("d{}.example", i))}}}));
  }
  Seed(samples);
  FeedOptions o;
  o.max_window = std::chrono::hours(6);
  emu::FaultRule fault;
  fault.method = "POST";
  fault.path_regex = ".*stix-objects:upload";
  fault.status = 500;
  fault.times = -1;
  int windows = 0;
  auto failed = Runner(o).Backfill(*ParseIso8601("2026-02-28T00:00:00Z"),
                                   [&](const FeedSummary&, const FeedSummary& w) {
                                     if (++windows == 2) emulators_->sentinel().AddFault(fault);
                                   });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(Cursor(kCheckpointCursor), "2026-02-28T12:00:00Z");
  EXPECT_THAT(Objects(), SizeIs(3));  // 03:30, 06:30, 09:30

  emulators_->sentinel().ClearFaults();
  runner_.reset();
  OpenStore();  // the restart
  auto resumed = Runner(o).RunOnce();
  ASSERT_TRUE(resumed) << resumed.error().ToString();
  EXPECT_THAT(Objects(), SizeIs(6));
  ExpectCheckpointAt("2026-03-01T12:00:00Z");
  for (const auto& [id, count] : emulators_->sentinel().UploadCounts()) {
    EXPECT_LE(count, 2) << id;
  }
}

TEST_F(FeedTest, TokenExpiryDuringABackfillCostsOneRefresh) {
  Json samples = Json::array();
  for (int i = 1; i <= 4; ++i) {
    samples.push_back(Sample(i, "malicious", fmt::format("2026-02-28T{:02}:30:00", i * 5),
                             {{"domains", {Domain(fmt::format("d{}.example", i))}}}));
  }
  Seed(samples);
  FeedOptions o;
  o.max_window = std::chrono::hours(6);
  auto r = Runner(o).Backfill(
      *ParseIso8601("2026-02-28T00:00:00Z"),
      [&](const FeedSummary&, const FeedSummary&) { emulators_->tokens().ExpireAll(); });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_THAT(Objects(), SizeIs(4));
  EXPECT_GE(emulators_->sentinel().CountCalls("POST", ".*stix-objects:upload"), 4u);
}

TEST_F(FeedTest, RejectedObjectsAreRecordedCountedAndTheWindowCompletes) {
  Seed(Json::array({Sample(1, "malicious", "2026-03-01T08:00:00",
                           {{"domains", {Domain("a.example"), Domain("b.example")}}})}));
  emu::FaultRule partial;
  partial.method = "POST";
  partial.path_regex = ".*stix-objects:upload";
  partial.status = 200;
  partial.body =
      R"({"errors":[{"recordIndex":1,"errorMessages":["Error for Property=pattern: bad"]}]})";
  emulators_->sentinel().AddFault(partial);
  const double before =
      Metrics::Global().Value("vc_ti_feed_objects_total", {{"outcome", "rejected"}});
  FeedOptions o;
  o.initial_fetch_days = 1;
  auto r = Runner(o).RunOnce();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->rejected, 1);
  EXPECT_EQ(Metrics::Global().Value("vc_ti_feed_objects_total", {{"outcome", "rejected"}}) - before,
            1.0);
  // Ordered by id: record 1 is the larger id of the two.
  const std::string rejected_id =
      std::max(StixIndicatorId("domain:a.example"), StixIndicatorId("domain:b.example"));
  const std::string record = Cursor(std::string(kRejectedCursorPrefix) + rejected_id);
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(Json::parse(record)["reason"], "Error for Property=pattern: bad");
  EXPECT_EQ(Json::parse(record)["sample_id"], std::to_string(SampleId(1)));
  EXPECT_EQ(Cursor(kRejectedCountCursor), "1");
  ExpectCheckpointAt("2026-03-01T12:00:00Z");
}

TEST_F(FeedTest, ACleanLaterSubmissionRevokesTheSamplesIndicators) {
  Json sample = Sample(1, "malicious", "2026-03-01T08:00:00",
                       {{"domains", {Domain("gone.example"), Domain("gone2.example")}}});
  Seed(Json::array({sample, Sample(2, "malicious", "2026-03-01T09:00:00",
                                   {{"domains", {Domain("other.example")}}})}));
  FeedOptions o;
  o.initial_fetch_days = 1;
  ASSERT_TRUE(Runner(o).RunOnce());
  EXPECT_EQ(Objects().at(StixIndicatorId("domain:gone.example"))["revoked"], false);

  clock_.Advance(std::chrono::hours(2));
  sample["verdict"] = "clean";
  sample["analysed_at"] = "2026-03-01T13:00:00";
  Seed(Json::array({sample}));
  clock_.Advance(std::chrono::hours(1));
  auto r = Runner(o).RunOnce();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->revoked, 2);
  const auto objects = Objects();
  EXPECT_EQ(objects.at(StixIndicatorId("domain:gone.example"))["revoked"], true);
  EXPECT_EQ(objects.at(StixIndicatorId("domain:gone2.example"))["revoked"], true);
  EXPECT_EQ(objects.at(StixIndicatorId("domain:other.example"))["revoked"], false);
  EXPECT_EQ(Cursor(std::string(kSampleCursorPrefix) + std::to_string(SampleId(1))), "[]");
  EXPECT_EQ(
      Json::parse(Cursor(std::string(kSampleCursorPrefix) + std::to_string(SampleId(2)))).size(),
      1u);
}

}  // namespace
}  // namespace vc::sentinel_feed::testing
