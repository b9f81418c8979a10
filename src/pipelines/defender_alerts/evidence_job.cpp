#include "pipelines/defender_alerts/evidence_job.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "http/gzip.hpp"
#include "jobs/retry.hpp"
#include "pipelines/defender_alerts/child_samples.hpp"
#include "pipelines/defender_alerts/incident_writer.hpp"
#include "pipelines/defender_alerts/indicator_writer.hpp"
#include "pipelines/defender_alerts/mail_notification.hpp"
#include "pipelines/defender_alerts/replay.hpp"
#include "pipelines/defender_alerts/response_actions.hpp"
#include "pipelines/defender_alerts/status_record.hpp"
#include "pipelines/defender_alerts/submission_budget.hpp"

namespace vc::defender {
namespace {

using jobs::StepResult;

constexpr std::string_view kCollectionFailure = "collection: ";
constexpr std::string_view kAnalysisFailure = "analysis: ";
constexpr int kMaxClaims = 2;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

StepResult Go(std::string state, std::string reason, const EvidencePayload& p,
              Millis delay = Millis(0)) {
  StepResult r;
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.payload = p.Dump();
  r.delay = delay;
  return r;
}

StepResult End(std::string state, std::string reason, const EvidencePayload& p) {
  StepResult r = Go(std::move(state), std::move(reason), p);
  r.final = true;
  return r;
}

std::string AcquisitionComment(const EvidencePayload& p) {
  return "VMRay Connector File Acquisition Job for " + p.sha256;
}

std::string Minutes(Millis d) {
  return fmt::format("{} min", d.count() / 60'000);
}

}  // namespace

EvidenceJob::EvidenceJob(DefenderOptions options, store::Store& store, vmray::Client& vmray,
                         mde::Client& mde, std::shared_ptr<SessionGate> sessions,
                         std::function<void()> notify, QuarantineHandOff quarantine)
    : options_(std::move(options)),
      store_(store),
      vmray_(vmray),
      mde_(mde),
      sessions_(std::move(sessions)),
      notify_(std::move(notify)),
      quarantine_(std::move(quarantine)) {}

std::string EvidenceJob::DeviceName(const EvidencePayload& p) const {
  return p.computer_dns_name.empty() ? p.machine_id : p.computer_dns_name;
}

StepResult EvidenceJob::Step(const jobs::StepContext& ctx) {
  auto parsed = EvidencePayload::Parse(ctx.job.payload);
  if (!parsed) {
    StepResult r;
    r.state = "failed";
    r.final = true;
    r.reason = "job payload is unreadable (" + parsed.error().message + ")";
    return r;
  }
  EvidencePayload& p = *parsed;
  const bool rider = p.rides_with != 0;
  bool took_session = false;
  StepResult r = Dispatch(ctx, p, took_session);
  if (r.final && r.state == "failed" && r.outbox.empty() && (!p.sha256.empty() || p.IsUrl()) &&
      ctx.job.state != kReplayState) {
    // A step gave up through the generic retry path (a service down for hours, a permission
    // never granted): release the file for waiting jobs and tell the analyst on the alert.
    const std::string& s = ctx.job.state;
    const bool collecting = s == "collecting" || s == "collection_pending" || s == "downloading" ||
                            s == "waiting_for_analysis_slot";
    EvidencePayload fresh = *EvidencePayload::Parse(r.payload.value_or(ctx.job.payload));
    r = Fail(ctx, fresh, collecting ? "collection" : "analysis", r.reason);
  }
  // Only a replayed job (the count is set when the replay is asked for) compares its write-backs.
  if (auto s = p.replays > 0 ? ApplyReplay(store_, ctx.job.payload, r) : Ok(); !s) {
    // The store is failing: the step's update would not be recorded either; do it again.
    r = jobs::RetryStep(ctx.job, s.error(), "comparing the replay with earlier write-backs");
  }
  // A session slot is held exactly while the job is in collection_pending, by the job that
  // started the session (files riding along hold none).
  if ((took_session || (ctx.job.state == "collection_pending" && !rider)) &&
      r.state != "collection_pending") {
    sessions_->Release();
    sessions_->EndDeviceSession(ctx.job.id);
  }
  if (!rider && r.state == "collection_pending") {
    sessions_->StartDeviceSession(p.machine_id, ctx.job.id);
  }
  if (r.state != "collecting") sessions_->Forget(ctx.job.id);
  RetireBlob(ctx, r);
  if (quarantine_.blob && quarantine_.status_records && (r.final || r.state == "writing_back")) {
    std::vector<std::string> indicator_samples;
    for (const auto& item : r.outbox) {
      if (item.kind == kIndicatorsKind) indicator_samples.push_back(IndicatorItemSample(item));
    }
    // Each replay rewrites the record, with what the replay found.
    r.outbox.push_back(
        StatusRecordItem(p.alert_id, ctx.job.id, r.state, indicator_samples, p.replays));
  }
  if (options_.mail_notifications && (r.final || r.state == "writing_back")) {
    r.outbox.push_back(MailNotificationItem(p.alert_id));  // one per alert (same key)
  }
  return r;
}

StepResult EvidenceJob::Dispatch(const jobs::StepContext& ctx, EvidencePayload& p,
                                 bool& took_session) {
  const std::string& s = ctx.job.state;
  if (p.IsUrl() && s == "new") return OnUrlNew(ctx, p);
  if (s == "new") return OnNew(ctx, p);
  if (s == "looking_up") return OnLookup(ctx, p, took_session);
  if (s == "waiting_for_sample") return OnWaiting(ctx, p);
  if (s == "collecting") return OnCollecting(ctx, p, took_session);
  if (s == "collection_pending") return OnCollectionPending(ctx, p);
  if (s == "downloading") return OnDownloading(ctx, p);
  if (s == "analysing") return OnAnalysing(ctx, p);
  if (s == kReplayState) return OnReplay(ctx, p);
  if (s == "waiting_for_analysis_slot") {
    if (p.IsUrl()) return OnUrlNew(ctx, p);
    StepResult r = OnDownloading(ctx, p);
    // Holding a slot now, a failed download is retried as one.
    if (r.state == s && r.reason.rfind("waiting for a VMRay analysis slot", 0) != 0) {
      r.state = "downloading";
    }
    return r;
  }
  if (s == "no_file_evidence") return End("skipped", p.skip_reason, p);
  if (s == "unreadable_alert") return End("failed", p.skip_reason, p);
  if (s == "writing_back") {
    // Only reached if the write-back row went missing: enqueue it again (same key, no duplicate).
    auto sample = store_.GetSample(p.sha256);
    if (sample && *sample && (*sample)->state == "finished") {
      if (auto result = SampleResult::Parse((*sample)->result_json)) return Report(p, *result);
    }
    return OnNew(ctx, p);
  }
  return End("failed", "unknown job state " + s, p);
}

StepResult EvidenceJob::OnNew(const jobs::StepContext& ctx, EvidencePayload& p) {
  const TimePoint reuse_after =
      options_.resubmit_after_days > 0
          ? ctx.now - std::chrono::hours(24) * options_.resubmit_after_days
          : ctx.now + Millis(1);
  auto row = store_.ClaimSample(p.sha256, ctx.job.id, ctx.now, reuse_after);
  if (!row) return jobs::RetryStep(ctx.job, row.error(), "claiming the sample");
  if (row->state == "finished") {
    auto result = SampleResult::Parse(row->result_json);
    if (result) return Report(p, *result);
    // A cached result we cannot read is worth nothing: look the sample up again.
  }
  if (row->owner_job_id == ctx.job.id && row->state == "collecting") {
    p.owner = true;
    ++p.claims;
    return Go("looking_up", "looking up the file in VMRay", p);
  }
  return Go("waiting_for_sample",
            fmt::format("another alert's job ({}) is already {} this file; waiting for its verdict",
                        row->owner_job_id, row->state == "submitted" ? "analysing" : "collecting"),
            p, options_.wait_for_sample_poll);
}

StepResult EvidenceJob::OnWaiting(const jobs::StepContext& ctx, EvidencePayload& p) {
  auto row = store_.GetSample(p.sha256);
  if (!row) return jobs::RetryStep(ctx.job, row.error(), "reading the sample state");
  if (!*row) return OnNew(ctx, p);
  const store::Sample& s = **row;
  if (s.state == "finished") {
    auto result = SampleResult::Parse(s.result_json);
    if (result) return Report(p, *result);
    return OnNew(ctx, p);
  }
  if (s.state == "failed") {
    // The owner met the day's budget: take the file over and meet the budget in turn (a new
    // day may have started, or the budget been raised, meanwhile).
    if (s.reason.rfind(kBudgetSkip, 0) == 0) return OnNew(ctx, p);
    const bool collection = s.reason.rfind(kCollectionFailure, 0) == 0;
    if (!collection || p.claims >= kMaxClaims) return Fail(ctx, p, "", s.reason);
    // The owner could not get the file (its device offline, say): try from this alert's device.
    return OnNew(ctx, p);
  }
  return Go("waiting_for_sample",
            fmt::format("another alert's job ({}) is {} this file; waiting for its verdict",
                        s.owner_job_id, s.state == "submitted" ? "analysing" : "collecting"),
            p, options_.wait_for_sample_poll);
}

StepResult EvidenceJob::OnLookup(const jobs::StepContext& ctx, EvidencePayload& p,
                                 bool& took_session) {
  auto samples = vmray_.SamplesByHash(p.sha256);
  if (!samples) return jobs::RetryStep(ctx.job, samples.error(), "VMRay hash lookup");
  const vmray::Sample* known = nullptr;
  for (const auto& s : *samples) {
    if (Lower(s.sha256) == p.sha256) known = &s;
  }
  if (known) {
    auto subs = vmray_.SubmissionsOfSample(known->sample_id);
    if (!subs)
      return jobs::RetryStep(ctx.job, subs.error(), "listing the sample's VMRay submissions");
    std::optional<TimePoint> last_finished;
    const vmray::Submission* running = nullptr;
    for (const auto& sub : *subs) {
      if (sub.finished) {
        const auto t = sub.finish_time ? sub.finish_time : sub.created;
        if (t && (!last_finished || *t > *last_finished)) last_finished = t;
      } else if (sub.created && ctx.now - *sub.created < options_.analysis_timeout) {
        running = &sub;
      }
    }
    const bool fresh =
        last_finished &&
        (p.accept_cached ||
         (options_.resubmit_after_days > 0 &&
          ctx.now - *last_finished < std::chrono::hours(24) * options_.resubmit_after_days));
    if (fresh) {
      vmray::Sample sample = *known;
      if (sample.verdict.empty()) {
        auto full = vmray_.GetSample(known->sample_id);
        if (!full) return jobs::RetryStep(ctx.job, full.error(), "reading the VMRay sample");
        sample = std::move(*full);
      }
      auto vtis = vmray_.Vtis(sample.sample_id);
      if (!vtis) return jobs::RetryStep(ctx.job, vtis.error(), "reading the VMRay VTIs");
      p.sample_id = sample.sample_id;
      SampleResult result = SampleResult::From(sample, std::move(*vtis), last_finished);
      if (auto c = ReadChildSamples(vmray_, sample, result); !c)
        return jobs::RetryStep(ctx.job, c.error(), "reading the VMRay child samples");
      return Finished(ctx, p, result);
    }
    if (running && !p.accept_cached) {
      // Someone already submitted this file and VMRay is on it: wait for that instead of paying
      // twice.
      p.submission_id = running->submission_id;
      p.sample_id = known->sample_id;
      p.submitted_at = running->created;
      if (auto s = MarkSample(ctx.job.id, p, "submitted", ctx.now); !s)
        return jobs::RetryStep(ctx.job, s.error(), "recording the submission");
      return Go(
          "analysing",
          fmt::format("VMRay is already analysing this file (submission {})", p.submission_id), p,
          options_.analysis_poll_interval);
    }
  }
  if (p.accept_cached) {
    // VMRay answered the submission with "no jobs were created" but holds no finished analysis
    // of the file to reuse: collecting and submitting again would only repeat that answer.
    return Fail(ctx, p, "analysis",
                "VMRay did not store the submission (Submission not stored because no jobs were "
                "created) and has no earlier analysis of this file to reuse; check the VMRay job "
                "rules for this file type");
  }
  if (p.IsAv()) {
    if (!options_.fetch_quarantined_files) {
      if (auto s = MarkSample(ctx.job.id, p, "failed", ctx.now,
                              std::string(kCollectionFailure) + "FetchQuarantinedFiles is off");
          !s) {
        return jobs::RetryStep(ctx.job, s.error(), "recording the sample state");
      }
      WakeWaiters(p.sha256, ctx.now);
      return End("skipped", "the file is in Defender quarantine and FetchQuarantinedFiles is off",
                 p);
    }
    if (!quarantine_.blob) {
      // No storage account to hand the file over: release the file so an EDR alert with the
      // same file on disk elsewhere can collect it meanwhile. The daemon reopens these jobs
      // when it starts with a storage account configured.
      if (auto s =
              MarkSample(ctx.job.id, p, "failed", ctx.now,
                         std::string(kCollectionFailure) + "the file is in Defender quarantine");
          !s) {
        return jobs::RetryStep(ctx.job, s.error(), "recording the sample state");
      }
      WakeWaiters(p.sha256, ctx.now);
      return End("waiting_for_quarantine_collection",
                 "VMRay does not know this file and Defender quarantined it on " + DeviceName(p) +
                     "; set storage.connection_string (AzureStorageConnectionString) so the "
                     "collection script can hand it over",
                 p);
    }
  }
  if (p.machine_id.empty())
    return Fail(ctx, p, "collection", "the alert names no device to collect the file from");
  // The file needs a submission: a unit of today's budget is taken before the device is
  // touched, so a file past the budget costs no Live Response session either.
  if (auto stop = TakeBudgetUnit(ctx, p)) return *stop;
  p.collection_started_at = ctx.now;
  // Start the collection in this same step; a failure is retried as `collecting`.
  StepResult r = OnCollecting(ctx, p, took_session);
  if (r.state == ctx.job.state) {
    r.state = "collecting";
    if (!r.payload) r.payload = p.Dump();
  }
  return r;
}

StepResult EvidenceJob::OnCollecting(const jobs::StepContext& ctx, EvidencePayload& p,
                                     bool& took_session) {
  const TimePoint started = p.collection_started_at.value_or(ctx.now);
  if (ctx.now - started > options_.lr_give_up) {
    return Fail(
        ctx, p, "collection",
        fmt::format(
            "could not collect the file from {} within {} h (live_response.give_up_after_hours)",
            DeviceName(p), options_.lr_give_up.count() / 3'600'000));
  }
  // Known as waiting for the device until the job leaves `collecting`, so the job that gets the
  // device's next session can take this file along.
  sessions_->WaitForDevice(p.machine_id, ctx.job.id, p.priority, ctx.now);
  if (sessions_->DeviceInSession(p.machine_id)) {
    // Our own session on the device: its leader may take this file along next time; nothing to
    // ask MDE until it ends.
    p.outcome = "device_busy";
    return Go("collecting",
              fmt::format("device {} runs another of our Live Response sessions; waiting for it",
                          DeviceName(p)),
              p, options_.lr_poll_interval);
  }
  // Waiting for our runliveresponse limiter: wake a moment after its next slot frees. The
  // spread is short: a job that wakes too late only looks at the limiter (a local check).
  auto wait_for_slot = [&](Millis wait) {
    sessions_->Wait(ctx.job.id, p.priority, ctx.now);
    const Millis spread(static_cast<int64_t>(DefaultRandom().Uniform(0, 2'000)));
    return Go("collecting",
              fmt::format("waiting for the runliveresponse rate limit (10 sessions a minute per "
                          "tenant); next start possible in {} s",
                          (wait.count() + 999) / 1000),
              p, wait + spread);
  };
  if (lr_free_in_) {
    if (const Millis wait = lr_free_in_(); wait.count() > 0) return wait_for_slot(wait);
  }
  // Tenant-wide Live Response sessions are limited; a slot is taken before the device check,
  // and more severe alerts waiting for one go first.
  if (!sessions_->TryAcquire(ctx.job.id, p.priority, ctx.now)) {
    const int above = sessions_->WaitingAbove(p.priority, ctx.now);
    return Go("collecting",
              above > 0
                  ? fmt::format("waiting for Live Response: {} more severe alert(s) first", above)
                  : fmt::format("waiting for a free Live Response session ({} in use, "
                                "tenant limit {})",
                                sessions_->in_flight(), sessions_->limit()),
              p, options_.lr_poll_interval);
  }
  took_session = true;  // given back by Step unless the job goes on to collection_pending
  // The runliveresponse token is taken now, before the device check: another job that saw the
  // same free slot finds it gone here and spends no list call.
  bool slot_taken = false;
  if (lr_take_) {
    if (const Millis wait = lr_take_(); wait.count() > 0) return wait_for_slot(wait);
    slot_taken = true;
  }
  auto actions = mde_.ListMachineActions(p.machine_id);
  if (!actions) {
    if (actions.error().code == ErrorCode::kNotFound) {
      return Fail(ctx, p, "collection",
                  "device " + DeviceName(p) + " is not known to MDE (offboarded?)");
    }
    return jobs::RetryStep(ctx.job, actions.error(), "checking the device's machine actions");
  }
  const std::string comment = AcquisitionComment(p);
  bool busy = false;
  bool busy_with_ours = true;  // every active action on the device is another collection of ours
  for (const auto& a : *actions) {
    // Our own request from before a crash: continue with it instead of starting another.
    // A finished one counts only before our first recorded attempt: after that, a finished
    // action with our comment is the attempt we already handled.
    if (a.type == "LiveResponse" && a.requestor_comment.rfind(comment, 0) == 0 && a.created &&
        *a.created >= started - std::chrono::minutes(1) && (a.IsActive() || p.lr_attempts == 0)) {
      p.action_id = a.id;
      p.action_started_at = a.created;
      ++p.lr_attempts;  // started before the crash, never counted
      return Go("collection_pending", "continuing Live Response action " + a.id, p);
    }
    if (a.IsActive()) {
      busy = true;
      p.outcome = "device_busy";
      busy_with_ours = busy_with_ours &&
                       a.requestor_comment.rfind("VMRay Connector File Acquisition Job", 0) == 0;
    }
  }
  if (busy) {
    ++p.busy_checks;
    // Our own collections are short and we know their pace; someone else's may take long.
    return Go(
        "collecting",
        fmt::format(
            "device {} is busy with {} Live Response action (check {}); waiting for it to finish",
            DeviceName(p), busy_with_ours ? "another of our" : "someone else's", p.busy_checks),
        p, busy_with_ours ? options_.lr_poll_interval : options_.busy_wait);
  }
  mde::LiveResponseCommand command{"GetFile", {{"Path", p.FullPath()}}};
  if (p.IsAv()) {
    if (auto stop = PrepareQuarantine(ctx, p, command)) return *stop;
  }
  // Other files waiting for this device go into the same session. MDE runs the commands in
  // the order PutFile..., RunScript..., GetFile..., so each file's index follows that order.
  std::vector<Rider> riders = GatherRiders(ctx, p);
  std::vector<std::pair<mde::LiveResponseCommand, EvidencePayload*>> parts{{command, &p}};
  for (auto& rider : riders) parts.emplace_back(rider.command, &rider.payload);
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) {
    return (a.first.type == "RunScript" ? 0 : 1) < (b.first.type == "RunScript" ? 0 : 1);
  });
  std::vector<mde::LiveResponseCommand> commands;
  for (size_t i = 0; i < parts.size(); ++i) {
    commands.push_back(parts[i].first);
    parts[i].second->command_index = static_cast<int>(i);
  }
  const std::string session_comment =
      riders.empty() ? comment
                     : fmt::format("{} and {} more file(s) of this device", comment, riders.size());
  auto action = mde_.RunLiveResponse(p.machine_id, commands, session_comment, slot_taken);
  SettleRiders(ctx, riders, action ? action->id : std::string());
  if (!action) {
    const Error& e = action.error();
    if (e.service_code == "ActiveRequestAlreadyExists") {
      ++p.busy_checks;
      // Usually a race with another of our collections on this device; the next check tells
      // whose session it is and waits accordingly.
      return Go(
          "collecting",
          fmt::format("device {} already runs a Live Response session; waiting", DeviceName(p)), p,
          options_.lr_poll_interval);
    }
    if (e.code == ErrorCode::kNotFound) {
      return Fail(ctx, p, "collection",
                  "device " + DeviceName(p) + " is not known to MDE (offboarded?)");
    }
    if (e.code == ErrorCode::kInvalidArgument) {
      return Fail(ctx, p, "collection", "MDE refused the Live Response request: " + e.message);
    }
    // Our own runliveresponse limiter said "not yet": keep our place in the severity order.
    if (e.service_code == kLocalRateLimitCode) sessions_->Wait(ctx.job.id, p.priority, ctx.now);
    return jobs::RetryStep(ctx.job, e, "starting Live Response");
  }
  p.action_id = action->id;
  p.action_started_at = ctx.now;
  ++p.lr_attempts;
  const std::string what = p.IsAv()
                               ? fmt::format("collection script for threat '{}'", p.threat_name)
                               : "GetFile " + p.FullPath();
  const std::string along =
      riders.empty() ? "" : fmt::format(", with {} more file(s) of the device", riders.size());
  return Go("collection_pending",
            fmt::format("Live Response {} started on {} (action {}{})", what, DeviceName(p),
                        p.action_id, along),
            p, options_.lr_poll_interval);
}

StepResult EvidenceJob::OnCollectionPending(const jobs::StepContext& ctx, EvidencePayload& p) {
  auto action = mde_.GetMachineAction(p.action_id);
  if (!action) {
    if (action.error().code == ErrorCode::kNotFound) {
      p.action_id.clear();
      return Go("collecting", "the Live Response action disappeared; starting again", p,
                options_.busy_wait);
    }
    return jobs::RetryStep(ctx.job, action.error(), "polling the Live Response action");
  }
  const TimePoint started = p.collection_started_at.value_or(ctx.now);
  if (action->status == "Pending" || action->status == "InProgress") {
    if (action->status == "Pending") p.outcome = "device_offline";
    if (p.IsAv() && action->status == "Pending" && ctx.now - started <= options_.lr_give_up &&
        ctx.now - p.action_started_at.value_or(ctx.now) >= options_.upload_window) {
      // The upload link expires soon: a device that comes online later must get a fresh one.
      auto cancelled = mde_.CancelMachineAction(
          p.action_id, "Cancelled by VMRay Connector: the upload link expired; asking again");
      if (!cancelled && cancelled.error().code != ErrorCode::kInvalidArgument)
        return jobs::RetryStep(ctx.job, cancelled.error(), "cancelling the queued session");
      p.action_id.clear();
      ++p.expired_links;  // the device never ran it: not a failed attempt
      return Go("collecting",
                fmt::format("device {} did not pick up the collection within {} min (its upload "
                            "link's lifetime); asking again when it is online",
                            DeviceName(p), options_.upload_window.count() / 60'000),
                p, options_.busy_wait);
    }
    if (ctx.now - started > options_.lr_give_up) {
      p.outcome = "timed_out";
      // A file riding in another job's session leaves the session to that job.
      auto cancelled = p.rides_with != 0
                           ? Result<mde::MachineAction>(mde::MachineAction{})
                           : mde_.CancelMachineAction(
                                 p.action_id, "Cancelled by VMRay Connector: gave up waiting");
      if (!cancelled)
        spdlog::warn("could not cancel machine action {}: {}", p.action_id,
                     cancelled.error().message);
      return Fail(
          ctx, p, "collection",
          fmt::format(
              "device {} did not run the Live Response request within {} h; it may be offline",
              DeviceName(p), options_.lr_give_up.count() / 3'600'000));
    }
    const std::string reason =
        action->status == "Pending"
            ? fmt::format(
                  "waiting for device {} to pick up the Live Response request (an offline device "
                  "runs it when it reconnects; giving up after {} h)",
                  DeviceName(p), options_.lr_give_up.count() / 3'600'000)
            : fmt::format("Live Response running on {}", DeviceName(p));
    return Go("collection_pending", reason, p, options_.lr_poll_interval);
  }
  std::string errors;
  const mde::CommandResult* ours = nullptr;
  const char* our_type = p.IsAv() ? "RunScript" : "GetFile";
  // In a session shared by several files, each job has its own command and its own outcome.
  const bool shared = action->commands.size() > 1;
  for (const auto& c : action->commands) {
    if (shared ? c.index == p.command_index : c.type == our_type) ours = &c;
  }
  for (const auto& c : action->commands) {
    if (shared && &c != ours) continue;
    for (const auto& e : c.errors) errors += (errors.empty() ? "" : "; ") + e;
  }
  if (shared && ours && action->status != "Succeeded" && ours->command_status != "Failed") {
    // Another file's command failed (the later ones then never run) or the session was
    // cancelled. Results are downloadable only from a session that succeeded, so our command
    // is asked for again, without counting it as a failed attempt.
    ++p.not_run;
    p.action_id.clear();
    p.rides_with = 0;
    return Go("collecting",
              fmt::format("the shared Live Response session on {} ended {} because of another "
                          "file's command; asking again",
                          DeviceName(p), action->status),
              p, options_.lr_poll_interval);
  }
  if (action->status == "Succeeded" && ours) {
    p.command_index = ours->index;
    // Download and submit in this same step; if that fails, it is retried as `downloading`
    // (the action need not be polled again).
    StepResult r = OnDownloading(ctx, p);
    if (r.state == ctx.job.state) {
      r.state = "downloading";
      if (!r.payload) r.payload = p.Dump();
    }
    return r;
  }
  const std::string detail = fmt::format("Live Response {} on {}{}", action->status, DeviceName(p),
                                         errors.empty() ? "" : " (" + errors + ")");
  const std::string lower = Lower(errors);
  if (p.IsAv() && lower.find("library") != std::string::npos && quarantine_.library) {
    // Someone removed or renamed the script in the library: put it back and run again.
    quarantine_.library->Invalidate();
    return RetryCollection(ctx, p, "script_missing", detail, options_.lr_poll_interval);
  }
  if (lower.find("not found") != std::string::npos ||
      lower.find("does not exist") != std::string::npos) {
    return Fail(
        ctx, p, "collection",
        fmt::format("the file {} is no longer on {}: {}", p.FullPath(), DeviceName(p), detail));
  }
  if (p.CountedAttempts() >= options_.lr_max_attempts) {
    return Fail(
        ctx, p, "collection",
        fmt::format("{}; tried {} times (MachineAvailabilityRetry)", detail, p.CountedAttempts()));
  }
  p.action_id.clear();
  return Go("collecting", detail + "; trying again", p, options_.busy_wait);
}

std::optional<StepResult> EvidenceJob::RecoverSubmission(const jobs::StepContext& ctx,
                                                         EvidencePayload& p) {
  auto samples = vmray_.SamplesByHash(p.sha256);
  if (!samples)
    return jobs::RetryStep(ctx.job, samples.error(), "checking VMRay for an earlier submission");
  for (const auto& s : *samples) {
    auto subs = vmray_.SubmissionsOfSample(s.sample_id);
    if (!subs)
      return jobs::RetryStep(ctx.job, subs.error(), "checking VMRay for an earlier submission");
    for (const auto& sub : *subs) {
      if (sub.created && *sub.created >= *p.submit_started_at - std::chrono::minutes(2)) {
        p.submission_id = sub.submission_id;
        p.sample_id = s.sample_id;
        p.submitted_at = sub.created;
        if (auto st = MarkSample(ctx.job.id, p, "submitted", ctx.now); !st)
          return jobs::RetryStep(ctx.job, st.error(), "recording the submission");
        return Go("analysing",
                  fmt::format("found the earlier submission {} in VMRay", p.submission_id), p,
                  options_.analysis_poll_interval);
      }
    }
  }
  return std::nullopt;
}

StepResult EvidenceJob::OnDownloading(const jobs::StepContext& ctx, EvidencePayload& p) {
  if (p.submit_started_at && p.submission_id == 0) {
    if (auto recovered = RecoverSubmission(ctx, p)) return *recovered;
  }
  // Wait for an analysis slot before fetching the file: a waiting job holds nothing in memory
  // and the collected file stays where it is (Live Response result, upload blob).
  if (auto wait = TakeAnalysisSlot(ctx, p)) return *wait;
  if (p.IsAv()) return OnQuarantineDownload(ctx, p);
  auto link = mde_.LiveResponseResultLink(p.action_id, p.command_index);
  if (!link) return jobs::RetryStep(ctx.job, link.error(), "getting the Live Response result link");
  auto raw = mde_.Download(*link);
  if (!raw) return jobs::RetryStep(ctx.job, raw.error(), "downloading the collected file");
  auto file = http::Gunzip(*raw, static_cast<size_t>(options_.max_file_size));
  if (!file) {
    if (file.error().code == ErrorCode::kInvalidArgument)
      return Fail(ctx, p, "collection", file.error().message);
    return jobs::RetryStep(ctx.job, file.error(), "unpacking the collected file");
  }
  return SubmitFile(ctx, p, std::move(*file));
}

StepResult EvidenceJob::SubmitFile(const jobs::StepContext& ctx, EvidencePayload& p,
                                   std::string file_bytes) {
  auto file = &file_bytes;
  const std::string got = Sha256Hex(*file);
  if (got != p.sha256) {
    p.outcome = "hash_mismatch";
    return Fail(
        ctx, p, "collection",
        fmt::format("the collected file's SHA-256 {} does not match the evidence; the file on {} "
                    "changed since the alert, so nothing was submitted",
                    got, DeviceName(p)));
  }
  p.submit_started_at = ctx.now;
  if (auto s = ctx.checkpoint(p.Dump()); !s)
    return jobs::RetryStep(ctx.job, s.error(), "recording the submission start");

  vmray::SubmitRequest req;
  req.filename = p.file_name.empty() ? p.sha256 : p.file_name;
  req.content = std::move(*file);
  if (p.IsAv()) {
    req.tags = {"AV_Alert"};
    if (!p.threat_family.empty()) req.tags.push_back(p.threat_family);
  } else {
    req.tags = {"EDR_alert"};
  }
  if (options_.add_alert_id_tags) req.tags.push_back(p.alert_id);
  req.comment = options_.submission_comment;
  req.user_config = Json{{"timeout", options_.analysis_duration_seconds}};
  auto result = vmray_.Submit(req);
  if (!result) return jobs::RetryStep(ctx.job, result.error(), "submitting to VMRay");
  if (result->submissions.empty()) {
    const std::string msg =
        result->errors.empty() ? "no submission in the answer" : result->errors.front().message;
    // VMRay created no analysis: not a submission the budget pays for.
    if (auto released = store_.ReleaseBudgetUnit(ctx.job.id); !released)
      spdlog::warn("job {}: could not give back its budget unit: {}", ctx.job.id,
                   released.error().message);
    if (Lower(msg).find("no jobs were created") != std::string::npos && !p.accept_cached) {
      // VMRay kept an earlier analysis instead (analysis caching): use that one.
      p.accept_cached = true;
      p.submit_started_at.reset();
      return Go("looking_up", "VMRay reused an earlier analysis of this file: " + msg, p);
    }
    return Fail(ctx, p, "analysis", "VMRay did not accept the submission: " + msg);
  }
  const vmray::Submission& sub = result->submissions.front();
  p.outcome = "collected";
  p.submission_id = sub.submission_id;
  p.sample_id = sub.sample_id;
  p.submitted_at = ctx.now;
  Metrics::Global().Inc("vc_vmray_submissions_total", {{"kind", "file"}});
  if (auto s = MarkSample(ctx.job.id, p, "submitted", ctx.now); !s)
    return jobs::RetryStep(ctx.job, s.error(), "recording the submission");
  return Go(
      "analysing",
      fmt::format("submitted to VMRay (submission {}); waiting for the analysis", p.submission_id),
      p, options_.analysis_poll_interval);
}

StepResult EvidenceJob::OnAnalysing(const jobs::StepContext& ctx, EvidencePayload& p) {
  auto sub = vmray_.GetSubmission(p.submission_id);
  if (!sub) {
    if (sub.error().code == ErrorCode::kNotFound) {
      return Fail(ctx, p, "analysis",
                  fmt::format("VMRay no longer knows submission {}", p.submission_id));
    }
    return jobs::RetryStep(ctx.job, sub.error(), "polling the VMRay submission");
  }
  const TimePoint submitted = p.submitted_at.value_or(ctx.now);
  if (!sub->finished) {
    if (ctx.now - submitted > options_.analysis_timeout) {
      return Fail(
          ctx, p, "analysis",
          fmt::format("VMRay did not finish submission {} within {} (VmrayAnalysisJobTimeout)",
                      p.submission_id, Minutes(options_.analysis_timeout)));
    }
    return Go("analysing", fmt::format("VMRay is analysing (submission {})", p.submission_id), p,
              options_.analysis_poll_interval);
  }
  auto read = ReadResult(ctx, sub->sample_id, sub->finish_time.value_or(ctx.now));
  if (auto* stop = std::get_if<StepResult>(&read)) return std::move(*stop);
  SampleResult& result = std::get<SampleResult>(read);
  Metrics::Global().Observe("vc_analysis_wait_seconds", {},
                            std::chrono::duration<double>(ctx.now - submitted).count());
  result.submission_id = p.submission_id;
  if (result.verdict.empty()) result.verdict = sub->verdict;
  return Finished(ctx, p, result);
}

std::variant<SampleResult, StepResult> EvidenceJob::ReadResult(const jobs::StepContext& ctx,
                                                               int64_t sample_id,
                                                               TimePoint analysed_at) {
  auto sample = vmray_.GetSample(sample_id);
  if (!sample) return jobs::RetryStep(ctx.job, sample.error(), "reading the VMRay sample");
  auto vtis = vmray_.Vtis(sample_id);
  if (!vtis) return jobs::RetryStep(ctx.job, vtis.error(), "reading the VMRay VTIs");
  SampleResult result = SampleResult::From(*sample, std::move(*vtis), analysed_at);
  if (auto c = ReadChildSamples(vmray_, *sample, result); !c)
    return jobs::RetryStep(ctx.job, c.error(), "reading the VMRay child samples");
  return result;
}

StepResult EvidenceJob::Finished(const jobs::StepContext& ctx, EvidencePayload& p,
                                 const SampleResult& result) {
  if (p.IsUrl()) return Report(p, result);  // no file, no single-flight sample row
  if (auto s = MarkSample(ctx.job.id, p, "finished", ctx.now, "", result.Dump(), result.verdict,
                          result.analysed_at);
      !s) {
    return jobs::RetryStep(ctx.job, s.error(), "recording the verdict");
  }
  WakeWaiters(p.sha256, ctx.now);
  return Report(p, result);
}

StepResult EvidenceJob::Report(EvidencePayload& p, const SampleResult& result) {
  const std::string verdict = result.verdict.empty() ? "unknown" : result.verdict;
  p.verdict = result.verdict;
  p.report_url = result.webif_url;
  StepResult r = Go("writing_back", "writing the alert comment (verdict " + verdict + ")", p);
  Json payload{
      {"alert_id", p.alert_id},
      {"comment", BuildAlertComment(result, p.url)},
      {"job_state", "done"},
      {"job_reason", fmt::format("verdict {}; comment written on alert {}", verdict, p.alert_id)}};
  r.outbox.push_back({fmt::format("alert-comment:{}:{}", p.alert_id, p.EvidenceKey()),
                      "alert_comment", p.alert_id, payload.dump(), 0, TimePoint{}});
  // The parent incident: tags per file, the comment once per incident (incident_writer.hpp).
  if (!p.incident_id.empty()) {
    if (options_.incident_tags)
      r.outbox.push_back(IncidentTagsItem(p.incident_id, p.alert_id, p.EvidenceKey(), result));
    if (options_.incident_comments)
      r.outbox.push_back(
          IncidentCommentItem(p.incident_id, p.alert_id, payload["comment"].get<std::string>()));
  }
  // Indicators once per sample: a second alert with the same file finds the key taken.
  if (options_.indicators && WantsIndicators(result, options_.indicator_verdicts)) {
    r.outbox.push_back(
        IndicatorItem(p.alert_id, result, result.sha256.empty() ? p.EvidenceKey() : result.sha256));
  }
  // Response actions on the device, once per (action, device, file) whatever the alert.
  for (auto& item : ResponseActionItems(options_.response_actions, p, result))
    r.outbox.push_back(std::move(item));
  return r;
}

StepResult EvidenceJob::OnUrlNew(const jobs::StepContext& ctx, EvidencePayload& p) {
  if (auto stop = TakeBudgetUnit(ctx, p)) return *stop;
  if (auto wait = TakeAnalysisSlot(ctx, p)) return *wait;
  vmray::SubmitRequest req;
  req.url = p.url;
  req.tags = {p.IsAv() ? "AV_Alert" : "EDR_alert", "URL"};
  if (options_.add_alert_id_tags) req.tags.push_back(p.alert_id);
  req.comment = options_.submission_comment;
  req.user_config = Json{{"timeout", options_.analysis_duration_seconds}};
  auto result = vmray_.Submit(req);
  if (!result) {
    if (result.error().code == ErrorCode::kInvalidArgument)
      return Fail(ctx, p, "", "VMRay refused the URL: " + result.error().message);
    return jobs::RetryStep(ctx.job, result.error(), "submitting the URL to VMRay");
  }
  if (result->submissions.empty()) {
    const std::string msg =
        result->errors.empty() ? "no submission in the answer" : result->errors.front().message;
    return Fail(ctx, p, "", "VMRay did not accept the URL: " + msg);
  }
  const vmray::Submission& sub = result->submissions.front();
  p.submission_id = sub.submission_id;
  p.sample_id = sub.sample_id;
  p.submitted_at = ctx.now;
  Metrics::Global().Inc("vc_vmray_submissions_total", {{"kind", "url"}});
  return Go("analysing",
            fmt::format("URL submitted to VMRay (submission {}); waiting for the analysis",
                        p.submission_id),
            p, options_.analysis_poll_interval);
}

StepResult EvidenceJob::Fail(const jobs::StepContext& ctx, EvidencePayload& p,
                             const std::string& kind, const std::string& reason) {
  if (p.owner && !kind.empty()) {
    const std::string prefix =
        kind == "collection" ? std::string(kCollectionFailure) : std::string(kAnalysisFailure);
    if (auto s = MarkSample(ctx.job.id, p, "failed", ctx.now, prefix + reason); !s) {
      return jobs::RetryStep(ctx.job, s.error(), "recording the failure");
    }
    WakeWaiters(p.sha256, ctx.now);
  }
  std::string shown = reason;
  for (auto prefix : {kCollectionFailure, kAnalysisFailure}) {
    if (shown.rfind(prefix, 0) == 0) shown = shown.substr(prefix.size());
  }
  StepResult r =
      Go("writing_back", "writing a comment that the file could not be analysed: " + shown, p);
  const std::string comment =
      p.IsUrl()
          ? "Evidence URL:\n" + p.url + "\nVMRay Connector could not analyse the URL:\n" + shown
          : BuildFailureComment(p.sha256, p.file_name, shown);
  Json payload{{"alert_id", p.alert_id},
               {"comment", comment},
               {"job_state", "failed"},
               {"job_reason", shown}};
  r.outbox.push_back({fmt::format("alert-comment:{}:{}", p.alert_id, p.EvidenceKey()),
                      "alert_comment", p.alert_id, payload.dump(), 0, TimePoint{}});
  return r;
}

std::optional<StepResult> EvidenceJob::TakeBudgetUnit(const jobs::StepContext& ctx,
                                                      EvidencePayload& p) {
  auto grant = store_.TakeBudgetUnit(ctx.job.id, BudgetDay(ctx.now),
                                     options_.daily_submission_budget, ctx.now);
  if (!grant) return jobs::RetryStep(ctx.job, grant.error(), "taking a submission budget unit");
  Metrics::Global().Set("vc_vmray_budget_used_today", {}, static_cast<double>(grant->used));
  if (grant->granted) return std::nullopt;
  Metrics::Global().Inc("vc_vmray_budget_skipped_total", {{"kind", p.IsUrl() ? "url" : "file"}});
  const std::string reason = BudgetSkipReason(options_.daily_submission_budget, ctx.now);
  if (p.owner && !p.IsUrl()) {
    // Waiting jobs of other alerts take the file over and meet the budget themselves.
    if (auto s = MarkSample(ctx.job.id, p, "failed", ctx.now, std::string(kBudgetSkip) + reason);
        !s) {
      return jobs::RetryStep(ctx.job, s.error(), "recording the sample state");
    }
    WakeWaiters(p.sha256, ctx.now);
  }
  const std::string text = BudgetSkipExplanation(options_.daily_submission_budget, ctx.now);
  const std::string comment =
      p.IsUrl() ? "Evidence URL:\n" + p.url + "\nVMRay Connector did not analyse the URL:\n" + text
                : BuildFailureComment(p.sha256, p.file_name, text);
  StepResult r = Go("writing_back", "writing the alert comment: " + reason, p);
  Json payload{{"alert_id", p.alert_id},
               {"comment", comment},
               {"job_state", "skipped_budget"},
               {"job_reason", reason}};
  r.outbox.push_back({fmt::format("alert-comment:{}:{}", p.alert_id, p.EvidenceKey()),
                      "alert_comment", p.alert_id, payload.dump(), 0, TimePoint{}});
  return r;
}

std::optional<StepResult> EvidenceJob::TakeAnalysisSlot(const jobs::StepContext& ctx,
                                                        EvidencePayload& p) {
  // A job collected before the budget existed (an upgrade) takes its unit here.
  if (auto stop = TakeBudgetUnit(ctx, p)) return stop;
  auto slot = store_.TakeAnalysisSlot(ctx.job.id, options_.max_concurrent_analyses);
  if (!slot) return jobs::RetryStep(ctx.job, slot.error(), "taking a VMRay analysis slot");
  if (slot->granted) return std::nullopt;
  if (ctx.job.state != "waiting_for_analysis_slot")
    Metrics::Global().Inc("vc_analysis_slot_waits_total", {});
  return Go("waiting_for_analysis_slot",
            AnalysisSlotWaitReason(slot->running, options_.max_concurrent_analyses), p,
            options_.analysis_poll_interval);
}

Status EvidenceJob::MarkSample(int64_t owner_job_id, const EvidencePayload& p,
                               const std::string& state, TimePoint now, const std::string& reason,
                               const std::string& result_json, const std::string& verdict,
                               std::optional<TimePoint> analysed_at) {
  store::Sample s;
  s.sha256 = p.sha256;
  s.state = state;
  s.owner_job_id = owner_job_id;
  s.sample_id = p.sample_id;
  s.submission_id = p.submission_id;
  s.verdict = verdict;
  s.result_json = result_json;
  s.reason = reason;
  s.analysed_at = analysed_at;
  s.submitted_at = p.submitted_at;
  s.updated_at = now;
  return store_.PutSample(s);
}

void EvidenceJob::WakeWaiters(const std::string& sha256, TimePoint now) {
  auto woken = store_.WakeJobs(sha256, "waiting_for_sample", now);
  if (woken && *woken > 0 && notify_) notify_();
}

jobs::Delivery AlertCommentWriter::Deliver(const store::OutboxItem& item, TimePoint now) {
  jobs::Delivery d;
  auto payload = ParseJson(item.payload, "alert comment write-back");
  if (!payload) {
    d.outcome = jobs::Delivery::Outcome::kFailed;
    d.reason = payload.error().message;
    d.job_state = "failed";
    d.job_reason = d.reason;
    return d;
  }
  const std::string alert_id = payload->value("alert_id", "");
  const std::string comment = payload->value("comment", "");
  d.job_state = payload->value("job_state", "done");
  d.job_reason = payload->value("job_reason", "");

  auto same = [](std::string_view a, std::string_view b) {
    // MDE may store line breaks differently; compare ignoring whitespace runs.
    auto norm = [](std::string_view s) {
      std::string out;
      bool space = false;
      for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) {
          space = true;
          continue;
        }
        if (space && !out.empty()) out.push_back(' ');
        space = false;
        out.push_back(c);
      }
      return out;
    };
    return norm(a) == norm(b);
  };

  auto retry = [&](const Error& e) {
    if (e.code == ErrorCode::kNotFound) {
      d.outcome = jobs::Delivery::Outcome::kFailed;
      d.reason = "alert " + alert_id + " no longer exists in MDE: " + e.message;
      d.job_state = "failed";
      d.job_reason = d.reason;
      return d;
    }
    const bool blocked =
        e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kPermissionDenied;
    const int limit = blocked ? 48 : e.IsTransient() ? 40 : 3;
    if (item.attempts >= limit) {
      d.outcome = jobs::Delivery::Outcome::kFailed;
      d.reason = fmt::format("gave up writing the alert comment after {} attempts: {}",
                             item.attempts, e.ToString());
      d.job_state = "failed";
      d.job_reason = d.reason;
      return d;
    }
    d.outcome = jobs::Delivery::Outcome::kRetry;
    Millis delay =
        blocked ? Millis(30 * 60'000)
                : std::min(Millis(15 * 60'000), Millis(5'000LL << std::min(item.attempts, 8)));
    if (e.retry_after) delay = std::max(delay, Millis(e.retry_after->count() * 1000));
    d.delay = delay;
    d.reason =
        fmt::format("writing the alert comment (attempt {}): {}", item.attempts, e.ToString());
    return d;
  };

  if (item.attempts > 1) {
    // An earlier attempt may have reached MDE before we lost track of it: look before writing.
    auto alert = mde_.GetAlert(alert_id);
    if (!alert) return retry(alert.error());
    for (const auto& c : alert->comments) {
      if (same(c.comment, comment)) {
        d.outcome = jobs::Delivery::Outcome::kDone;
        d.reason = "comment was already on the alert";
        return d;
      }
    }
  }
  auto s = mde_.AddAlertComment(alert_id, comment);
  if (!s) return retry(s.error());
  d.outcome = jobs::Delivery::Outcome::kDone;
  d.reason = "comment written";
  (void)now;
  return d;
}

}  // namespace vc::defender
