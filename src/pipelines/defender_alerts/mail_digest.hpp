// Mail digests (mail.digest_minutes > 0): instead of one mail per settled alert, one mail per
// interval listing every alert that settled in it. Everything lives in the outbox, so a crash
// at any point neither loses an alert nor lists it twice:
//   - the alert's own mail row ("mail:<alertId>"), once the alert has settled, makes sure the
//     interval's digest row exists ("mail-digest:<n>", due when the interval has closed) and
//     then adds a member row ("mail-digest-member:<n>:<alertId>"); before adding, it looks for
//     a member row of the alert in every interval since the alert settled, so a repeated
//     delivery after a crash finds the first one;
//   - the digest row, once due, lists its members by key prefix and sends one mail whose
//     Message-ID comes from its key.
// An interval stays open for new members until half a grace period after its end and its
// digest goes out a whole grace period after its end, so a member being added as the interval
// closes is never missed by a digest already on its way.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "clients/mail/mail_sender.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kMailDigestKind = "mail_digest";
inline constexpr std::string_view kMailDigestMemberKind = "mail_digest_member";

// Interval arithmetic, whole intervals since the Unix epoch (UTC), so intervals line up across
// restarts and with the wall clock (a 60-minute digest covers 10:00-11:00).
struct DigestClock {
  Millis interval;
  // The wait after an interval's end before its digest goes out: min(60 s, interval / 4).
  Millis Grace() const;
  int64_t IntervalOf(TimePoint t) const;
  // The first interval that still takes members at `now`.
  int64_t FirstOpenInterval(TimePoint now) const;
  TimePoint Start(int64_t n) const;
  TimePoint DueAt(int64_t n) const;  // end + grace
};

std::string DigestKey(int64_t interval);
std::string DigestMemberKey(int64_t interval, const std::string& alert_id);

// Adds a settled alert to a digest (exactly once, see above). Returns the Delivery of the
// alert's own mail row: done once the alert is a member, a retry when the store is away.
jobs::Delivery JoinDigest(const SettledAlert& alert, const DigestClock& clock, store::Store& store,
                          TimePoint now);

// Member rows are records for the digest to list; delivering one only marks it seen.
class MailDigestMemberHandler final : public jobs::OutboxHandler {
 public:
  std::string kind() const override { return std::string(kMailDigestMemberKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;
};

struct MailSettings;

class MailDigestSender final : public jobs::OutboxHandler {
 public:
  MailDigestSender(std::shared_ptr<const mail::MailSender> sender, const MailSettings& settings,
                   store::Store& store);
  std::string kind() const override { return std::string(kMailDigestKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  std::shared_ptr<const mail::MailSender> sender_;
  std::string from_;
  std::vector<std::string> to_;
  std::string subject_;
  store::Store& store_;
};

}  // namespace vc::defender
