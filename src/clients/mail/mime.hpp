// The RFC 5322 / MIME text of one notification: multipart/alternative with a text/plain and a
// text/html part, both UTF-8 and quoted-printable. A pure function of its inputs so the exact
// bytes can be golden-tested. Header values never carry a line break: addresses are validated,
// and free text (the subject, the sender's display name) has control characters replaced and is
// RFC 2047-encoded when it is not plain ASCII.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace vc::mail {

struct MailMessage {
  std::string from;       // addr-spec, e.g. connector@example.com
  std::string from_name;  // optional display name
  std::vector<std::string> to;
  std::string subject;    // free text (may come from alert titles): sanitized, never trusted
  std::string text_body;  // UTF-8
  std::string html_body;  // UTF-8, already escaped by its renderer
};

// kInvalidArgument for a bad address, no recipients or a malformed message id.
// `message_id` is "unique@domain" without angle brackets.
Result<std::string> BuildMime(const MailMessage& message, TimePoint date,
                              std::string_view message_id);

// A stable Message-ID ("<32 hex>@domain", without brackets) derived from an idempotency key,
// so a mail sent again after a crash carries the same id and receivers can drop the duplicate.
// An unusable domain falls back to "vmray-connector.invalid".
std::string MessageIdFor(std::string_view key, std::string_view domain);

// "Mon, 23 Nov 2026 16:21:03 +0000"
std::string FormatRfc5322Date(TimePoint t);
// Control characters (CR, LF, TAB, ...) become spaces; the result is one line.
std::string SanitizeHeaderText(std::string_view text);
// The header value for free text: as is when short printable ASCII, otherwise RFC 2047
// "=?UTF-8?B?...?=" words folded with CRLF SP. `used` is the length already on the line.
std::string EncodeHeaderText(std::string_view text, size_t used);
// RFC 2045 quoted-printable with CRLF line breaks and soft breaks at 76 characters. A '.' that
// would start a line is encoded too, so no SMTP dot-stuffing surprise can change the body.
std::string EncodeQuotedPrintable(std::string_view text);

}  // namespace vc::mail
