#include "pipelines/defender_alerts/mail_digest.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "clients/mail/address.hpp"
#include "clients/mail/html.hpp"
#include "clients/mail/mime.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "pipelines/defender_alerts/mail_notification.hpp"

namespace vc::defender {
namespace {

// How far back a repeated delivery looks for the alert's member row; an alert settled longer
// ago than this many intervals before its mail row ran again is treated as new.
constexpr int64_t kMaxIntervalsScanned = 1000;
// Upper bound of one listing; far above what one interval of one tenant produces.
constexpr int kMaxMembersListed = 100'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int64_t EpochMillis(TimePoint t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

TimePoint SettledAt(const SettledAlert& alert, TimePoint now) {
  if (alert.jobs.empty()) return now;
  TimePoint last{};
  for (const auto& job : alert.jobs) last = std::max(last, job.updated_at);
  return last;
}

}  // namespace

Millis DigestClock::Grace() const {
  return std::min(Millis(60'000), interval / 4);
}

int64_t DigestClock::IntervalOf(TimePoint t) const {
  return FloorDiv(EpochMillis(t), interval.count());
}

int64_t DigestClock::FirstOpenInterval(TimePoint now) const {
  return FloorDiv(EpochMillis(now) - Grace().count() / 2, interval.count());
}

TimePoint DigestClock::Start(int64_t n) const {
  return TimePoint(interval * n);
}

TimePoint DigestClock::DueAt(int64_t n) const {
  return Start(n + 1) + Grace();
}

std::string DigestKey(int64_t interval) {
  return fmt::format("mail-digest:{}", interval);
}

std::string DigestMemberKey(int64_t interval, const std::string& alert_id) {
  return fmt::format("mail-digest-member:{}:{}", interval, alert_id);
}

jobs::Delivery JoinDigest(const SettledAlert& alert, const DigestClock& clock, store::Store& store,
                          TimePoint now) {
  const int64_t settled = clock.IntervalOf(SettledAt(alert, now));
  const int64_t target = std::max(settled, clock.FirstOpenInterval(now));
  // A delivery repeated after a crash finds the member row the first one added.
  for (int64_t n = std::max(settled, target - kMaxIntervalsScanned); n <= target; ++n) {
    auto existing = store.GetOutboxByKey(DigestMemberKey(n, alert.alert_id));
    if (!existing) {
      return RetryDelivery("looking up the alert's digest: " + existing.error().ToString(),
                           Millis(30'000));
    }
    if (*existing) {
      return FinalDelivery(jobs::Delivery::Outcome::kDone,
                           "listed in the mail digest of " + FormatIso8601(clock.Start(n)));
    }
  }
  // The digest row first: a member row without its digest would never be mailed.
  store::NewOutboxItem digest;
  digest.idempotency_key = DigestKey(target);
  digest.kind = std::string(kMailDigestKind);
  digest.target = FormatIso8601(clock.Start(target));
  digest.payload = Json{{"interval", target}}.dump();
  digest.next_attempt_at = clock.DueAt(target);
  digest.completes_job = false;
  store::NewOutboxItem member;
  member.idempotency_key = DigestMemberKey(target, alert.alert_id);
  member.kind = std::string(kMailDigestMemberKind);
  member.target = alert.alert_id;
  member.payload = Json{{"alert_id", alert.alert_id}, {"interval", target}}.dump();
  member.next_attempt_at = now;
  member.completes_job = false;
  for (const auto* item : {&digest, &member}) {
    if (auto added = store.EnqueueOutbox(*item); !added) {
      return RetryDelivery("adding the alert to the mail digest: " + added.error().ToString(),
                           Millis(30'000));
    }
  }
  return FinalDelivery(jobs::Delivery::Outcome::kDone,
                       "listed in the mail digest of " + FormatIso8601(clock.Start(target)));
}

jobs::Delivery MailDigestMemberHandler::Deliver(const store::OutboxItem&, TimePoint) {
  return FinalDelivery(jobs::Delivery::Outcome::kDone, "waiting in its mail digest");
}

MailDigestSender::MailDigestSender(std::shared_ptr<const mail::MailSender> sender,
                                   const MailSettings& settings, store::Store& store)
    : sender_(std::move(sender)),
      from_(settings.from),
      to_(settings.to),
      subject_(settings.subject),
      store_(store) {}

jobs::Delivery MailDigestSender::Deliver(const store::OutboxItem& item, TimePoint now) {
  auto payload = ParseJson(item.payload, "mail digest");
  if (!payload || !payload->is_object() || !payload->contains("interval") ||
      !(*payload)["interval"].is_number_integer()) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed, "unreadable mail digest request");
  }
  const int64_t interval = (*payload)["interval"].get<int64_t>();
  auto members = store_.ListOutboxByKeyPrefix(fmt::format("mail-digest-member:{}:", interval),
                                              kMaxMembersListed);
  if (!members) {
    return RetryDelivery("listing the digest's alerts: " + members.error().ToString(),
                         Millis(30'000));
  }
  std::vector<mail::AlertSummary> summaries;
  size_t alerts = 0;
  for (const auto& member : *members) {
    auto alert = ReadAlert(member.target, store_);
    if (!alert) {
      return RetryDelivery("reading a digest alert's jobs: " + alert.error().ToString(),
                           Millis(30'000));
    }
    auto rows = SummariseAlert(*alert, store_);
    if (rows.empty()) continue;
    ++alerts;
    summaries.insert(summaries.end(), rows.begin(), rows.end());
  }
  if (summaries.empty()) return FinalDelivery(jobs::Delivery::Outcome::kDone, "nothing to mail");
  const mail::MailMessage message = mail::DigestMail(summaries, from_, to_, subject_);
  const std::string message_id = mail::MessageIdFor(item.idempotency_key, mail::DomainOf(from_));
  auto sent = sender_->Send(message, now, message_id);
  if (sent) {
    return FinalDelivery(
        jobs::Delivery::Outcome::kDone,
        fmt::format("digest of {} alert(s) sent to {} recipient(s)", alerts, to_.size()));
  }
  return MailSendFailure(sent.error(), item.attempts, "the mail digest");
}

}  // namespace vc::defender
