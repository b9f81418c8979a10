// Sends one MIME message over SMTP with libcurl: smtp:// with STARTTLS required by default, or
// smtps:// (TLS from the first byte); optional AUTH; TLS verification always on, with an optional
// private CA bundle. Errors say what to fix and never contain the password.
#pragma once

#include <string>
#include <vector>

#include "clients/mail/mail_sender.hpp"
#include "clients/mail/mime.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"

namespace vc::mail {

struct SmtpOptions {
  std::string url;  // smtp://host[:port] or smtps://host[:port]
  // For smtp://: refuse to send unless the server upgrades with STARTTLS. Turn off only for a
  // relay on a trusted host (tests use a plain local server).
  bool require_starttls = true;
  std::string username;  // empty: no AUTH
  Secret<> password;
  std::string ca_file;  // PEM bundle of a private CA; empty: the system store
  Millis connect_timeout{10'000};
  Millis request_timeout{60'000};
};

class SmtpSender final : public MailSender {
 public:
  explicit SmtpSender(SmtpOptions options);

  // kInvalidArgument for a bad URL/address or a rejected sender/recipient (550/551/553),
  // kUnavailable for a refused, dropped or timed-out connection and 4xx replies,
  // kPermissionDenied for rejected credentials (535), kProtocol for TLS failures.
  Status Send(const std::string& from, const std::vector<std::string>& recipients,
              const std::string& mime) const;
  // Builds the MIME text (see BuildMime) and sends it to message.to.
  Status Send(const MailMessage& message, TimePoint date,
              const std::string& message_id) const override;

 private:
  SmtpOptions options_;
};

}  // namespace vc::mail
