#include "clients/mail/mime.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "core/base64.hpp"
#include "core/time.hpp"

namespace vc::mail {
namespace {

TimePoint FixedDate() {
  return *ParseIso8601("2026-11-23T16:21:03Z");
}

MailMessage Sample() {
  MailMessage m;
  m.from = "connector@example.com";
  m.from_name = "VMRay Connector";
  m.to = {"soc@example.com", "lead@example.org"};
  m.subject = "VMRay Analysis for Defender Alert da1: malicious - Test";
  m.text_body = "Hello\nLine 2.\n";
  m.html_body = "<p>Hi &amp; bye</p>\n";
  return m;
}

// The header block (up to the first empty line), split into lines.
std::vector<std::string> HeaderLines(const std::string& mime) {
  const std::string head = mime.substr(0, mime.find("\r\n\r\n"));
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= head.size()) {
    size_t end = head.find("\r\n", start);
    if (end == std::string::npos) end = head.size();
    lines.push_back(head.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

// Reassembles an RFC 2047 header value made of =?UTF-8?B?...?= words.
std::string DecodeWords(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const size_t start = pos + 10;
    const size_t end = value.find("?=", start);
    auto piece = Base64Decode(value.substr(start, end - start));
    EXPECT_TRUE(piece.has_value());
    // Every word holds whole UTF-8 characters: none starts with a continuation byte.
    if (piece && !piece->empty()) {
      EXPECT_NE(static_cast<unsigned char>(piece->front()) & 0xc0, 0x80);
    }
    out += piece.value_or("");
    pos = end + 2;
  }
  return out;
}

std::string HeaderValue(const std::string& mime, const std::string& name) {
  std::string value;
  bool in = false;
  for (const auto& line : HeaderLines(mime)) {
    if (line.rfind(name + ": ", 0) == 0) {
      in = true;
      value = line.substr(name.size() + 2);
    } else if (in && !line.empty() && line[0] == ' ') {
      value += "\r\n" + line;
    } else {
      in = false;
    }
  }
  return value;
}

std::string DecodeQuotedPrintable(const std::string& qp) {
  std::string out;
  for (size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] == '=' && qp.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
    } else if (qp[i] == '=') {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (qp.compare(i, 2, "\r\n") == 0) {
      out += '\n';
      ++i;
    } else {
      out += qp[i];
    }
  }
  return out;
}

TEST(MailMime, GoldenMessage) {
  auto mime = BuildMime(Sample(), FixedDate(), "abc123@vmray-connector.local");
  ASSERT_TRUE(mime) << mime.error().ToString();
  const std::string expected =
      "From: \"VMRay Connector\" <connector@example.com>\r\n"
      "To: soc@example.com,\r\n lead@example.org\r\n"
      "Subject: VMRay Analysis for Defender Alert da1: malicious - Test\r\n"
      "Date: Mon, 23 Nov 2026 16:21:03 +0000\r\n"
      "Message-ID: <abc123@vmray-connector.local>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/alternative; boundary=\"=_vc-alternative-7f3c\"\r\n"
      "\r\n"
      "This is a multi-part message in MIME format.\r\n"
      "--=_vc-alternative-7f3c\r\n"
      "Content-Type: text/plain; charset=UTF-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "Hello\r\nLine 2.\r\n"
      "\r\n"
      "--=_vc-alternative-7f3c\r\n"
      "Content-Type: text/html; charset=UTF-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "<p>Hi &amp; bye</p>\r\n"
      "\r\n"
      "--=_vc-alternative-7f3c--\r\n";
  EXPECT_EQ(*mime, expected);
}

TEST(MailMime, SubjectWithLineBreakCannotAddHeaders) {
  MailMessage m = Sample();
  m.subject = "Title\r\nBcc: evil@example.com";
  auto mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  for (const auto& line : HeaderLines(*mime)) {
    EXPECT_NE(line.rfind("Bcc:", 0), 0u) << line;
  }
  EXPECT_EQ(HeaderValue(*mime, "Subject"), "Title  Bcc: evil@example.com");
  // Only the headers we write, each starting a line.
  for (const auto& line : HeaderLines(*mime)) {
    if (line.empty() || line[0] == ' ') continue;
    const std::string name = line.substr(0, line.find(':'));
    EXPECT_TRUE(name == "From" || name == "To" || name == "Subject" || name == "Date" ||
                name == "Message-ID" || name == "MIME-Version" || name == "Content-Type")
        << line;
  }
}

TEST(MailMime, LoneLineFeedsAndControlCharactersInSubjectAreNeutralised) {
  MailMessage m = Sample();
  m.subject = std::string("a\nTo: x@evil.com\rb\x01\x7f") + '\0' + "c";
  auto mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  const std::string head = mime->substr(0, mime->find("\r\n\r\n"));
  EXPECT_EQ(head.find("\nTo: x@evil.com"), std::string::npos);
  EXPECT_EQ(HeaderValue(*mime, "Subject"), "a To: x@evil.com b   c");
}

TEST(MailMime, RefusesInjectedAddressesAndIds) {
  MailMessage m = Sample();
  m.to = {"soc@example.com\r\nBcc: evil@example.com"};
  auto r = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);

  m = Sample();
  m.from = "connector@example.com>\r\nBcc: evil@example.com";
  EXPECT_FALSE(BuildMime(m, FixedDate(), "id1@example.com"));

  m = Sample();
  m.to.clear();
  r = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no recipients"), std::string::npos);

  for (const char* id : {"", "no-at", "a@b>\r\nBcc: e@x.com", "<a@b>", "a b@c"}) {
    EXPECT_FALSE(BuildMime(Sample(), FixedDate(), id)) << id;
  }
}

TEST(MailMime, DisplayNameIsQuotedAndSanitised) {
  MailMessage m = Sample();
  m.from_name = "Evil\" <x@evil.com>\r\nBcc: e@evil.com \\";
  auto mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  EXPECT_EQ(HeaderValue(*mime, "From"),
            "\"Evil\\\" <x@evil.com>  Bcc: e@evil.com \\\\\" <connector@example.com>");
}

TEST(MailMime, NonAsciiSubjectIsEncodedAndFolded) {
  MailMessage m = Sample();
  m.subject = "Verd\xc3\xa4\x63htig: \xc3\x84rger mit \xe6\x96\x87\xe4\xbb\xb6.exe";
  auto mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  const std::string value = HeaderValue(*mime, "Subject");
  EXPECT_EQ(value.rfind("=?UTF-8?B?", 0), 0u) << value;
  EXPECT_EQ(DecodeWords(value), m.subject);

  // Long text: several words, each line within 78 characters, cut between characters.
  m.subject.clear();
  for (int i = 0; i < 20; ++i) m.subject += "\xe6\x96\x87\xe4\xbb\xb6 \xc3\xa9t\xc3\xa9 ";
  mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  const std::string folded = HeaderValue(*mime, "Subject");
  EXPECT_NE(folded.find("\r\n "), std::string::npos);
  EXPECT_EQ(DecodeWords(folded), m.subject);
  for (const auto& line : HeaderLines(*mime)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(MailMime, AsciiSubjectThatLooksEncodedOrIsLongIsEncoded) {
  MailMessage m = Sample();
  m.subject = "=?UTF-8?B?ZXZpbA==?=";
  auto mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  EXPECT_EQ(DecodeWords(HeaderValue(*mime, "Subject")), m.subject);

  m.subject = std::string(200, 'x');
  mime = BuildMime(m, FixedDate(), "id1@example.com");
  ASSERT_TRUE(mime);
  EXPECT_EQ(DecodeWords(HeaderValue(*mime, "Subject")), m.subject);
  for (const auto& line : HeaderLines(*mime)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(MailMime, QuotedPrintableEncodesWhatMustBeEncoded) {
  EXPECT_EQ(EncodeQuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(EncodeQuotedPrintable("caf\xc3\xa9"), "caf=C3=A9");
  EXPECT_EQ(EncodeQuotedPrintable("x \ny\t"), "x=20\r\ny=09");
  EXPECT_EQ(EncodeQuotedPrintable(".\n..x\n"), "=2E\r\n=2E.x\r\n");
  EXPECT_EQ(EncodeQuotedPrintable("a\r\nb"), "a\r\nb");
  EXPECT_EQ(EncodeQuotedPrintable("--=_vc-alternative-7f3c"), "--=3D_vc-alternative-7f3c");
}

TEST(MailMime, QuotedPrintableLinesStayShortAndRoundTrip) {
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text += static_cast<char>("ab .=\xc3\xa9\t"[i % 8]);
    if (i % 97 == 96) text += '\n';
  }
  text += std::string(200, '.');
  const std::string qp = EncodeQuotedPrintable(text);
  std::istringstream lines(qp);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    EXPECT_LE(line.size(), 76u) << line;
    EXPECT_NE(line.rfind('.', 0), 0u) << "a line starts with '.': " << line;
  }
  EXPECT_EQ(DecodeQuotedPrintable(qp), text);
}

TEST(MailMime, FormatsRfc5322Dates) {
  EXPECT_EQ(FormatRfc5322Date(TimePoint{}), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(FormatRfc5322Date(*ParseIso8601("2024-02-29T23:59:59Z")),
            "Thu, 29 Feb 2024 23:59:59 +0000");
}

TEST(MailMime, MessageIdFromKeyIsStableAndUsable) {
  const std::string id = MessageIdFor("mail:alert:da1", "connector.example.com");
  EXPECT_EQ(id, MessageIdFor("mail:alert:da1", "connector.example.com"));
  EXPECT_NE(id, MessageIdFor("mail:alert:da2", "connector.example.com"));
  EXPECT_EQ(id.size(), 32u + 1 + std::string("connector.example.com").size());
  EXPECT_EQ(id.substr(32), "@connector.example.com");
  EXPECT_TRUE(BuildMime(Sample(), FixedDate(), id));
  EXPECT_EQ(MessageIdFor("k", "bad domain>\r\nBcc: x").substr(32), "@vmray-connector.invalid");
}

}  // namespace
}  // namespace vc::mail
