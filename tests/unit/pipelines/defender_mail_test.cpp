// E-mail notification of settled alerts, received by a real SMTP server (aiosmtpd): one mail per
// alert however many evidences it has, sent only after all of them settled, with alert text
// escaped and unable to add headers.
#include "clients/mail/mime.hpp"
#include "config/config.hpp"
#include "pipeline_test_support.hpp"
#include "smtp_test_server.hpp"

namespace vc::testing {
namespace {

constexpr const char* kKnown = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";

std::vector<std::string> HeaderValues(const Json& msg, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : msg["headers"]) {
    if (h[0].get<std::string>() == name) out.push_back(h[1].get<std::string>());
  }
  return out;
}

std::string PartContent(const Json& msg, const std::string& type) {
  for (const auto& p : msg["parts"]) {
    if (p["content_type"] == type) return p["content"].get<std::string>();
  }
  return "";
}

class DefenderMail : public PipelineTest {
 protected:
  EnvPairs Mail(const mail::testing::SmtpTestServer& server) {
    return {{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
            {"VMRAY_CONNECTOR_MAIL_SMTP_URL", server.url()},
            // The test server speaks plain SMTP on loopback.
            {"VMRAY_CONNECTOR_MAIL_REQUIRE_STARTTLS", "false"},
            {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
            {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com,lead@example.org"}};
  }
};

TEST_F(DefenderMail, OneEscapedMailPerSettledAlert) {
  mail::testing::SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  const std::string content = std::string("MZ mailed ") + kEicar;
  Json a1 = Alert("a1", kKnown, "known.exe");
  a1["title"] = "Evil <img src=x onerror=alert(1)>\r\nBcc: evil@example.com";
  // a2: two files; one mail once both are done.
  Json a2 = Alert("a2", Sha256Hex(content), "dropper.exe");
  a2["evidence"].push_back(a1["evidence"][0]);
  SeedVmraySample(kKnown, "malicious", Hours(1));
  SeedMde({a1, a2}, Device({{"dropper.exe", content}}));
  auto d = h().OpenDaemon(Mail(server));
  ASSERT_TRUE(Run(*d));

  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 2u);
  std::map<std::string, Json> by_alert;
  for (const auto& m : messages) {
    EXPECT_EQ(m["rcpt_tos"], (Json{"soc@example.com", "lead@example.org"}));
    EXPECT_TRUE(m["defects"].empty()) << m["defects"].dump();
    EXPECT_TRUE(HeaderValues(m, "Bcc").empty()) << "no header from alert text";
    const auto subject = HeaderValues(m, "Subject");
    ASSERT_EQ(subject.size(), 1u);
    by_alert[subject[0].find("a1") != std::string::npos ? "a1" : "a2"] = m;
  }
  ASSERT_EQ(by_alert.size(), 2u);
  const std::string html1 = PartContent(by_alert["a1"], "text/html");
  EXPECT_NE(html1.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos) << html1;
  EXPECT_EQ(html1.find("<img"), std::string::npos) << html1;
  EXPECT_NE(html1.find(kKnown), std::string::npos);
  EXPECT_NE(html1.find("malicious"), std::string::npos);
  const std::string text2 = PartContent(by_alert["a2"], "text/plain");
  EXPECT_NE(text2.find(Sha256Hex(content)), std::string::npos) << text2;
  EXPECT_NE(text2.find(kKnown), std::string::npos) << "both evidences in one mail: " << text2;

  // Delivered once each, also after a restart.
  d.reset();
  d = h().OpenDaemon(Mail(server));
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(server.Messages().size(), 2u);
}

TEST_F(DefenderMail, SmtpServerDownKeepsTheMailQueuedWithTheReason) {
  mail::testing::SmtpTestServer probe("mailbox");
  ASSERT_NE(probe.port(), 0);
  EnvPairs env = Mail(probe);
  env[1].second = "smtp://127.0.0.1:" + std::to_string(mail::testing::UnusedPort());
  SeedVmraySample(kKnown, "malicious", Hours(1));
  SeedMde({Alert("a1", kKnown)}, Device({}));
  auto d = h().OpenDaemon(env);
  EXPECT_FALSE(Run(*d, Minutes(20))) << "the mail is still pending";
  EXPECT_EQ(JobOf(*d, "mde:a1:" + std::string(kKnown)).state, "done");
  bool pending = false;
  for (const auto& item : OutboxOf(*d, 0)) {
    if (item.kind == "mail_notification") {
      pending = item.state == "pending";
      EXPECT_NE(item.reason.find("sending the alert mail"), std::string::npos) << item.reason;
    }
  }
  EXPECT_TRUE(pending);
  EXPECT_TRUE(probe.Messages().empty());
}

// mail.transport = graph: the same MIME mail goes through Graph sendMail (base64 MIME form),
// from the configured mailbox, with a Graph token; a throttled send waits for Retry-After and
// the mail is still sent once, with the Message-ID derived from its outbox key.
TEST_F(DefenderMail, GraphSendMailCarriesTheSameMimeOnce) {
  emu::FaultRule throttled = Fault("POST", "^/v1.0/users/.*/sendMail$", 429);
  throttled.retry_after = "7";
  SeedVmraySample(kKnown, "malicious", Hours(1));
  Json a1 = Alert("a1", kKnown, "known.exe");
  a1["title"] = "Evil <b>title</b>\r\nBcc: evil@example.com";
  SeedMde({a1}, Device({}));
  h().emulators().graph().AddFault(throttled);
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                           {"VMRAY_CONNECTOR_MAIL_TRANSPORT", "graph"},
                           {"VMRAY_CONNECTOR_MAIL_GRAPH_SENDER", "soc-bot@contoso.com"},
                           {"VMRAY_CONNECTOR_MAIL_FROM", "soc-bot@contoso.com"},
                           {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com,lead@example.org"}});
  ASSERT_TRUE(Run(*d));

  const Json sent = h().emulators().graph().StateJson()["sent_mail"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump(2);
  EXPECT_EQ(sent[0]["mailbox"], "soc-bot@contoso.com");
  EXPECT_EQ(sent[0]["form"], "mime");
  EXPECT_EQ(sent[0]["to"], "soc@example.com, lead@example.org");
  EXPECT_EQ(sent[0]["message_id"], "<" + mail::MessageIdFor("mail:a1", "contoso.com") + ">");
  const std::string mime = sent[0]["mime"];
  // The bodies are quoted-printable: join the soft line breaks before looking for the hash.
  std::string joined;
  for (size_t i = 0; i < mime.size(); ++i) {
    if (mime.compare(i, 3, "=\r\n") == 0) {
      i += 2;
      continue;
    }
    joined += mime[i];
  }
  EXPECT_NE(joined.find(kKnown), std::string::npos) << mime;
  // The HTML part escapes the alert text; the plain part may carry it as text, but only in the
  // body: the header block (up to the first empty line) has no header taken from the alert.
  EXPECT_NE(joined.find("&lt;b&gt;title"), std::string::npos) << mime;
  const std::string headers = mime.substr(0, mime.find("\r\n\r\n"));
  EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("evil@example.com"), std::string::npos) << headers;
  const auto sends = CallsTo(h().emulators().graph(), "POST", "/v1.0/users/.*/sendMail");
  ASSERT_EQ(sends.size(), 2u) << "one throttled, one accepted";
  ExpectNoEmulatorAssertions();
}

// Without the Mail.Send application permission Graph answers 403 ErrorAccessDenied: the mail row
// waits (half-hourly, it needs a person) with what to grant, the alert is finished, and once the
// permission is granted the mail goes out once.
TEST_F(DefenderMail, GraphSendMailWithoutMailSendWaitsWithWhatToGrant) {
  h().Seed({{"entra", {{"graph_granted_roles", {"SecurityIncident.ReadWrite.All"}}}}});
  SeedVmraySample(kKnown, "malicious", Hours(1));
  SeedMde({Alert("a1", kKnown)}, Device({}));
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                           {"VMRAY_CONNECTOR_MAIL_TRANSPORT", "graph"},
                           {"VMRAY_CONNECTOR_MAIL_GRAPH_SENDER", "soc-bot@contoso.com"},
                           {"VMRAY_CONNECTOR_MAIL_FROM", "soc-bot@contoso.com"},
                           {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"}});
  EXPECT_FALSE(Run(*d, Minutes(10))) << "the mail waits for the permission";
  EXPECT_EQ(JobOf(*d, "mde:a1:" + std::string(kKnown)).state, "done");
  int mail_rows = 0;
  for (const auto& item : OutboxOf(*d, 0)) {
    if (item.kind != "mail_notification") continue;
    ++mail_rows;
    EXPECT_EQ(item.state, "pending");
    EXPECT_NE(item.reason.find("Mail.Send"), std::string::npos) << item.reason;
  }
  EXPECT_EQ(mail_rows, 1);
  EXPECT_EQ(h().emulators().graph().StateJson()["sent_mail"], Json::array());
  auto sends = CallsTo(h().emulators().graph(), "POST", "/v1.0/users/.*/sendMail");
  ASSERT_EQ(sends.size(), 1u) << "not hammered: the next try is half an hour later";
  EXPECT_EQ(sends[0].status, 403);

  h().Seed({{"entra", {{"graph_granted_roles", {"Mail.Send"}}}}});
  ASSERT_TRUE(Run(*d, Hours(3)));
  EXPECT_EQ(h().emulators().graph().StateJson()["sent_mail"].size(), 1u);
  sends = CallsTo(h().emulators().graph(), "POST", "/v1.0/users/.*/sendMail");
  ASSERT_FALSE(sends.empty());
  EXPECT_EQ(sends.back().status, 202);
}

TEST_F(DefenderMail, GraphTransportNeedsTheSendingMailbox) {
  config::LoadOptions load;
  load.environment = h().Environment({{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                                      {"VMRAY_CONNECTOR_MAIL_TRANSPORT", "graph"},
                                      {"VMRAY_CONNECTOR_MAIL_FROM", "soc-bot@contoso.com"},
                                      {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"}});
  const auto loaded = config::LoadConfig(load);
  std::vector<std::string> paths;
  for (const auto& p : loaded.problems) paths.push_back(p.path);
  EXPECT_EQ(paths, std::vector<std::string>{"mail.graph_sender"})
      << "SMTP is not needed with the graph transport";
  ASSERT_FALSE(loaded.problems.empty());
  EXPECT_NE(loaded.problems[0].message.find("Mail.Send"), std::string::npos);
}

TEST_F(DefenderMail, BadRecipientIsAConfigurationErrorAtStart) {
  EnvPairs env = {{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                  {"VMRAY_CONNECTOR_MAIL_SMTP_URL", "smtp://127.0.0.1:25"},
                  {"VMRAY_CONNECTOR_MAIL_FROM", "connector@example.com"},
                  {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com\r\nBcc: x@example.com"}};
  app::Daemon daemon(h().Config(env), clock_);
  auto opened = daemon.Open();
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("mail.from / mail.to"), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace vc::testing
