// Automated response actions on the alert's device, as the standalone connector (<= 1.1)
// offered them: collect an investigation package, antivirus scan, stop and quarantine the file,
// isolate. Each is off by default and gated by its own list of VMRay verdicts.
//
// When a file's verdict settles, EvidenceJob::Report queues one "response_action" outbox row per
// enabled action whose verdicts hold it, keyed response-action:<action>:<machineId>:<sha256>.
// The key names no alert: a second alert with the same file on the same device (or a replay, or
// a restart) finds the key taken, so each device gets each action once per file. A row never
// completes the job (the alert comment does).
//
// ResponseActionWriter delivers a row in steps, like a Live Response collection:
//   1. it waits while an earlier action of the same (device, file) is still open (the original
//      order: package -> scan -> stop & quarantine -> isolate), while one of our own Live
//      Response sessions or collections wants the device (SessionGate), and while MDE lists any
//      Pending/InProgress action on the device (the busy check of the collection);
//   2. after a crash between request and record it finds its own action by its comment instead
//      of asking twice; an isolation that already succeeded is not asked again;
//   3. it requests the action, records the machine action id (store cursor), and follows the
//      action until it is final; the outcome (id, status) is the row's reason.
// A missing permission, throttling or an outage is retried until give_up (the Live Response
// give-up time); an unknown device (404) and a request MDE refuses (400) end the row with a
// message that says what to do. A dry run logs the rows (jobs::DryRunDelivery).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clients/defender/response_actions.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/options.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"
#include "pipelines/defender_alerts/session_gate.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kResponseActionKind = "response_action";

std::string ResponseActionKey(mde::ResponseAction action, const std::string& machine_id,
                              const std::string& sha256);
// The comment MDE shows with the action: the configured words, then the verdict, the file and
// the VMRay report link.
std::string ResponseActionComment(const std::string& prefix, const std::string& verdict,
                                  const std::string& sha256, const std::string& report_url);
// The rows for one analysed file of one alert: empty for URL evidence, an alert without a
// device, or a verdict no enabled action is configured for.
std::vector<store::NewOutboxItem> ResponseActionItems(
    const std::array<ResponseActionSetting, 4>& settings, const EvidencePayload& p,
    const SampleResult& result);

struct ResponseActionTiming {
  Millis poll{30'000};               // following an action, waiting for an earlier one
  Millis busy_wait{120'000};         // a device busy with someone else's action
  Millis give_up{24 * 3'600'000LL};  // from the row's creation
};

class ResponseActionWriter final : public jobs::OutboxHandler {
 public:
  ResponseActionWriter(store::Store& store, mde::Client& mde, std::shared_ptr<SessionGate> sessions,
                       ResponseActionTiming timing)
      : store_(store), api_(mde), mde_(mde), sessions_(std::move(sessions)), timing_(timing) {}
  std::string kind() const override { return std::string(kResponseActionKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  store::Store& store_;
  mde::ResponseActionApi api_;
  mde::Client& mde_;
  std::shared_ptr<SessionGate> sessions_;
  ResponseActionTiming timing_;
};

}  // namespace vc::defender
