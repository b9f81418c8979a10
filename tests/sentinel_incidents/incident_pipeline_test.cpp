// An incident's URLs end as exactly the expected comments and TI objects, against the
// emulators; allow-listed and all-filtered incidents; odd URLs; a restart in the middle; a lost
// comment answer; Sentinel 409/412/429 on the comment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "sentinel_incidents/incident_fixture.hpp"

namespace vc::sentinel_incidents::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr const char* kMalicious = "https://evil.test/<b>drop</b>";
constexpr const char* kClean = "http://harmless.test/page";
constexpr const char* kAllowed = "https://portal.example.com/login";

Json Verdicts() {
  return {{kMalicious,
           {{"verdict", "malicious"},
            {"classifications", {"Phishing"}},
            {"threat_names", {"<script>alert('x')</script>", "Emotet"}}}},
          {kClean, {{"verdict", "clean"}}}};
}

std::vector<std::string> SubmittedUrls(const std::vector<Json>& submissions) {
  std::vector<std::string> out;
  for (const auto& s : submissions) out.push_back(s.value("url", ""));
  return out;
}

const std::string* CommentWith(const std::vector<std::string>& comments, const std::string& part) {
  for (const auto& c : comments) {
    if (c.find(part) != std::string::npos) return &c;
  }
  return nullptr;
}

TEST_F(IncidentTest, SeveralUrlsEndAsOneCommentPerSubmissionAndTiObjects) {
  SeedIncidents(Json::array({Incident(1, {kMalicious, kClean, kAllowed, kMalicious})}), Verdicts());
  ASSERT_TRUE(QueueByName(1));
  Drain();

  // Each URL once (the repeated entity too), the allow-listed one not at all, with the tag.
  const auto subs = VmraySubmissions();
  EXPECT_THAT(SubmittedUrls(subs), UnorderedElementsAre(kMalicious, kClean));
  for (const auto& s : subs) EXPECT_THAT(s["tags"].dump(), HasSubstr("url_submission_logic_app"));

  const auto comments = Comments(1);
  ASSERT_THAT(comments, SizeIs(2));
  const std::string* bad = CommentWith(comments, "evil.test");
  const std::string* good = CommentWith(comments, "harmless.test");
  ASSERT_TRUE(bad && good);
  EXPECT_THAT(*bad,
              HasSubstr("VMRay Submission Details for URL: evil.test/&lt;b&gt;drop&lt;/b&gt;"));
  EXPECT_THAT(*bad, AllOf(HasSubstr("<th>Submission Status</th>"), HasSubstr("<th>Notes</th>"),
                          HasSubstr("<th>Severity</th>"), HasSubstr("<td>malicious</td>"),
                          HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;, Emotet"),
                          Not(HasSubstr("<script>")), Not(HasSubstr("<b>drop"))));
  EXPECT_THAT(*good, HasSubstr("VMRay Submission Details for URL: harmless.test/page"));
  EXPECT_THAT(*good, HasSubstr("<td>clean</td>"));
  // The marker names the submission the comment is about.
  for (const auto& s : subs) {
    const std::string marker = fmt::format("<!--VMRaySubmissionId={}-->", s["id"].get<int64_t>());
    const std::string* c = s["url"] == kMalicious ? bad : good;
    EXPECT_TRUE(c->ends_with(marker)) << *c;
  }
  // VTIs highest severity first.
  std::vector<int> severities;
  const std::regex row("<tr><td>(\\d)</td><td>");
  for (auto it = std::sregex_iterator(bad->begin(), bad->end(), row); it != std::sregex_iterator();
       ++it)
    severities.push_back(std::stoi((*it)[1]));
  ASSERT_FALSE(severities.empty());
  EXPECT_TRUE(std::is_sorted(severities.rbegin(), severities.rend())) << *bad;

  // IOCs of the malicious URL only, labelled with the incident number; none for the clean one.
  const auto objects = emulators_->sentinel().Objects();
  ASSERT_FALSE(objects.empty());
  const int64_t number = IncidentState(1)["properties"]["incidentNumber"];
  for (const auto& [id, o] : objects) {
    EXPECT_THAT(o["labels"].dump(), HasSubstr(fmt::format("incident_id: {}", number))) << id;
    EXPECT_THAT(o["labels"].dump(), Not(HasSubstr("harmless.test")));
  }

  auto job = store_->GetJobByKey(IncidentJobKey(IncidentName(1)));
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done");
  EXPECT_THAT((*job)->reason, HasSubstr("2 URL(s) queued"));
  EXPECT_THAT((*job)->reason, HasSubstr("1 allow-listed"));

  // Queued again (the webhook after the poller): nothing new anywhere.
  EXPECT_FALSE(*QueueByName(1));
  Drain();
  EXPECT_THAT(Comments(1), SizeIs(2));
  EXPECT_THAT(VmraySubmissions(), SizeIs(2));
}

TEST_F(IncidentTest, AllUrlsFilteredGivesTheOriginalCommentOnce) {
  SeedIncidents(Json::array({Incident(2, {kAllowed, "https://www.contoso.com/", "https:///x"})}));
  ASSERT_TRUE(QueueByName(2));
  Drain();
  EXPECT_THAT(VmraySubmissions(), SizeIs(0));
  const auto comments = Comments(2);
  ASSERT_THAT(comments, SizeIs(1));
  EXPECT_THAT(comments[0],
              HasSubstr("VMRay: all 3 URL(s) on this incident matched the configured domain "
                        "whitelist and were not submitted for analysis."));
  EXPECT_THAT(comments[0], HasSubstr("1 of them had no host"));
}

TEST_F(IncidentTest, FilteredCommentAlreadyThereIsNotPostedAgain) {
  // A store lost or replaced (or an earlier instance that died after the PUT): the marker in
  // the incident's comments is what stops a second comment.
  Json incident = Incident(9, {kAllowed});
  incident["comments"] =
      Json::array({{{"properties", {{"message", BuildAllFilteredComment(1, 0)}}}}});
  SeedIncidents(Json::array({incident}));
  ASSERT_TRUE(QueueByName(9));
  Drain();
  EXPECT_THAT(Comments(9), SizeIs(1));
  EXPECT_EQ(emulators_->sentinel().CountCalls("PUT", ".*/comments/.*"), 0u);
  auto job = store_->GetJobByKey(IncidentJobKey(IncidentName(9)));
  EXPECT_EQ((*job)->state, "done");
}

TEST_F(IncidentTest, IncidentWithoutUrlsIsSkippedWithoutComment) {
  SeedIncidents(Json::array({Incident(3, {})}));
  ASSERT_TRUE(QueueByName(3));
  Drain();
  EXPECT_THAT(Comments(3), SizeIs(0));
  auto job = store_->GetJobByKey(IncidentJobKey(IncidentName(3)));
  EXPECT_EQ((*job)->state, "skipped");
}

TEST_F(IncidentTest, CredentialsPortsIdnAndOddSchemes) {
  const std::string idn =
      "https://b\xC3\xBC"
      "cher.test/k\xC3\xA4se";
  SeedIncidents(Json::array({Incident(4, {"https://alice:s3cret@login.test:8443/a?b=c", idn,
                                          "javascript:alert(1)", "ftp://files.test/x"})}));
  ASSERT_TRUE(QueueByName(4));
  Drain();
  // Credentials never reach VMRay or the comment; the port stays; other schemes are not sent.
  EXPECT_THAT(SubmittedUrls(VmraySubmissions()),
              UnorderedElementsAre("https://login.test:8443/a?b=c", idn));
  const auto comments = Comments(4);
  ASSERT_THAT(comments, SizeIs(2));
  for (const auto& c : comments) EXPECT_THAT(c, Not(HasSubstr("s3cret")));
  EXPECT_TRUE(CommentWith(comments, "URL: login.test:8443/a?b=c"));
  EXPECT_TRUE(CommentWith(comments,
                          "URL: b\xC3\xBC"
                          "cher.test/k\xC3\xA4se"));
  auto job = store_->GetJobByKey(IncidentJobKey(IncidentName(4)));
  EXPECT_THAT((*job)->reason, HasSubstr("2 without host or with another scheme"));
}

TEST_F(IncidentTest, RestartInTheMiddleChangesNothing) {
  SeedIncidents(Json::array({Incident(5, {kMalicious, kClean})}), Verdicts());
  ASSERT_TRUE(QueueByName(5));
  // The incident job and both submissions, then stop while VMRay analyses.
  scheduler_->RunUntilIdle();
  ASSERT_THAT(VmraySubmissions(), SizeIs(2));
  auto open = store_->ListJobs({.kind = std::string(kUrlJobKind), .state = "analysing"});
  ASSERT_TRUE(open);
  ASSERT_THAT(*open, SizeIs(2));

  Close();
  Open();  // a new process on the same store
  Drain();
  EXPECT_THAT(VmraySubmissions(), SizeIs(2));
  EXPECT_THAT(Comments(5), SizeIs(2));
  const auto objects = emulators_->sentinel().Objects();
  EXPECT_FALSE(objects.empty());

  // And a restart after everything finished does nothing at all.
  const size_t calls = emulators_->sentinel().Calls().size();
  Close();
  Open();
  Drain();
  EXPECT_EQ(emulators_->sentinel().Calls().size(), calls);
}

TEST_F(IncidentTest, LostCommentAnswerRepeatedByThePipelineUpdatesTheSameComment) {
  SeedIncidents(Json::array({Incident(6, {kClean})}), Verdicts());
  emu::FaultRule cut;
  cut.method = "PUT";
  cut.path_regex = ".*/comments/.*";
  cut.cut_after_handling = true;
  emulators_->sentinel().AddFault(cut);
  ASSERT_TRUE(QueueByName(6));
  Drain();
  // The HTTP pipeline repeated the PUT under the same comment id: an update, not a second one.
  EXPECT_THAT(Comments(6), SizeIs(1));
  EXPECT_EQ(emulators_->sentinel().CountCalls("PUT", ".*/comments/.*"), 2u);
}

TEST_F(IncidentTest, LostCommentAnswerRetriedByTheOutboxFindsTheMarker) {
  Close();
  Open(/*sentinel_retries=*/0);  // the write-back's own retry sees the lost answer
  SeedIncidents(Json::array({Incident(6, {kClean})}), Verdicts());
  emu::FaultRule cut;
  cut.method = "PUT";
  cut.path_regex = ".*/comments/.*";
  cut.cut_after_handling = true;
  emulators_->sentinel().AddFault(cut);
  ASSERT_TRUE(QueueByName(6));
  Drain();
  EXPECT_THAT(Comments(6), SizeIs(1));
  // One PUT (whose answer was lost), then the retry read the comments, found the marker and
  // did not PUT again.
  EXPECT_EQ(emulators_->sentinel().CountCalls("PUT", ".*/comments/.*"), 1u);
  EXPECT_EQ(emulators_->sentinel().CountCalls("GET", ".*/comments/?"), 2u);
  auto job = store_->GetJobByKey(UrlJobKey(IncidentName(6), kClean));
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done");
  auto outbox = store_->ListOutbox(0);
  ASSERT_TRUE(outbox);
  for (const auto& o : *outbox) EXPECT_EQ(o.state, "done") << o.reason;
}

class SentinelCommentErrors : public IncidentTest, public ::testing::WithParamInterface<int> {};

TEST_P(SentinelCommentErrors, AreRetriedAndEndWithOneComment) {
  // Retries of the HTTP pipeline off, so the write-back's own retry handles the answer.
  Close();
  Open(/*sentinel_retries=*/0);
  SeedIncidents(Json::array({Incident(7, {kClean})}), Verdicts());
  emu::FaultRule f;
  f.method = "PUT";
  f.path_regex = ".*/comments/.*";
  f.status = GetParam();
  f.times = 2;
  if (GetParam() == 429) f.retry_after = "7";
  emulators_->sentinel().AddFault(f);
  ASSERT_TRUE(QueueByName(7));
  Drain();
  EXPECT_THAT(Comments(7), SizeIs(1));
  EXPECT_EQ(emulators_->sentinel().CountCalls("PUT", ".*/comments/.*"), 3u);
  auto job = store_->GetJobByKey(UrlJobKey(IncidentName(7), kClean));
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "done") << (*job)->reason;
}

INSTANTIATE_TEST_SUITE_P(Statuses, SentinelCommentErrors, ::testing::Values(409, 412, 429, 503));

TEST_F(IncidentTest, DeletedIncidentFailsTheJobWithAReason) {
  ASSERT_TRUE(QueueByName(99));
  Drain();
  auto job = store_->GetJobByKey(IncidentJobKey(IncidentName(99)));
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->state, "failed");
  EXPECT_THAT((*job)->reason, HasSubstr("does not know incident"));
}

TEST_F(IncidentTest, UrlVmrayRefusesGetsAFailureComment) {
  SeedIncidents(Json::array({Incident(8, {kClean})}), Verdicts());
  emu::FaultRule f;
  f.method = "POST";
  f.path_regex = "/rest/sample/submit";
  f.status = 400;
  f.body = R"({"result":"error","error_msg":"Invalid URL <x>"})";
  f.times = -1;
  emulators_->vmray().AddFault(f);
  ASSERT_TRUE(QueueByName(8));
  Drain();
  const auto comments = Comments(8);
  ASSERT_THAT(comments, SizeIs(1));
  EXPECT_THAT(comments[0], HasSubstr("VMRay could not analyse this URL"));
  EXPECT_THAT(comments[0], Not(HasSubstr("<x>")));
  auto job = store_->GetJobByKey(UrlJobKey(IncidentName(8), kClean));
  EXPECT_EQ((*job)->state, "failed");
}

}  // namespace
}  // namespace vc::sentinel_incidents::testing
