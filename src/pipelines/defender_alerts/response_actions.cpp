#include "pipelines/defender_alerts/response_actions.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/metrics.hpp"
#include "core/redact.hpp"

namespace vc::defender {
namespace {

using jobs::Delivery;
using mde::ResponseAction;

constexpr std::string_view kKeyPrefix = "response-action:";

std::string CursorOf(const std::string& key) {
  return "response_action." + key;
}

bool Wanted(const ResponseActionSetting& s, const std::string& verdict) {
  return s.enabled && std::find(s.verdicts.begin(), s.verdicts.end(), verdict) != s.verdicts.end();
}

std::string Hours(Millis d) {
  return fmt::format("{} h", d.count() / 3'600'000);
}

// Everything one delivery knows about its row.
struct Row {
  ResponseAction action = ResponseAction::kIsolate;
  std::string name;  // investigation_package, ...
  std::string machine_id;
  std::string device;  // computer name, else the id
  std::string sha256;
  std::string sha1;
  std::string verdict;
  std::string comment;
  std::string scope;
  std::vector<std::string> after;  // keys of the earlier actions for this device and file
};

Result<Row> ParseRow(const std::string& text) {
  auto j = ParseJson(text, "response action write-back");
  if (!j) return j.error();
  if (!j->is_object()) return MakeError(ErrorCode::kProtocol, "response action is not an object");
  Row r;
  r.name = j->value("action", "");
  auto action = mde::ResponseActionFromName(r.name);
  if (!action) return MakeError(ErrorCode::kProtocol, "unknown response action '" + r.name + "'");
  r.action = *action;
  r.machine_id = j->value("machine_id", "");
  r.device = j->value("device", "");
  if (r.device.empty()) r.device = r.machine_id;
  r.sha256 = j->value("sha256", "");
  r.sha1 = j->value("sha1", "");
  r.verdict = j->value("verdict", "");
  r.comment = j->value("comment", "");
  r.scope = j->value("scope", "");
  if (j->contains("after") && (*j)["after"].is_array()) {
    for (const auto& k : (*j)["after"]) {
      if (k.is_string()) r.after.push_back(k.get<std::string>());
    }
  }
  return r;
}

}  // namespace

std::string ResponseActionKey(ResponseAction action, const std::string& machine_id,
                              const std::string& sha256) {
  return fmt::format("{}{}:{}:{}", kKeyPrefix, mde::ResponseActionName(action), machine_id, sha256);
}

std::string ResponseActionComment(const std::string& prefix, const std::string& verdict,
                                  const std::string& sha256, const std::string& report_url) {
  // The comment is a JSON string value (built with nlohmann), so nothing here can break the
  // body; it carries no alert text, only what VMRay and the hash say.
  std::string text = fmt::format("{} (VMRay verdict: {}; file SHA-256: {}", prefix,
                                 verdict.empty() ? "unknown" : verdict, sha256);
  if (!report_url.empty()) text += "; VMRay report: " + report_url;
  return text + ")";
}

std::vector<store::NewOutboxItem> ResponseActionItems(
    const std::array<ResponseActionSetting, 4>& settings, const EvidencePayload& p,
    const SampleResult& result) {
  std::vector<store::NewOutboxItem> items;
  if (p.IsUrl() || p.machine_id.empty() || p.sha256.empty()) return items;
  std::vector<std::string> earlier;
  for (ResponseAction action : mde::kResponseActionOrder) {
    const ResponseActionSetting& s = settings[static_cast<size_t>(action)];
    if (!Wanted(s, result.verdict)) continue;
    const std::string key = ResponseActionKey(action, p.machine_id, p.sha256);
    if (action == ResponseAction::kStopAndQuarantineFile && p.sha1.empty()) {
      spdlog::warn(
          "alert {}: not asking MDE to stop and quarantine {} on {}: the alert's evidence "
          "carries no SHA-1, which the action needs",
          p.alert_id, p.sha256, p.machine_id);
      Metrics::Global().Inc("vc_response_actions_total",
                            {{"action", std::string(mde::ResponseActionName(action))},
                             {"outcome", "skipped_no_sha1"}});
      continue;
    }
    Json payload{
        {"action", mde::ResponseActionName(action)},
        {"alert_id", p.alert_id},
        {"machine_id", p.machine_id},
        {"device", p.computer_dns_name},
        {"sha256", p.sha256},
        {"sha1", p.sha1},
        {"verdict", result.verdict},
        {"comment", ResponseActionComment(s.comment, result.verdict, p.sha256, result.webif_url)},
        {"scope", s.scope},
        {"after", earlier}};
    store::NewOutboxItem item;
    item.idempotency_key = key;
    item.kind = std::string(kResponseActionKind);
    item.target = p.alert_id;
    item.payload = payload.dump();
    item.completes_job = false;
    items.push_back(std::move(item));
    earlier.push_back(key);
  }
  return items;
}

Delivery ResponseActionWriter::Deliver(const store::OutboxItem& item, TimePoint now) {
  Delivery d;
  auto parsed = ParseRow(item.payload);
  if (!parsed) {
    d.outcome = Delivery::Outcome::kFailed;
    d.reason = "unreadable response action: " + parsed.error().message;
    return d;
  }
  const Row& row = *parsed;
  const std::string what = fmt::format("{} {}", mde::ResponseActionVerb(row.action), row.device);
  const bool expired = now - item.created_at > timing_.give_up;
  auto count = [&](const std::string& outcome) {
    Metrics::Global().Inc("vc_response_actions_total",
                          {{"action", row.name}, {"outcome", outcome}});
  };
  auto done = [&](std::string reason, const std::string& outcome) {
    d.outcome = Delivery::Outcome::kDone;
    d.reason = std::move(reason);
    count(outcome);
    spdlog::info("response action {} on {}: {}", row.name, row.device, d.reason);
    return d;
  };
  auto failed = [&](std::string reason, const std::string& outcome) {
    d.outcome = Delivery::Outcome::kFailed;
    d.reason = std::move(reason);
    count(outcome);
    spdlog::warn("response action {} on {}: {}", row.name, row.device, d.reason);
    return d;
  };
  auto wait = [&](std::string reason, Millis delay, bool late) {
    if (late) {
      return failed(fmt::format("gave up after {} (live_response.give_up_after_hours): {}; "
                                "take the action in the Defender portal if it is still needed",
                                Hours(timing_.give_up), reason),
                    "gave_up");
    }
    d.outcome = Delivery::Outcome::kRetry;
    d.reason = std::move(reason);
    d.delay = delay;
    return d;
  };
  // A failed call: what it means for this row.
  auto on_error = [&](const Error& e, const std::string& doing) {
    if (e.code == ErrorCode::kNotFound) {
      return failed(fmt::format("device {} is not known to MDE (offboarded or deleted?) while "
                                "{}; nothing was done: {}",
                                row.device, doing, e.message),
                    "device_not_found");
    }
    if (e.code == ErrorCode::kPermissionDenied || e.code == ErrorCode::kUnauthenticated) {
      return wait(fmt::format("{}: the app registration lacks a permission; grant the "
                              "WindowsDefenderATP application permission {} (and "
                              "Machine.Read.All) with admin consent; retried every 30 min: {}",
                              doing, mde::ResponseActionPermission(row.action), e.ToString()),
                  Millis(30 * 60'000), expired);
    }
    if (e.code == ErrorCode::kInvalidArgument) {
      return failed(fmt::format("MDE refused to {} ({}); check the device's OS and the "
                                "defender.response_actions settings: {}",
                                what, doing, e.ToString()),
                    "refused");
    }
    Millis delay = std::min(Millis(15 * 60'000), Millis(5'000LL << std::min(item.attempts, 8)));
    if (e.retry_after) delay = std::max(delay, Millis(e.retry_after->count() * 1000));
    return wait(fmt::format("{} (attempt {}): {}", doing, item.attempts, e.ToString()), delay,
                expired);
  };
  // Follows the action we requested until it is final.
  auto follow = [&](const mde::MachineAction& a) {
    if (a.IsActive()) {
      const Millis age = std::chrono::duration_cast<Millis>(now - a.created.value_or(now));
      const bool late = age > timing_.give_up;
      // A device that has not run it within minutes is likely offline: look less often, so a
      // day of waiting does not spend the machineactions quota (1,500 calls an hour).
      const Millis every =
          age > Millis(10 * 60'000) ? std::max(timing_.poll, Millis(5 * 60'000)) : timing_.poll;
      return wait(fmt::format("{} requested: machine action {} is {}; a device that is offline "
                              "runs it when it connects again",
                              what, a.id, a.status),
                  every, late);
    }
    if (a.status == "Succeeded")
      return done(fmt::format("{}: machine action {} Succeeded", what, a.id), "succeeded");
    return failed(fmt::format("{}: machine action {} ended {}; see the device's action center in "
                              "the Defender portal and take the action there if still needed",
                              what, a.id, a.status),
                  "action_" + a.status);
  };

  const std::string cursor = CursorOf(item.idempotency_key);
  auto requested = store_.GetCursor(cursor);
  if (!requested)
    return wait("reading the response action's record: " + requested.error().message, timing_.poll,
                expired);
  if (*requested && !(*requested)->empty()) {
    auto a = mde_.GetMachineAction(**requested);
    if (!a && a.error().code == ErrorCode::kNotFound) {
      return failed(fmt::format("MDE no longer knows machine action {} ({}); check the device's "
                                "action center in the Defender portal",
                                **requested, what),
                    "action_not_found");
    }
    if (!a) return on_error(a.error(), "following machine action " + **requested);
    return follow(*a);
  }

  // The original order: an earlier action of this device and file first.
  for (const auto& key : row.after) {
    auto earlier = store_.GetOutboxByKey(key);
    if (!earlier)
      return wait("reading an earlier response action: " + earlier.error().message, timing_.poll,
                  expired);
    if (*earlier && (*earlier)->state == "pending") {
      return wait(fmt::format("waiting for the earlier action ({}) on {} to finish",
                              (*earlier)->idempotency_key.substr(kKeyPrefix.size()), row.device),
                  timing_.poll, expired);
    }
  }
  // Not racing our own Live Response: a session of ours on the device, a collection waiting for
  // it, or another response action being asked there right now.
  if (sessions_ &&
      (sessions_->DeviceInSession(row.machine_id) || sessions_->DeviceWanted(row.machine_id))) {
    return wait(
        fmt::format("waiting for our Live Response collection on {} to finish first", row.device),
        timing_.poll, expired);
  }
  if (sessions_ && !sessions_->TryHoldForAction(row.machine_id)) {
    return wait("another response action is being requested on " + row.device, timing_.poll,
                expired);
  }
  struct Hold {
    SessionGate* gate;
    std::string machine;
    ~Hold() {
      if (gate) gate->ReleaseAction(machine);
    }
  } hold{sessions_.get(), row.machine_id};

  auto actions = mde_.ListMachineActions(row.machine_id);
  if (!actions) return on_error(actions.error(), "checking the device's machine actions");
  const std::string type(mde::MachineActionType(row.action));
  if (item.attempts > 1) {
    // An earlier attempt may have reached MDE before its answer was recorded: ours carries this
    // exact comment and was created after the row.
    for (const auto& a : *actions) {
      if (a.type == type && a.requestor_comment == row.comment && a.created &&
          *a.created >= item.created_at - std::chrono::minutes(1)) {
        if (auto s = store_.SetCursor(cursor, a.id); !s)
          return wait("recording the machine action: " + s.error().message, timing_.poll, expired);
        return follow(a);
      }
    }
  }
  // The busy check of the Live Response collection: any Pending/InProgress action.
  for (const auto& a : *actions) {
    if (a.IsActive()) {
      return wait(fmt::format("device {} is busy with a {} action ({}, {}); waiting for it to "
                              "finish",
                              row.device, a.type, a.id, a.status),
                  timing_.busy_wait, expired);
    }
  }
  if (row.action == ResponseAction::kIsolate) {
    // Asking to isolate an isolated device only fails; someone (or an earlier file) did it.
    const mde::MachineAction* last = nullptr;
    for (const auto& a : *actions) {
      if ((a.type == "Isolate" || a.type == "Unisolate") && a.status == "Succeeded" && a.created &&
          (!last || *a.created > *last->created)) {
        last = &a;
      }
    }
    if (last && last->type == "Isolate") {
      return done(fmt::format("device {} is already isolated (machine action {}); not asked again",
                              row.device, last->id),
                  "already_isolated");
    }
  }
  mde::ResponseActionRequest request;
  request.action = row.action;
  request.machine_id = row.machine_id;
  request.comment = row.comment;
  request.scope = row.scope;
  request.sha1 = row.sha1;
  auto action = api_.Request(request);
  if (!action) {
    const Error& e = action.error();
    if (e.service_code == "ActiveRequestAlreadyExists") {
      return wait(fmt::format("MDE says an action of this kind is already pending on {}; waiting "
                              "for it to finish: {}",
                              row.device, e.message),
                  timing_.busy_wait, expired);
    }
    return on_error(e, "requesting the action");
  }
  count("requested");
  spdlog::info("response action {} on {} requested: machine action {} ({})", row.name, row.device,
               action->id, action->status);
  if (auto s = store_.SetCursor(cursor, action->id); !s) {
    // The next attempt finds the action by its comment.
    spdlog::warn("response action {}: could not record machine action {}: {}", row.name, action->id,
                 s.error().message);
  }
  return follow(*action);
}

}  // namespace vc::defender
