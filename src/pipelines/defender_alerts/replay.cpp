#include "pipelines/defender_alerts/replay.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "jobs/retry.hpp"
#include "pipelines/defender_alerts/evidence_job.hpp"
#include "pipelines/defender_alerts/incident_writer.hpp"
#include "pipelines/defender_alerts/response_actions.hpp"

namespace vc::defender {
namespace {

constexpr int kMaxJobsPerAlert = 1000;

jobs::StepResult Next(std::string state, std::string reason, const EvidencePayload& p,
                      bool final = false) {
  jobs::StepResult r;
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.payload = p.Dump();
  r.final = final;
  return r;
}

}  // namespace

std::string ReplayKey(const std::string& first_key, int replay) {
  return fmt::format("{}:replay:{}", first_key, replay);
}

Result<std::vector<ReplayedJob>> QueueAlertReplay(store::Store& store, const std::string& alert_id,
                                                  TimePoint now) {
  VC_ASSIGN_OR_RETURN(auto jobs, store.ListJobsUnderKey("mde:" + alert_id, kMaxJobsPerAlert));
  if (jobs.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no job for alert {} in the store: the connector has not seen "
                                 "it, or the id is misspelt",
                                 alert_id));
  }
  std::vector<ReplayedJob> out;
  for (const store::Job& job : jobs) {
    ReplayedJob r{job.id, job.key, false, ""};
    if (!job.final) {
      r.note = fmt::format("still working ({}); replay it once it has settled", job.state);
      out.push_back(std::move(r));
      continue;
    }
    auto p = EvidencePayload::Parse(job.payload);
    if (!p) {
      r.note = "its payload is unreadable (" + p.error().message + "); not replayed";
      out.push_back(std::move(r));
      continue;
    }
    ++p->replays;
    const std::string reason = fmt::format("replay {} asked by an operator", p->replays);
    if (auto s = store.ReopenJob(job.id, std::string(kReplayState), reason, p->Dump(), now); !s) {
      if (s.error().code != ErrorCode::kConflict && s.error().code != ErrorCode::kNotFound)
        return s.error();
      r.note = s.error().message;  // it started working again since the list was read
      out.push_back(std::move(r));
      continue;
    }
    r.queued = true;
    r.note = fmt::format("replay {} queued (was {})", p->replays, job.state);
    out.push_back(std::move(r));
  }
  return out;
}

Status ApplyReplay(store::Store& store, const std::string& job_payload, jobs::StepResult& r) {
  auto p = EvidencePayload::Parse(r.payload.value_or(job_payload));
  if (!p || p->replays == 0 || r.outbox.empty()) return Ok();
  std::vector<store::NewOutboxItem> kept;
  std::optional<std::string> unchanged_comment;
  for (store::NewOutboxItem& item : r.outbox) {
    if (item.kind == kIncidentCommentKind) continue;
    if (item.kind == kResponseActionKind) {
      // Acting on a device is never repeated by a replay: the plain key is kept, so only an
      // action that was never queued (a verdict that became malicious) is asked for.
      kept.push_back(std::move(item));
      continue;
    }
    const std::string first = item.idempotency_key;
    const auto last = p->last_write.find(first);
    VC_ASSIGN_OR_RETURN(auto previous,
                        store.GetOutboxByKey(last == p->last_write.end() ? first : last->second));
    if (previous && previous->state != "failed" && previous->payload == item.payload) {
      if (item.completes_job) unchanged_comment = item.payload;
      continue;
    }
    item.idempotency_key = ReplayKey(first, p->replays);
    p->last_write[first] = item.idempotency_key;
    kept.push_back(std::move(item));
  }
  r.outbox = std::move(kept);
  r.payload = p->Dump();
  const bool completes =
      std::any_of(r.outbox.begin(), r.outbox.end(), [](const auto& i) { return i.completes_job; });
  if (!completes && unchanged_comment) {
    auto comment = ParseJson(*unchanged_comment, "alert comment write-back");
    const std::string state = comment ? comment->value("job_state", "done") : "done";
    const std::string why = comment ? comment->value("job_reason", "") : "";
    r.state = state;
    r.final = true;
    r.delay = Millis(0);
    r.reason = fmt::format("replay {}: the alert comment is unchanged, nothing written again{}{}",
                           p->replays, why.empty() ? "" : "; ", why);
  }
  return Ok();
}

jobs::StepResult EvidenceJob::OnReplay(const jobs::StepContext& ctx, EvidencePayload& p) {
  if (!p.skip_reason.empty()) return Next("skipped", p.skip_reason, p, /*final=*/true);
  int64_t sample_id = p.sample_id;
  std::optional<store::Sample> row;
  if (!p.IsUrl()) {
    auto read = store_.GetSample(p.sha256);
    if (!read) return jobs::RetryStep(ctx.job, read.error(), "reading the sample state");
    row = *read;
    // A job that waited for another alert's submission has no sample id of its own.
    if (row && row->state == "finished" && sample_id == 0) sample_id = row->sample_id;
  }
  if (sample_id == 0) {
    return Next("new",
                fmt::format("replay {}: there is no VMRay result to read again; the {} goes "
                            "through the whole path again",
                            p.replays, p.IsUrl() ? "URL" : "file"),
                p.Restarted());
  }
  const TimePoint analysed_at = row && row->analysed_at ? *row->analysed_at : ctx.now;
  auto read = ReadResult(ctx, sample_id, analysed_at);
  if (auto* stop = std::get_if<jobs::StepResult>(&read)) return std::move(*stop);
  SampleResult& result = std::get<SampleResult>(read);
  result.submission_id = p.submission_id != 0 ? p.submission_id : row ? row->submission_id : 0;
  p.sample_id = sample_id;
  if (row && row->state == "finished") {
    // Later alerts with this file get the verdict as VMRay has it now.
    row->verdict = result.verdict;
    row->result_json = result.Dump();
    row->updated_at = ctx.now;
    if (auto s = store_.PutSample(*row); !s)
      return jobs::RetryStep(ctx.job, s.error(), "recording the verdict read again");
  }
  return Report(p, result);
}

}  // namespace vc::defender
