// The SMTP sender against a real SMTP server (aiosmtpd) and small fault servers, both run by
// smtp_server.py as child processes on ports the OS picks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "clients/mail/html.hpp"
#include "clients/mail/smtp_sender.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "smtp_test_server.hpp"

namespace vc::mail {
namespace {

using testing::SmtpTestServer;
using testing::UnusedPort;

TimePoint FixedDate() {
  return *ParseIso8601("2026-11-23T16:21:03Z");
}

SmtpOptions PlainOptions(const std::string& url) {
  SmtpOptions o;
  o.url = url;
  o.require_starttls = false;  // the local test server speaks plain SMTP
  o.connect_timeout = Millis(5'000);
  o.request_timeout = Millis(10'000);
  return o;
}

MailMessage SimpleMail(std::vector<std::string> to) {
  MailMessage m;
  m.from = "connector@example.com";
  m.to = std::move(to);
  m.subject = "test";
  m.text_body = "plain\n";
  m.html_body = "<p>html</p>\n";
  return m;
}

std::string Crlf2Lf(std::string s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

std::vector<std::string> HeaderValues(const nlohmann::json& msg, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : msg["headers"]) {
    if (h[0].get<std::string>() == name) out.push_back(h[1].get<std::string>());
  }
  return out;
}

const nlohmann::json* Part(const nlohmann::json& msg, const std::string& type) {
  for (const auto& p : msg["parts"]) {
    if (p["content_type"] == type) return &p;
  }
  return nullptr;
}

TEST(MailSmtp, DeliversAlertMailThatARealServerParses) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  AlertSummary alert;
  alert.alert_id = "da638123";
  alert.title = "Verd\xc3\xa4\x63htige Datei <img src=x onerror=alert(1)>\r\nBcc: evil@example.com";
  alert.device = "ws-01";
  alert.file_name = "inv&oice \"Q3\".exe";
  alert.sha256 = std::string(64, 'a');
  alert.verdict = "malicious";
  alert.report_url = "https://vmray.example/user/analysis/view?id=1&x=2";
  alert.threat_names = {"Trojan.Agent", "<script>alert(1)</script>"};
  alert.state = "done";
  const MailMessage mail =
      AlertMail(alert, "connector@example.com", {"soc@example.com", "lead@example.org"});

  SmtpSender sender(PlainOptions(server.url()));
  const Status sent = sender.Send(mail, FixedDate(), "m1.da638123@vmray-connector.local");
  ASSERT_TRUE(sent) << sent.error().ToString();

  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& msg = messages[0];
  EXPECT_EQ(msg["mail_from"], "connector@example.com");
  EXPECT_EQ(msg["rcpt_tos"], (nlohmann::json{"soc@example.com", "lead@example.org"}));
  EXPECT_TRUE(msg["defects"].empty()) << msg["defects"].dump();
  EXPECT_TRUE(HeaderValues(msg, "Bcc").empty());
  EXPECT_EQ(HeaderValues(msg, "Subject"),
            std::vector<std::string>{"VMRay Analysis for Defender Alert da638123: malicious - "
                                     "Verd\xc3\xa4\x63htige Datei <img src=x onerror=alert(1)>  "
                                     "Bcc: evil@example.com"});
  EXPECT_EQ(HeaderValues(msg, "To"), std::vector<std::string>{"soc@example.com, lead@example.org"});
  EXPECT_EQ(HeaderValues(msg, "From"),
            std::vector<std::string>{"VMRay Connector <connector@example.com>"});
  EXPECT_EQ(HeaderValues(msg, "Message-ID"),
            std::vector<std::string>{"<m1.da638123@vmray-connector.local>"});
  EXPECT_EQ(HeaderValues(msg, "Date"), std::vector<std::string>{"Mon, 23 Nov 2026 16:21:03 +0000"});
  EXPECT_EQ(msg["content_type"], "multipart/alternative");

  const auto* text = Part(msg, "text/plain");
  const auto* html = Part(msg, "text/html");
  ASSERT_TRUE(text && html) << msg.dump(2);
  EXPECT_EQ((*html)["charset"], "utf-8");
  EXPECT_EQ(Crlf2Lf((*text)["content"]), RenderAlertSummaryText(alert));
  const std::string html_body = Crlf2Lf((*html)["content"]);
  EXPECT_EQ(html_body, Crlf2Lf(RenderAlertSummaryHtml(alert)));
  EXPECT_EQ(html_body.find("<img"), std::string::npos);
  EXPECT_EQ(html_body.find("<script"), std::string::npos);
  EXPECT_NE(html_body.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html_body.find("inv&amp;oice &quot;Q3&quot;.exe"), std::string::npos);
  EXPECT_NE(html_body.find("Verd\xc3\xa4\x63htige"), std::string::npos);
}

TEST(MailSmtp, BodyLinesMadeOfDotsArriveUnchanged) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  MailMessage m = SimpleMail({"soc@example.com"});
  m.text_body = "line\n.\n..\n.hidden\nend\n";
  ASSERT_TRUE(SmtpSender(PlainOptions(server.url())).Send(m, FixedDate(), "dots@example.com"));
  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto* text = Part(messages[0], "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(Crlf2Lf((*text)["content"]), m.text_body);
}

TEST(MailSmtp, RejectedRecipientIsInvalidArgument) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  const Status s = SmtpSender(PlainOptions(server.url()))
                       .Send(SimpleMail({"reject-me@example.com"}), FixedDate(), "r@example.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << s.error().ToString();
  EXPECT_EQ(s.error().service_code, "550");
  EXPECT_NE(s.error().message.find("recipient rejected"), std::string::npos) << s.error().message;
  EXPECT_FALSE(s.error().IsTransient());
  EXPECT_TRUE(server.Messages().empty());
}

TEST(MailSmtp, TemporaryFailureAfterDataIsUnavailable) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  const Status s = SmtpSender(PlainOptions(server.url()))
                       .Send(SimpleMail({"tempfail@example.com"}), FixedDate(), "t@example.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_EQ(s.error().service_code, "451");
  EXPECT_TRUE(s.error().IsTransient());
  EXPECT_TRUE(server.Messages().empty());
}

TEST(MailSmtp, ServerNotRunningIsUnavailable) {
  const std::string url = "smtp://127.0.0.1:" + std::to_string(UnusedPort());
  const Status s =
      SmtpSender(PlainOptions(url)).Send(SimpleMail({"soc@example.com"}), FixedDate(), "n@x.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_NE(s.error().message.find("cannot connect to SMTP server " + url), std::string::npos)
      << s.error().message;
}

TEST(MailSmtp, DroppedConnectionIsUnavailable) {
  SmtpTestServer server("drop");
  ASSERT_NE(server.port(), 0);
  const Status s = SmtpSender(PlainOptions(server.url()))
                       .Send(SimpleMail({"soc@example.com"}), FixedDate(), "d@example.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_TRUE(s.error().IsTransient());
}

TEST(MailSmtp, Greeting421IsUnavailable) {
  SmtpTestServer server("greet421");
  ASSERT_NE(server.port(), 0);
  const Status s = SmtpSender(PlainOptions(server.url()))
                       .Send(SimpleMail({"soc@example.com"}), FixedDate(), "g@example.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_EQ(s.error().service_code, "421");
  EXPECT_NE(s.error().message.find("Service not available"), std::string::npos)
      << s.error().message;
}

TEST(MailSmtp, SilentServerTimesOutAsUnavailable) {
  SmtpTestServer server("silent");
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.request_timeout = Millis(700);
  const auto start = std::chrono::steady_clock::now();
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "s@x.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_NE(s.error().message.find("timed out"), std::string::npos) << s.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(MailSmtp, StartTlsIsRequiredByDefault) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.require_starttls = true;
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "s@x.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kProtocol) << s.error().ToString();
  EXPECT_NE(s.error().message.find("does not offer STARTTLS"), std::string::npos);
  EXPECT_TRUE(server.Messages().empty());
  EXPECT_TRUE(SmtpOptions{}.require_starttls);
}

TEST(MailSmtp, AuthenticatesWithUserAndPassword) {
  const std::string password = "right-DO-NOT-LOG-pw1";
  SmtpTestServer server("auth", password);
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.username = "mailer";
  o.password = Secret<>(password);
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "a@x.com");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(server.Messages().size(), 1u);
  EXPECT_NE(server.AuthLog().find(" mailer ok"), std::string::npos) << server.AuthLog();
}

TEST(MailSmtp, RejectedLoginIsPermissionDeniedAndNeverShowsThePassword) {
  const std::filesystem::path log_file = std::filesystem::temp_directory_path() /
                                         ("vc-mail-auth-" + std::to_string(getpid()) + ".log");
  InitLogging({LogFormat::kText, "trace", log_file.string()});
  SmtpTestServer server("auth", "the-right-one");
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.username = "mailer";
  o.password = Secret<>("wrong-DO-NOT-LOG-pw2");
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "a@x.com");
  InitLogging({});  // flushes and closes the file
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied) << s.error().ToString();
  EXPECT_EQ(s.error().service_code, "535");
  EXPECT_NE(s.error().message.find("check the mail user name and password"), std::string::npos);
  EXPECT_EQ(s.error().ToString().find("DO-NOT-LOG"), std::string::npos) << s.error().ToString();
  EXPECT_NE(server.AuthLog().find(" mailer rejected"), std::string::npos) << server.AuthLog();
  EXPECT_TRUE(server.Messages().empty());

  std::ifstream in(log_file);
  std::stringstream logs;
  logs << in.rdbuf();
  EXPECT_NE(logs.str().find("smtp: sending a mail"), std::string::npos) << logs.str();
  EXPECT_EQ(logs.str().find("DO-NOT-LOG"), std::string::npos) << logs.str();
  std::filesystem::remove(log_file);
}

TEST(MailSmtp, BadUrlsAndAddressesAreRefusedBeforeConnecting) {
  for (const char* url : {"http://127.0.0.1:25", "smtp://user:pw-DO-NOT-LOG@host:25", "smtp://",
                          "smtp://host:25/\r\nRCPT"}) {
    const Status s =
        SmtpSender(PlainOptions(url)).Send(SimpleMail({"soc@example.com"}), FixedDate(), "u@x.com");
    ASSERT_FALSE(s) << url;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("smtps://host:465"), std::string::npos);
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(s.error().message.find("DO-NOT-LOG"), std::string::npos) << s.error().message;
  }
  const Status s = SmtpSender(PlainOptions("smtp://127.0.0.1:1"))
                       .Send("connector@example.com", {"a@b.com\r\nDATA"}, "x");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("invalid e-mail address"), std::string::npos);
}

TEST(MailSmtp, StartTlsWithPrivateCaAndLogin) {
  const std::string password = "tls-DO-NOT-LOG-pw3";
  SmtpTestServer server("starttls", password);
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.require_starttls = true;
  o.ca_file = server.dir() + "/ca.pem";
  o.username = "mailer";
  o.password = Secret<>(password);
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "t@x.com");
  ASSERT_TRUE(s) << s.error().ToString();
  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], true);
  EXPECT_NE(server.AuthLog().find(" mailer ok"), std::string::npos) << server.AuthLog();
}

TEST(MailSmtp, UntrustedCertificateIsRefusedWithAHint) {
  SmtpTestServer server("starttls", "unused-password");
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions(server.url());
  o.require_starttls = true;  // no CA file: the system store does not know the test CA
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "t@x.com");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kProtocol) << s.error().ToString();
  EXPECT_NE(s.error().message.find("set the mail CA file"), std::string::npos) << s.error().message;
  EXPECT_TRUE(server.Messages().empty());
}

TEST(MailSmtp, ImplicitTlsWithSmtpsUrl) {
  SmtpTestServer server("smtps");
  ASSERT_NE(server.port(), 0);
  SmtpOptions o = PlainOptions("smtps://127.0.0.1:" + std::to_string(server.port()));
  o.ca_file = server.dir() + "/ca.pem";
  const Status s = SmtpSender(o).Send(SimpleMail({"soc@example.com"}), FixedDate(), "i@x.com");
  ASSERT_TRUE(s) << s.error().ToString();
  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], true);
}

TEST(MailSmtp, PlainServerRecordsNoTls) {
  SmtpTestServer server("mailbox");
  ASSERT_NE(server.port(), 0);
  ASSERT_TRUE(SmtpSender(PlainOptions(server.url()))
                  .Send(SimpleMail({"soc@example.com"}), FixedDate(), "p@x.com"));
  const auto messages = server.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], false);
}

}  // namespace
}  // namespace vc::mail
