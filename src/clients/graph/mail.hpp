// Notification mail through Microsoft Graph (v1.0, application permission Mail.Send): POST
// /v1.0/users/{sender}/sendMail with the base64 MIME text (Content-Type text/plain), the form
// Graph documents for sending a ready-made MIME message. Sending the same MIME as SMTP keeps
// one renderer, and the Message-ID derived from the outbox key lets receivers drop a copy sent
// again after a crash. Graph answers 202 with no body.
#pragma once

#include <memory>
#include <string>

#include "clients/mail/mail_sender.hpp"
#include "http/pipeline.hpp"

namespace vc::graph {

class GraphMailSender final : public mail::MailSender {
 public:
  // `sender`: the mailbox that sends (user id or user principal name).
  GraphMailSender(std::string base_url, std::string sender, std::shared_ptr<http::Pipeline> api);
  Status Send(const mail::MailMessage& message, TimePoint date,
              const std::string& message_id) const override;

 private:
  std::string base_url_;
  std::string sender_;
  std::shared_ptr<http::Pipeline> api_;
};

}  // namespace vc::graph
