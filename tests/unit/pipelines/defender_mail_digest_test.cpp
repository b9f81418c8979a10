// Mail digests (mail.digest_minutes): the alerts that settled in one interval arrive in one mail
// at a real SMTP server (aiosmtpd) once the interval and its grace have passed, each alert in
// exactly one digest, also when its mail row runs again after a crash or after the interval
// it settled in has closed.
#include "clients/mail/mime.hpp"
#include "core/time.hpp"
#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/mail_digest.hpp"
#include "smtp_test_server.hpp"

namespace vc::testing {
namespace {

constexpr const char* kKnown = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";

std::string Header(const Json& msg, const std::string& name) {
  for (const auto& h : msg["headers"]) {
    if (h[0].get<std::string>() == name) return h[1].get<std::string>();
  }
  return "";
}

std::string Html(const Json& msg) {
  for (const auto& p : msg["parts"]) {
    if (p["content_type"] == "text/html") return p["content"].get<std::string>();
  }
  return "";
}

class DefenderMailDigest : public PipelineTest {
 protected:
  EnvPairs Digest(const mail::testing::SmtpTestServer& server) {
    return {{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
            {"VMRAY_CONNECTOR_MAIL_SMTP_URL", server.url()},
            {"VMRAY_CONNECTOR_MAIL_REQUIRE_STARTTLS", "false"},  // plain SMTP on loopback
            {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
            {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"},
            {"VMRAY_CONNECTOR_MAIL_SUBJECT", "[SOC] VMRay"},
            {"VMRAY_CONNECTOR_MAIL_DIGEST_MINUTES", "60"}};
  }
  TimePoint HourStart() { return std::chrono::floor<std::chrono::hours>(clock_.Now()); }
  std::optional<store::OutboxItem> Row(app::Daemon& d, const std::string& key) {
    auto row = d.store().GetOutboxByKey(key);
    EXPECT_TRUE(row) << row.error().ToString();
    return row ? *row : std::nullopt;
  }
};

TEST_F(DefenderMailDigest, OneMailPerIntervalListingItsAlertsOnce) {
  mail::testing::SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  // Five minutes into an hour: the first three alerts settle inside one interval.
  clock_.Set(HourStart() + Minutes(65));
  const TimePoint first_hour = HourStart();
  const defender::DigestClock digest_clock{Minutes(60)};
  const int64_t first = digest_clock.IntervalOf(first_hour);
  SeedVmraySample(kKnown, "malicious", Hours(1));
  Json a2 = Alert("a2", kKnown);
  a2["title"] = "Evil <script>alert(1)</script>";
  SeedMde({Alert("a1", kKnown), a2, Alert("a3", kKnown)}, Device({}));
  auto d = h().OpenDaemon(Digest(server));
  ASSERT_TRUE(Run(*d, Hours(3)));

  auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(Header(messages[0], "Subject"), "[SOC] VMRay - 3 alerts settled");
  EXPECT_EQ(Header(messages[0], "Message-ID"),
            "<" + mail::MessageIdFor(defender::DigestKey(first), "example.com") + ">");
  const std::string html = Html(messages[0]);
  for (const char* id : {"a1", "a2", "a3"}) {
    EXPECT_NE(html.find(std::string("<td>") + id + "</td>"), std::string::npos) << html;
  }
  EXPECT_NE(html.find("Evil &lt;script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  // Sent after the interval and its minute of grace, not before.
  const auto digest = Row(*d, defender::DigestKey(first));
  ASSERT_TRUE(digest && digest->done_at);
  EXPECT_GE(*digest->done_at, first_hour + Minutes(61));
  for (const char* id : {"a1", "a2", "a3"}) {
    EXPECT_TRUE(Row(*d, defender::DigestMemberKey(first, id))) << id;
    EXPECT_EQ(Row(*d, "mail:" + std::string(id))->state, "done");
  }

  // An alert of the next interval waits for the next digest, mailed with its own subject.
  clock_.Set(HourStart() + Minutes(70));
  const int64_t second = digest_clock.IntervalOf(HourStart());
  ASSERT_GT(second, first);
  SeedMde({Alert("a4", kKnown)}, Device({}));
  ASSERT_TRUE(Run(*d, Hours(3)));
  messages = server.Messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(Header(messages[1], "Subject").rfind("[SOC] VMRay a4: malicious - ", 0), 0u)
      << Header(messages[1], "Subject");
  EXPECT_EQ(Html(messages[1]).find("<td>a1</td>"), std::string::npos);
  EXPECT_TRUE(Row(*d, defender::DigestMemberKey(second, "a4")));

  // A restart sends nothing again.
  d.reset();
  d = h().OpenDaemon(Digest(server));
  ASSERT_TRUE(Run(*d, Hours(3), /*poll=*/false));
  EXPECT_EQ(server.Messages().size(), 2u);
}

TEST_F(DefenderMailDigest, MembershipIsFoundAgainAndLateAlertsJoinTheOpenInterval) {
  auto d = h().OpenDaemon({});
  const defender::DigestClock clock{Minutes(60)};
  const TimePoint hour = HourStart();
  const int64_t n = clock.IntervalOf(hour);
  auto settled_at = [](const std::string& id, TimePoint t) {
    defender::SettledAlert alert{id, {}};
    store::Job job;
    job.updated_at = t;
    alert.jobs.push_back(job);
    return alert;
  };
  const auto a = settled_at("a1", hour + Minutes(10));
  auto joined = defender::JoinDigest(a, clock, d->store(), hour + Minutes(11));
  EXPECT_EQ(joined.outcome, jobs::Delivery::Outcome::kDone) << joined.reason;
  ASSERT_TRUE(Row(*d, defender::DigestMemberKey(n, "a1")));
  const auto digest = Row(*d, defender::DigestKey(n));
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->kind, "mail_digest");
  EXPECT_EQ(digest->next_attempt_at, hour + Minutes(61)) << "due after the interval and grace";

  // The mail row ran again two hours later (a crash came before it was marked done): the first
  // membership is found and no second one is added.
  auto again = defender::JoinDigest(a, clock, d->store(), hour + Minutes(150));
  EXPECT_EQ(again.outcome, jobs::Delivery::Outcome::kDone);
  EXPECT_NE(again.reason.find(FormatIso8601(hour)), std::string::npos) << again.reason;
  for (int64_t later = n + 1; later <= n + 3; ++later) {
    EXPECT_FALSE(Row(*d, defender::DigestMemberKey(later, "a1"))) << later;
    EXPECT_FALSE(Row(*d, defender::DigestKey(later))) << later;
  }

  // Settled in interval n but delivered after it closed (half the grace after its end): it
  // joins the interval still open instead of a digest that may already be on its way.
  const auto b = settled_at("b1", hour + Minutes(59));
  ASSERT_EQ(defender::JoinDigest(b, clock, d->store(), hour + Minutes(60) + Millis(20'000)).outcome,
            jobs::Delivery::Outcome::kDone);
  EXPECT_TRUE(Row(*d, defender::DigestMemberKey(n, "b1"))) << "still within the open half-grace";
  const auto c = settled_at("c1", hour + Minutes(59));
  ASSERT_EQ(defender::JoinDigest(c, clock, d->store(), hour + Minutes(60) + Millis(40'000)).outcome,
            jobs::Delivery::Outcome::kDone);
  EXPECT_FALSE(Row(*d, defender::DigestMemberKey(n, "c1")));
  EXPECT_TRUE(Row(*d, defender::DigestMemberKey(n + 1, "c1")));
  EXPECT_TRUE(Row(*d, defender::DigestKey(n + 1)));

  // The digest lists its members by key prefix, and only its own.
  auto members =
      d->store().ListOutboxByKeyPrefix("mail-digest-member:" + std::to_string(n) + ":", 100);
  ASSERT_TRUE(members);
  std::vector<std::string> ids;
  for (const auto& m : *members) ids.push_back(m.target);
  EXPECT_EQ(ids, (std::vector<std::string>{"a1", "b1"}));
}

}  // namespace
}  // namespace vc::testing
