#include "pipelines/defender_alerts/mail_notification.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "clients/mail/address.hpp"
#include "clients/mail/html.hpp"
#include "clients/mail/mime.hpp"
#include "core/json.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/incident_writer.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"

namespace vc::defender {
namespace {

mail::AlertSummary Summarise(const store::Job& job, const EvidencePayload& p, store::Store& store) {
  mail::AlertSummary s;
  s.alert_id = p.alert_id;
  s.title = p.alert_title;
  s.device = p.computer_dns_name.empty() ? p.machine_id : p.computer_dns_name;
  s.file_name = p.IsUrl() ? p.url : p.file_name;
  s.sha256 = p.sha256;
  s.verdict = p.verdict;
  s.report_url = p.report_url;
  s.state = job.state;
  if (job.state != "done") s.reason = Scrub(job.reason);
  if (!p.sha256.empty()) {
    if (auto sample = store.GetSample(p.sha256); sample && *sample) {
      if (auto result = SampleResult::Parse((*sample)->result_json)) {
        if (s.verdict.empty()) s.verdict = result->verdict;
        if (s.report_url.empty()) s.report_url = result->webif_url;
        s.classifications = result->classifications;
        s.threat_names = result->threat_names;
      }
    }
  }
  return s;
}

}  // namespace

store::NewOutboxItem MailNotificationItem(const std::string& alert_id) {
  store::NewOutboxItem item;
  item.idempotency_key = "mail:" + alert_id;  // one mail per alert, whichever job queues it
  item.kind = std::string(kMailKind);
  item.target = alert_id;
  item.payload = Json{{"alert_id", alert_id}}.dump();
  item.completes_job = false;
  return item;
}

std::vector<mail::AlertSummary> SummariseAlert(const SettledAlert& alert, store::Store& store) {
  std::vector<mail::AlertSummary> summaries;
  for (const auto& job : alert.jobs) {
    if (auto p = EvidencePayload::Parse(job.payload))
      summaries.push_back(Summarise(job, *p, store));
  }
  // Most severe first: the table reads from the worst file, and a one-alert mail takes its
  // subject from the first row.
  std::stable_sort(summaries.begin(), summaries.end(), [](const auto& a, const auto& b) {
    return VerdictRank(a.verdict) > VerdictRank(b.verdict);
  });
  return summaries;
}

jobs::Delivery MailSendFailure(const Error& e, int attempts, const std::string& what) {
  if (e.code == ErrorCode::kInvalidArgument || attempts >= 48) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                         "could not send " + what + ": " + e.ToString());
  }
  // A refused login or a server that speaks no STARTTLS needs a person, not a quick retry.
  const bool blocked = e.code == ErrorCode::kPermissionDenied || e.code == ErrorCode::kProtocol;
  return RetryDelivery("sending " + what + ": " + e.ToString(),
                       blocked ? Millis(30 * 60'000) : WriteBackBackoff(attempts));
}

jobs::Delivery MailNotifier::Deliver(const store::OutboxItem& item, TimePoint now) {
  auto settled = AwaitSettledAlert(item, store_, "mail notification");
  if (auto* wait = std::get_if<jobs::Delivery>(&settled)) return *wait;
  const SettledAlert& alert = std::get<SettledAlert>(settled);
  if (settings_.digest_minutes > 0) {
    return JoinDigest(alert, DigestClock{Millis(settings_.digest_minutes * 60'000LL)}, store_, now);
  }
  const std::vector<mail::AlertSummary> summaries = SummariseAlert(alert, store_);
  if (summaries.empty()) return FinalDelivery(jobs::Delivery::Outcome::kDone, "nothing to mail");
  const mail::MailMessage message =
      summaries.size() == 1
          ? mail::AlertMail(summaries.front(), settings_.from, settings_.to, settings_.subject)
          : mail::DigestMail(summaries, settings_.from, settings_.to, settings_.subject);
  const std::string message_id =
      mail::MessageIdFor(item.idempotency_key, mail::DomainOf(settings_.from));
  auto sent = sender_->Send(message, now, message_id);
  if (sent) {
    return FinalDelivery(jobs::Delivery::Outcome::kDone,
                         fmt::format("mail sent to {} recipient(s)", settings_.to.size()));
  }
  return MailSendFailure(sent.error(), item.attempts, "the alert mail");
}

}  // namespace vc::defender
