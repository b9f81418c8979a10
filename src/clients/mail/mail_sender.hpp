// How a notification leaves: over SMTP (smtp_sender.hpp) or through Microsoft Graph sendMail
// (clients/graph/mail.hpp). Both send the same MIME text, so the Message-ID derived from the
// outbox key is the same whichever way a repeated mail goes.
#pragma once

#include <string>

#include "clients/mail/mime.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace vc::mail {

class MailSender {
 public:
  virtual ~MailSender() = default;
  // kInvalidArgument: the message or the configuration is wrong (no retry helps);
  // kPermissionDenied / kProtocol: a person must fix credentials or TLS; others are transient.
  virtual Status Send(const MailMessage& message, TimePoint date,
                      const std::string& message_id) const = 0;
};

}  // namespace vc::mail
