// One e-mail per settled alert (or, with mail.digest_minutes, one per interval: mail_digest.hpp)
// (the original's SendEmailNotification Logic App, which mailed the status record): verdict, report
// link and outcome of each evidence, every value escaped by the mail renderer. Queued as an outbox
// row keyed by the alert when its first job finishes; delivered once all of the alert's jobs are
// final. The Message-ID is derived from that key, so a mail repeated after a crash between "sent"
// and "recorded" carries the same id and mail systems drop the copy.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clients/mail/html.hpp"
#include "clients/mail/mail_sender.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/mail_digest.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kMailKind = "mail_notification";

store::NewOutboxItem MailNotificationItem(const std::string& alert_id);

struct MailSettings {
  std::string from;
  std::vector<std::string> to;
  std::string subject = std::string(mail::kDefaultSubject);  // mail.subject
  int digest_minutes = 0;  // mail.digest_minutes: 0 mails each alert on its own
};

// One summary per evidence job of the alert, most severe verdict first (a job whose payload is
// unreadable is left out).
std::vector<mail::AlertSummary> SummariseAlert(const SettledAlert& alert, store::Store& store);
// The Delivery after a failed send: final for a message the server will never take or after
// about a day of tries, a slow retry for a refused login or missing STARTTLS (a person has to
// act), the write-back backoff otherwise. `what` names the mail in the reason.
jobs::Delivery MailSendFailure(const Error& error, int attempts, const std::string& what);

class MailNotifier final : public jobs::OutboxHandler {
 public:
  // `sender`: SMTP (mail.transport = smtp) or Graph sendMail (graph).
  MailNotifier(std::shared_ptr<const mail::MailSender> sender, MailSettings settings,
               store::Store& store)
      : sender_(std::move(sender)), settings_(std::move(settings)), store_(store) {}
  std::string kind() const override { return std::string(kMailKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  std::shared_ptr<const mail::MailSender> sender_;
  MailSettings settings_;
  store::Store& store_;
};

}  // namespace vc::defender
