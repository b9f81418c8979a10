#include "pipelines/sentinel_incidents/incident_jobs.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "jobs/retry.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"
#include "pipelines/sentinel_incidents/incident_comment.hpp"
#include "pipelines/sentinel_incidents/url_filter.hpp"

namespace vc::sentinel_incidents {
namespace {

// A comment write-back whose service keeps failing is given up after this many attempts
// (about a day with WriteBackBackoff), as the Defender write-backs are.
constexpr int kMaxCommentAttempts = 60;

jobs::StepResult Go(std::string state, std::string reason, const Json& payload,
                    Millis delay = Millis(0)) {
  jobs::StepResult r;
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.payload = payload.dump();
  r.delay = delay;
  return r;
}

jobs::StepResult Final(std::string state, std::string reason) {
  jobs::StepResult r;
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.final = true;
  return r;
}

Result<Json> ReadPayload(const store::Job& job) {
  auto p = ParseJson(job.payload, "job payload");
  if (!p) return p.error();
  if (!p->is_object() || !(*p)["incident"].is_string())
    return MakeError(ErrorCode::kInvalidArgument, "the job payload names no incident");
  return p;
}

}  // namespace

std::string UrlJobKey(const std::string& incident_name, const std::string& url) {
  return fmt::format("sentinel-url:{}:{}", incident_name, Sha256Hex(url));
}

store::NewOutboxItem CommentItem(const std::string& key, const std::string& incident,
                                 const std::string& html, const std::string& marker,
                                 const std::string& job_reason) {
  store::NewOutboxItem item;
  item.idempotency_key = key;
  item.kind = std::string(kCommentKind);
  item.target = incident;
  item.payload = Json{{"incident", incident},
                      {"comment_id", sentinel_feed::Uuid5(sentinel_feed::kVmrayNamespace, key)},
                      {"html", html},
                      {"marker", marker},
                      {"job_state", "done"},
                      {"job_reason", job_reason}}
                     .dump();
  return item;
}

// ---- the incident ------------------------------------------------------------------------

jobs::StepResult IncidentJob::Step(const jobs::StepContext& ctx) {
  auto read = ReadPayload(ctx.job);
  if (!read) return Final("failed", "unreadable job: " + read.error().message);
  Json p = std::move(*read);
  const std::string name = p["incident"];

  auto incident = client_.GetIncident(name);
  if (!incident) {
    if (incident.error().code == ErrorCode::kNotFound)
      return Final("failed", "Sentinel does not know incident " + name + " (deleted?)");
    return jobs::RetryStep(ctx.job, incident.error(), "reading incident " + name);
  }
  auto entities = client_.ListEntities(name);
  if (!entities) {
    if (entities.error().code == ErrorCode::kNotFound)
      return Final("failed", "Sentinel does not know incident " + name + " (deleted?)");
    return jobs::RetryStep(ctx.job, entities.error(), "listing the entities of incident " + name);
  }

  std::vector<std::string> to_submit;
  std::set<std::string> seen;
  int urls = 0, allow_listed = 0, unusable = 0;
  for (const auto& e : *entities) {
    if (e.kind != "Url") continue;
    const UrlVerdict v = DecideUrl(e.url, options_.allowed_domains);
    if (!seen.insert(v.url).second) continue;  // the same URL in two entities: one analysis
    ++urls;
    switch (v.decision) {
      case UrlDecision::kSubmit:
        to_submit.push_back(v.url);
        break;
      case UrlDecision::kAllowListed:
        ++allow_listed;
        break;
      case UrlDecision::kEmptyHost:
      case UrlDecision::kUnsupportedScheme:
        ++unusable;
        break;
    }
  }
  if (urls == 0) return Final("skipped", "the incident has no URL entities");
  if (to_submit.empty()) {
    jobs::StepResult r =
        Go("writing_back",
           fmt::format("all {} URL(s) left out ({} allow-listed, {} without host or with another "
                       "scheme); writing the explanatory comment",
                       urls, allow_listed, unusable),
           p);
    r.outbox.push_back(CommentItem("sentinel-incident-filtered:" + name, name,
                                   BuildAllFilteredComment(urls, unusable), FilteredMarker(),
                                   fmt::format("all {} URL(s) left out; comment written", urls)));
    return r;
  }
  size_t over = 0;
  if (to_submit.size() > static_cast<size_t>(options_.max_urls_per_incident)) {
    over = to_submit.size() - options_.max_urls_per_incident;
    to_submit.resize(options_.max_urls_per_incident);
  }
  std::vector<store::NewJob> jobs;
  for (const auto& url : to_submit) {
    store::NewJob j;
    j.kind = std::string(kUrlJobKind);
    j.key = UrlJobKey(name, url);
    j.state = "new";
    j.payload = Json{{"incident", name}, {"number", incident->number}, {"url", url}}.dump();
    j.next_attempt_at = ctx.now;
    jobs.push_back(std::move(j));
  }
  // Keys are unique: after a crash between this insert and the step's result, the repeat
  // inserts nothing new.
  if (auto inserted = store_.InsertJobs(jobs); !inserted)
    return jobs::RetryStep(ctx.job, inserted.error(), "queueing the URL analyses");
  std::string reason = fmt::format("{} URL(s) queued for VMRay", to_submit.size());
  if (allow_listed + unusable > 0)
    reason += fmt::format(", {} left out ({} allow-listed, {} without host or with another scheme)",
                          allow_listed + unusable, allow_listed, unusable);
  if (over > 0)
    reason += fmt::format(", {} more not submitted (sentinel_incidents.max_urls_per_incident = {})",
                          over, options_.max_urls_per_incident);
  Metrics::Global().Inc("vc_sentinel_incident_urls_total", {{"outcome", "queued"}},
                        static_cast<double>(to_submit.size()));
  return Final("done", reason);
}

// ---- one URL -----------------------------------------------------------------------------

jobs::StepResult UrlJob::Step(const jobs::StepContext& ctx) {
  auto read = ReadPayload(ctx.job);
  if (!read) return Final("failed", "unreadable job: " + read.error().message);
  Json p = std::move(*read);
  if (ctx.job.state == "new") return OnNew(ctx, p);
  if (ctx.job.state == "analysing") return OnAnalysing(ctx, p);
  return Final("failed", "unknown state " + ctx.job.state);
}

jobs::StepResult UrlJob::OnNew(const jobs::StepContext& ctx, Json& p) {
  vmray::SubmitRequest req;
  req.url = p.value("url", "");
  req.tags = {std::string(kSubmissionTag)};
  auto result = vmray_.Submit(req);
  if (!result) {
    if (result.error().code == ErrorCode::kInvalidArgument)
      return Failed(p, "VMRay refused the URL: " + result.error().message);
    return jobs::RetryStep(ctx.job, result.error(), "submitting the URL to VMRay");
  }
  if (result->submissions.empty()) {
    const std::string msg =
        result->errors.empty() ? "no submission in the answer" : result->errors.front().message;
    return Failed(p, "VMRay did not accept the URL: " + msg);
  }
  const vmray::Submission& sub = result->submissions.front();
  p["submission_id"] = sub.submission_id;
  p["sample_id"] = sub.sample_id;
  p["submitted_at"] = FormatIso8601Millis(ctx.now);
  Metrics::Global().Inc("vc_vmray_submissions_total", {{"kind", "incident_url"}});
  return Go("analysing",
            fmt::format("URL submitted to VMRay (submission {}); waiting for the analysis",
                        sub.submission_id),
            p, options_.analysis_poll_interval);
}

jobs::StepResult UrlJob::OnAnalysing(const jobs::StepContext& ctx, Json& p) {
  const int64_t submission_id = p.value("submission_id", int64_t{0});
  auto raw = vmray_.SubmissionRaw(submission_id);
  if (!raw) {
    if (raw.error().code == ErrorCode::kNotFound)
      return Failed(p, fmt::format("VMRay no longer knows submission {}", submission_id));
    return jobs::RetryStep(ctx.job, raw.error(), "polling the VMRay submission");
  }
  auto sub = vmray::ParseSubmission(*raw, "submission");
  if (!sub) return jobs::RetryStep(ctx.job, sub.error(), "reading the VMRay submission");
  if (!sub->finished) {
    const TimePoint submitted = ParseIso8601(p.value("submitted_at", "")).value_or(ctx.now);
    if (ctx.now - submitted > options_.analysis_timeout) {
      return Failed(p, fmt::format("VMRay did not finish submission {} in time", submission_id));
    }
    return Go("analysing", fmt::format("VMRay is analysing (submission {})", submission_id), p,
              options_.analysis_poll_interval);
  }
  const int64_t sample_id = sub->sample_id ? sub->sample_id : p.value("sample_id", int64_t{0});
  auto sample_raw = vmray_.SampleRaw(sample_id);
  if (!sample_raw) return jobs::RetryStep(ctx.job, sample_raw.error(), "reading the VMRay sample");
  auto sample = vmray::ParseSample(*sample_raw, "sample");
  if (!sample) return jobs::RetryStep(ctx.job, sample.error(), "reading the VMRay sample");
  auto vtis = vmray_.Vtis(sample_id);
  if (!vtis) return jobs::RetryStep(ctx.job, vtis.error(), "reading the VMRay VTIs");

  UrlReport report;
  report.url = p.value("url", "");
  report.submission_id = submission_id;
  report.sample_id = sample_id;
  if (raw->contains("submission_status") && (*raw)["submission_status"].is_string())
    report.submission_status = (*raw)["submission_status"];
  report.verdict = sample->verdict.empty() ? sub->verdict : sample->verdict;
  report.classifications = sample->classifications;
  report.threat_names = sample->threat_names;
  report.report_url = sample->webif_url;
  if (sample_raw->contains("sample_verdict_reason_description") &&
      (*sample_raw)["sample_verdict_reason_description"].is_string())
    report.notes = (*sample_raw)["sample_verdict_reason_description"];
  report.vtis = std::move(*vtis);

  const std::string name = p["incident"];
  const std::string verdict = report.verdict.empty() ? "unknown" : report.verdict;
  p["verdict"] = report.verdict;
  jobs::StepResult r =
      Go("writing_back", "writing the incident comment (verdict " + verdict + ")", p);
  r.outbox.push_back(
      CommentItem(fmt::format("sentinel-incident-comment:{}:{}", name, submission_id), name,
                  BuildUrlReportComment(report), SubmissionMarker(submission_id),
                  fmt::format("verdict {}; comment written on incident {}", verdict, name)));
  if (options_.upload_iocs && (report.verdict == "malicious" || report.verdict == "suspicious")) {
    store::NewOutboxItem ioc;
    ioc.idempotency_key = fmt::format("sentinel-incident-iocs:{}:{}", name, sample_id);
    ioc.kind = std::string(kIocKind);
    ioc.target = name;
    ioc.payload = Json{{"incident", name},
                       {"number", p.value("number", int64_t{0})},
                       {"sample_id", sample_id},
                       {"submission_id", submission_id}}
                      .dump();
    ioc.completes_job = false;  // the comment finishes the job; the upload runs on its own
    r.outbox.push_back(std::move(ioc));
  }
  return r;
}

jobs::StepResult UrlJob::Failed(const Json& p, const std::string& reason) {
  const std::string name = p["incident"];
  const std::string url = p.value("url", "");
  const std::string key = UrlJobKey(name, url);
  const std::string marker = fmt::format("<!--VMRayUrlFailure={}-->", Sha256Hex(url));
  jobs::StepResult r =
      Go("writing_back", "writing a comment that the URL could not be analysed: " + reason, p);
  store::NewOutboxItem item = CommentItem(
      "sentinel-incident-failure:" + key.substr(std::string("sentinel-url:").size()), name,
      BuildUrlFailureComment(url, reason) + marker, marker, "not analysed: " + reason);
  // The job ends failed, with the reason, once the comment is written.
  Json payload = *ParseJson(item.payload, "comment");
  payload["job_state"] = "failed";
  item.payload = payload.dump();
  r.outbox.push_back(std::move(item));
  return r;
}

// ---- the comment -------------------------------------------------------------------------

jobs::Delivery CommentWriter::Deliver(const store::OutboxItem& item, TimePoint) {
  using Outcome = jobs::Delivery::Outcome;
  auto payload = ParseJson(item.payload, "incident comment request");
  if (!payload || !payload->is_object() || !(*payload)["incident"].is_string() ||
      !(*payload)["html"].is_string() || !(*payload)["marker"].is_string() ||
      !(*payload)["comment_id"].is_string()) {
    return defender::FinalDelivery(Outcome::kFailed, "unreadable incident comment request");
  }
  const std::string incident = (*payload)["incident"];
  const std::string marker = (*payload)["marker"];
  const std::string what = "commenting on incident " + incident;
  auto finish = [&](Outcome outcome, std::string reason) {
    jobs::Delivery d = defender::FinalDelivery(outcome, std::move(reason));
    if (outcome == Outcome::kDone) {
      d.job_state = payload->value("job_state", "done");
      d.job_reason = payload->value("job_reason", d.reason);
    } else {
      d.job_state = "failed";
      d.job_reason = d.reason;
    }
    Metrics::Global().Inc("vc_incident_writebacks_total",
                          {{"kind", std::string(kCommentKind)},
                           {"outcome", outcome == Outcome::kDone ? "written" : "failed"}});
    return d;
  };
  auto on_error = [&](const Error& e) {
    // An incident Sentinel does not know or a comment it refuses would be the same next time;
    // throttling (429), a conflict (409), a failed precondition (412) and outages are retried.
    if (e.code == ErrorCode::kNotFound || e.code == ErrorCode::kInvalidArgument)
      return finish(Outcome::kFailed, fmt::format("{}: {}; not retried", what, e.ToString()));
    if (item.attempts >= kMaxCommentAttempts)
      return finish(Outcome::kFailed, fmt::format("gave up {}: {}", what, e.ToString()));
    Millis delay = defender::WriteBackBackoff(item.attempts);
    if (e.retry_after) delay = std::max<Millis>(Millis(1'000), *e.retry_after);
    return defender::RetryDelivery(what + ": " + e.ToString(), delay);
  };
  // A lost answer, a crash after the PUT or a concurrent repeat may have posted it already.
  auto comments = client_.ListComments(incident);
  if (!comments) return on_error(comments.error());
  for (const auto& c : *comments) {
    if (c.message.find(marker) != std::string::npos)
      return finish(Outcome::kDone, "incident " + incident + " already has this comment");
  }
  auto put = client_.PutComment(incident, (*payload)["comment_id"], (*payload)["html"]);
  if (!put) return on_error(put.error());
  spdlog::info("comment written on incident {}", incident);
  return finish(Outcome::kDone, "comment written on incident " + incident);
}

}  // namespace vc::sentinel_incidents
