#include "clients/mail/mime.hpp"

#include <fmt/format.h>

#include <cctype>
#include <ctime>

#include "clients/mail/address.hpp"
#include "core/base64.hpp"
#include "core/hash.hpp"

namespace vc::mail {
namespace {

// Quoted-printable output never contains "=_" ('=' is always followed by hex digits or a line
// break), so a boundary starting with it cannot occur inside either part.
constexpr std::string_view kBoundary = "=_vc-alternative-7f3c";
constexpr size_t kMaxPlainHeader = 76;

bool IsPlainAscii(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// Length of the UTF-8 sequence starting with `lead` (1 for stray bytes, so nothing loops).
size_t Utf8Length(unsigned char lead) {
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

bool IsMessageIdChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return false;
  return std::isalnum(u) ||
         std::string_view("!#$%&'*+/=?^_`{|}~-.").find(c) != std::string_view::npos;
}

Status ValidateMessageId(std::string_view id) {
  const size_t at = id.find('@');
  bool ok = !id.empty() && id.size() <= 200 && at != std::string_view::npos && at > 0 &&
            at + 1 < id.size();
  for (size_t i = 0; ok && i < id.size(); ++i) ok = i == at || IsMessageIdChar(id[i]);
  if (ok) return Ok();
  return MakeError(ErrorCode::kInvalidArgument,
                   "invalid Message-ID: expected unique@domain with letters, digits and "
                   "!#$%&'*+/=?^_`{|}~-. only");
}

std::string DisplayName(std::string_view name, size_t used) {
  const std::string clean = SanitizeHeaderText(name);
  if (IsPlainAscii(clean) && clean.size() + used < kMaxPlainHeader &&
      clean.find("=?") == std::string::npos) {
    std::string quoted = "\"";
    for (char c : clean) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    return quoted + "\"";
  }
  return EncodeHeaderText(clean, used);
}

}  // namespace

std::string MessageIdFor(std::string_view key, std::string_view domain) {
  const std::string host = ValidateAddress("x@" + std::string(domain))
                               ? std::string(domain)
                               : std::string("vmray-connector.invalid");
  return Sha256Hex(key).substr(0, 32) + "@" + host;
}

std::string FormatRfc5322Date(TimePoint t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday],
                     tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

std::string SanitizeHeaderText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

std::string EncodeHeaderText(std::string_view text, size_t used) {
  const std::string clean = SanitizeHeaderText(text);
  if (IsPlainAscii(clean) && clean.size() + used <= kMaxPlainHeader &&
      clean.find("=?") == std::string::npos) {
    return clean;
  }
  // Each line stays within 76 characters: 12 for "=?UTF-8?B?" and "?=", the rest base64 (3
  // bytes of text per 4 characters), cut only between whole UTF-8 characters so every word
  // decodes alone. Continuation lines start with one space.
  auto chunk_for = [](size_t line_used) {
    const size_t room = kMaxPlainHeader > line_used + 12 + 4 ? kMaxPlainHeader - line_used - 12 : 4;
    return room / 4 * 3;
  };
  std::string out;
  size_t i = 0;
  while (i < clean.size()) {
    const size_t kChunk = chunk_for(out.empty() ? used : 1);
    size_t end = i;
    while (end < clean.size()) {
      const size_t n = Utf8Length(static_cast<unsigned char>(clean[end]));
      if (end + n - i > kChunk) break;
      end += n;
    }
    if (end == i) end = std::min(clean.size(), i + kChunk);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(std::string_view(clean).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string EncodeQuotedPrintable(std::string_view text) {
  std::string out;
  size_t line_len = 0;
  auto emit = [&](std::string_view piece) {
    if (line_len + piece.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += piece;
    line_len += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // the '\n' breaks
    if (c == '\n') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    const bool literal =
        (u >= 33 && u <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // A literal '.' is safe only off the start of a line (soft breaks included).
    if (literal && !(c == '.' && line_len == 0)) {
      if (line_len + 1 > 75) {
        out += "=\r\n";
        line_len = 0;
        if (c == '.') {
          emit("=2E");
          continue;
        }
      }
      out += c;
      ++line_len;
    } else {
      emit(fmt::format("={:02X}", u));
    }
  }
  return out;
}

Result<std::string> BuildMime(const MailMessage& message, TimePoint date,
                              std::string_view message_id) {
  VC_RETURN_IF_ERROR(ValidateAddress(message.from));
  if (message.to.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the mail has no recipients; configure at least one address");
  }
  for (const auto& to : message.to) VC_RETURN_IF_ERROR(ValidateAddress(to));
  VC_RETURN_IF_ERROR(ValidateMessageId(message_id));

  std::string m;
  m += "From: ";
  if (!message.from_name.empty()) m += DisplayName(message.from_name, 6) + " ";
  m += "<" + message.from + ">\r\n";
  m += "To: ";
  for (size_t i = 0; i < message.to.size(); ++i) {
    if (i > 0) m += ",\r\n ";
    m += message.to[i];
  }
  m += "\r\n";
  m += "Subject: " + EncodeHeaderText(message.subject, 9) + "\r\n";
  m += "Date: " + FormatRfc5322Date(date) + "\r\n";
  m += fmt::format("Message-ID: <{}>\r\n", message_id);
  m += "MIME-Version: 1.0\r\n";
  m += fmt::format("Content-Type: multipart/alternative; boundary=\"{}\"\r\n", kBoundary);
  m += "\r\n";
  m += "This is a multi-part message in MIME format.\r\n";
  auto part = [&](std::string_view type, std::string_view body) {
    m += fmt::format("--{}\r\n", kBoundary);
    m += fmt::format("Content-Type: {}; charset=UTF-8\r\n", type);
    m += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += EncodeQuotedPrintable(body);
    m += "\r\n";
  };
  part("text/plain", message.text_body);
  part("text/html", message.html_body);
  m += fmt::format("--{}--\r\n", kBoundary);
  return m;
}

}  // namespace vc::mail
