// Several files of one device in one Live Response session. MDE runs one session per device at
// a time and allows 10 runliveresponse calls a minute per tenant, so ten alerts on one laptop
// would otherwise queue behind each other for ten sessions. The job that gets the device takes
// along the jobs that were waiting for it (the session gate remembers them), leasing each so no
// worker runs it meanwhile; the riders then follow the shared action to their own command.
//
// A crash between starting the session and recording the riders leaves them in `collecting`:
// they ask for their files again in sessions of their own (the same blob names, written ahead),
// so the cost is a repeated command, never a lost or doubled file.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "pipelines/defender_alerts/evidence_job.hpp"

namespace vc::defender {

std::vector<EvidenceJob::Rider> EvidenceJob::GatherRiders(const jobs::StepContext& ctx,
                                                          const EvidencePayload& leader) {
  std::vector<Rider> riders;
  if (options_.max_files_per_session <= 1 || ctx.job.lease_owner.empty()) return riders;
  const Millis lease =
      std::max(Millis(30'000), std::chrono::duration_cast<Millis>(ctx.job.lease_until - ctx.now));
  const auto ids = sessions_->WaitingForDevice(
      leader.machine_id, ctx.job.id, static_cast<size_t>(options_.max_files_per_session - 1));
  for (int64_t id : ids) {
    std::optional<store::Job> job;
    if (withdraw_ && withdraw_(id)) {
      // Due and queued behind this step (jobs that checked the device at the same moment):
      // its lease is ours already.
      auto got = store_.GetJob(id);
      if (got && got->has_value()) job = std::move(**got);
    } else {
      auto leased = store_.LeaseJob(id, "collecting", ctx.now, ctx.job.lease_owner, lease);
      if (leased && leased->has_value()) job = std::move(**leased);
    }
    if (!job) continue;  // busy with its own step, or moved on
    Rider rider{std::move(*job), {}, {}};
    auto parsed = EvidencePayload::Parse(rider.job.payload);
    const bool fits =
        parsed && rider.job.kind == kJobKind && rider.job.state == "collecting" &&
        !rider.job.final && parsed->machine_id == leader.machine_id && !parsed->IsUrl() &&
        parsed->owner && parsed->sha256 != leader.sha256 &&
        ctx.now - parsed->collection_started_at.value_or(ctx.now) <= options_.lr_give_up;
    if (fits) {
      rider.payload = std::move(*parsed);
      if (rider.payload.IsAv()) {
        const std::string owner = ctx.job.lease_owner;
        const int64_t rider_id = rider.job.id;
        jobs::StepContext rider_ctx{rider.job, ctx.now,
                                    [this, rider_id, owner](const std::string& payload) {
                                      return store_.SaveJobPayload(rider_id, owner, payload);
                                    }};
        if (!PrepareQuarantine(rider_ctx, rider.payload, rider.command)) {
          riders.push_back(std::move(rider));
          continue;
        }
      } else {
        rider.command = {"GetFile", {{"Path", rider.payload.FullPath()}}};
        riders.push_back(std::move(rider));
        continue;
      }
    }
    std::vector<Rider> back;
    back.push_back(std::move(rider));
    SettleRiders(ctx, back, "");  // not for this session: hand it back untouched
  }
  return riders;
}

void EvidenceJob::SettleRiders(const jobs::StepContext& ctx, std::vector<Rider>& riders,
                               const std::string& action_id) {
  for (auto& rider : riders) {
    store::JobUpdate u;
    u.id = rider.job.id;
    u.lease_owner = ctx.job.lease_owner;
    u.final = false;
    if (action_id.empty()) {
      u.state = rider.job.state;
      u.reason = rider.job.reason;
      u.attempts = rider.job.attempts;
      u.next_attempt_at = rider.job.next_attempt_at;
    } else {
      EvidencePayload& p = rider.payload;
      p.action_id = action_id;
      p.action_started_at = ctx.now;
      p.rides_with = ctx.job.id;
      ++p.lr_attempts;
      u.state = "collection_pending";
      u.reason = fmt::format(
          "Live Response {} started on {} for this file together with {} other file(s) of the "
          "device (action {})",
          p.IsAv() ? "collection script" : "GetFile", DeviceName(p), riders.size(), action_id);
      u.payload = p.Dump();
      u.attempts = 0;
      u.next_attempt_at = ctx.now + options_.lr_poll_interval;
    }
    if (auto s = store_.UpdateJob(u); !s) {
      // The lease runs out on its own; the job then continues from what the store holds.
      spdlog::warn("job {}: could not record its part in the Live Response session of job {}: {}",
                   rider.job.id, ctx.job.id, s.error().message);
    }
  }
}

}  // namespace vc::defender
