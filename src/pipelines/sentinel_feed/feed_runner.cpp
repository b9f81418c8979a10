#include "pipelines/sentinel_feed/feed_runner.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"

namespace vc::sentinel_feed {
namespace {

TimePoint WholeSeconds(TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

// A revoked copy of an indicator the feed uploaded earlier: the required fields from what was
// recorded, fresh timestamps, and revoked set.
Json RevokedObject(const Json& record, TimePoint now) {
  const std::string stamp = FormatIso8601Millis(now);
  return {{"type", "indicator"},
          {"spec_version", "2.1"},
          {"id", StixIndicatorId(record.value("k", ""))},
          {"created", stamp},
          {"modified", stamp},
          {"valid_from", stamp},
          {"revoked", true},
          {"name", record.value("n", "")},
          {"labels", Json::array({"revoked: later submission clean"})},
          {"pattern", record.value("p", "")},
          {"pattern_type", "stix"},
          {"pattern_version", "2.1"}};
}

}  // namespace

Json FeedSummary::ToJson() const {
  return {{"from", FormatIso8601(from)}, {"to", FormatIso8601(to)}, {"windows", windows},
          {"submissions", submissions},  {"samples", samples},      {"indicators", indicators},
          {"uploaded", uploaded},        {"rejected", rejected},    {"skipped", skipped},
          {"revoked", revoked},          {"requests", requests},    {"throttled", throttled}};
}

Result<std::unique_ptr<FeedRunner>> FeedRunner::Create(FeedOptions options, vmray::Client& vmray,
                                                       sentinel::TiUploader& uploader,
                                                       store::Store& store, Clock& clock) {
  auto allow_list = defender::AllowList::Build(options.allow_list);
  if (!allow_list) return allow_list.error();
  if (options.verdicts.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the TI feed needs at least one verdict (VmraySampleVerdict)");
  }
  if (options.max_window.count() <= 0) options.max_window = Millis(6 * 3600 * 1000);
  return std::unique_ptr<FeedRunner>(
      new FeedRunner(std::move(options), vmray, uploader, store, clock, std::move(*allow_list)));
}

FeedRunner::FeedRunner(FeedOptions options, vmray::Client& vmray, sentinel::TiUploader& uploader,
                       store::Store& store, Clock& clock, defender::AllowList allow_list)
    : options_(std::move(options)),
      vmray_(vmray),
      uploader_(uploader),
      store_(store),
      clock_(clock),
      allow_list_(std::move(allow_list)) {}

Result<std::optional<TimePoint>> FeedRunner::Checkpoint() {
  auto value = store_.GetCursor(std::string(kCheckpointCursor));
  if (!value) return value.error();
  if (!*value) return std::optional<TimePoint>();
  auto t = ParseIso8601(**value);
  if (!t) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("the TI feed checkpoint in the store is not a time ('{}'); "
                                 "run `vmray-connector feed --since <date>` to set it again",
                                 **value));
  }
  return std::optional<TimePoint>(*t);
}

Result<FeedSummary> FeedRunner::RunOnce(const FeedProgress& progress) {
  auto checkpoint = Checkpoint();
  if (!checkpoint) return checkpoint.error();
  const TimePoint now = WholeSeconds(clock_.Now());
  TimePoint from;
  if (*checkpoint) {
    from = **checkpoint;
  } else {
    // The original: (now - VmrayInitialFetchDate days) at 00:00.
    from =
        std::chrono::floor<std::chrono::days>(now) - std::chrono::days(options_.initial_fetch_days);
  }
  return RunRange(from, now, progress);
}

Result<FeedSummary> FeedRunner::Backfill(TimePoint since, const FeedProgress& progress) {
  return RunRange(WholeSeconds(since), WholeSeconds(clock_.Now()), progress);
}

Result<FeedSummary> FeedRunner::RunRange(TimePoint from, TimePoint to,
                                         const FeedProgress& progress) {
  // No reset of stop_ here: a stop requested just before a run starts must still hold.
  FeedSummary total;
  total.from = from;
  total.to = from;
  TimePoint start = from;
  while (start < to && !stop_) {
    const TimePoint end = std::min(to, start + options_.max_window);
    auto window = RunWindow(start, end);
    if (!window && stop_ && window.error().code == ErrorCode::kCancelled) {
      // Shutdown woke an upload wait: no failure, the window keeps its checkpoint.
      spdlog::info("TI feed stopped for shutdown in window {} .. {}; the next start repeats it",
                   FormatIso8601(start), FormatIso8601(end));
      break;
    }
    if (!window) return window.error();
    total.to = end;
    ++total.windows;
    total.submissions += window->submissions;
    total.samples += window->samples;
    total.indicators += window->indicators;
    total.uploaded += window->uploaded;
    total.rejected += window->rejected;
    total.skipped += window->skipped;
    total.revoked += window->revoked;
    total.requests += window->requests;
    total.throttled += window->throttled;
    if (progress) progress(total, *window);
    // Windows overlap by their boundary second (VMRay's filter is inclusive at both ends):
    // a submission finishing in that second is read twice rather than never.
    start = end;
  }
  (void)store_.SetCursor(
      std::string(kLastRunCursor),
      Json{{"at", FormatIso8601(clock_.Now())}, {"summary", total.ToJson()}}.dump());
  return total;
}

Status FeedRunner::RecordRejected(const sentinel::RejectedObject& r, const std::string& sample_of) {
  spdlog::warn("Sentinel rejected STIX object {} (sample {}): {}", r.id, sample_of, r.reason);
  Metrics::Global().Inc("vc_ti_feed_objects_total", {{"outcome", "rejected"}});
  VC_RETURN_IF_ERROR(store_.SetCursor(
      std::string(kRejectedCursorPrefix) + r.id,
      Json{{"reason", r.reason}, {"sample_id", sample_of}, {"at", FormatIso8601(clock_.Now())}}
          .dump()));
  auto count = store_.GetCursor(std::string(kRejectedCountCursor));
  if (!count) return count.error();
  int64_t n = 0;
  if (*count) n = std::strtoll((*count)->c_str(), nullptr, 10);
  return store_.SetCursor(std::string(kRejectedCountCursor), std::to_string(n + 1));
}

Result<FeedSummary> FeedRunner::RunWindow(TimePoint from, TimePoint to) {
  FeedSummary w;
  w.from = from;
  w.to = to;
  w.windows = 1;
  StixOptions stix;
  stix.vmray_base_url = options_.vmray_base_url;
  stix.verdicts = options_.verdicts;
  stix.expiration_days = options_.expiration_days;
  stix.now = clock_.Now();

  // Ordered by id, so a repeated window sends the same batches.
  std::map<std::string, Json> objects;
  std::map<std::string, std::string> sample_of;      // indicator id -> sample id
  std::map<int64_t, std::vector<Json>> uploaded_by;  // sample id -> [{k, p, n}]
  std::set<int64_t> samples;

  for (const auto& verdict : options_.verdicts) {
    auto listed = vmray_.FinishedSubmissions(
        from, to, verdict, [&](std::vector<vmray::Submission>& page) -> Status {
          for (const auto& sub : page) {
            if (!sub.finished) continue;
            ++w.submissions;
            // A sample submitted several times in the window: its IOCs are read once.
            if (!samples.insert(sub.sample_id).second) continue;
            ++w.samples;
            auto iocs = vmray_.Iocs(sub.sample_id);
            if (!iocs && iocs.error().code == ErrorCode::kNotFound) {
              spdlog::info("VMRay no longer has sample {}; no indicators from it", sub.sample_id);
              continue;
            }
            if (!iocs) return iocs.error();
            StixMapping mapped =
                MapIocsToStix(*iocs, {sub.sample_id, sub.submission_id}, stix, allow_list_);
            for (const auto& s : mapped.skipped) {
              spdlog::debug("IOC left out of the TI feed ({}): {} {}", s.reason, s.family,
                            Scrub(s.value));
              Metrics::Global().Inc("vc_ti_feed_objects_total", {{"outcome", "skipped"}});
            }
            w.skipped += static_cast<int64_t>(mapped.skipped.size());
            auto& records = uploaded_by[sub.sample_id];
            for (auto& ind : mapped.indicators) {
              const std::string id = ind.object["id"].get<std::string>();
              records.push_back(
                  {{"k", ind.key}, {"p", ind.object["pattern"]}, {"n", ind.object["name"]}});
              if (auto it = objects.find(id); it != objects.end()) {
                MergeStixIndicator(it->second, ind.object);
              } else {
                objects.emplace(id, std::move(ind.object));
                sample_of.emplace(id, std::to_string(sub.sample_id));
              }
            }
          }
          return Ok();
        });
    if (!listed) return listed.error();
  }

  // A sample that turned clean: withdraw what the feed uploaded for it earlier.
  std::vector<int64_t> revoked_samples;
  if (options_.revoke_on_clean) {
    auto listed = vmray_.FinishedSubmissions(
        from, to, "clean", [&](std::vector<vmray::Submission>& page) -> Status {
          for (const auto& sub : page) {
            if (!sub.finished || samples.count(sub.sample_id)) continue;
            auto earlier =
                store_.GetCursor(std::string(kSampleCursorPrefix) + std::to_string(sub.sample_id));
            if (!earlier) return earlier.error();
            if (!*earlier) continue;
            auto records = ParseJson(**earlier, "TI feed sample record");
            if (!records || !records->is_array() || records->empty()) continue;
            for (const auto& record : *records) {
              const std::string id = StixIndicatorId(record.value("k", ""));
              if (objects.count(id)) continue;  // still reported by a flagged sample
              objects.emplace(id, RevokedObject(record, stix.now));
              sample_of.emplace(id, std::to_string(sub.sample_id));
              ++w.revoked;
            }
            revoked_samples.push_back(sub.sample_id);
          }
          return Ok();
        });
    if (!listed) return listed.error();
  }

  std::vector<Json> batch;
  batch.reserve(sentinel::kMaxObjectsPerRequest);
  auto flush = [&]() -> Status {
    if (batch.empty()) return Ok();
    auto result = uploader_.UploadBatch(batch);
    if (!result) return result.error();
    w.requests += result->requests;
    w.throttled += result->throttled;
    w.uploaded += static_cast<int64_t>(result->accepted);
    w.rejected += static_cast<int64_t>(result->rejected.size());
    Metrics::Global().Inc("vc_ti_feed_objects_total", {{"outcome", "uploaded"}},
                          static_cast<double>(result->accepted));
    for (const auto& r : result->rejected) {
      auto it = sample_of.find(r.id);
      VC_RETURN_IF_ERROR(RecordRejected(r, it == sample_of.end() ? "" : it->second));
    }
    batch.clear();
    return Ok();
  };
  w.indicators = static_cast<int64_t>(objects.size());
  for (auto& [id, object] : objects) {
    batch.push_back(std::move(object));
    if (batch.size() == static_cast<size_t>(sentinel::kMaxObjectsPerRequest)) {
      VC_RETURN_IF_ERROR(flush());
    }
  }
  VC_RETURN_IF_ERROR(flush());

  // Everything of the window is in Sentinel or recorded as rejected: remember what each
  // sample contributed (for a later revocation), then move the checkpoint.
  for (auto& [sample_id, records] : uploaded_by) {
    if (records.empty()) continue;
    const std::string name = std::string(kSampleCursorPrefix) + std::to_string(sample_id);
    auto earlier = store_.GetCursor(name);
    if (!earlier) return earlier.error();
    Json all = Json::array();
    std::set<std::string> keys;
    if (*earlier) {
      if (auto parsed = ParseJson(**earlier, "TI feed sample record"); parsed && parsed->is_array())
        all = std::move(*parsed);
    }
    for (const auto& r : all) keys.insert(r.value("k", ""));
    for (auto& r : records) {
      if (keys.insert(r.value("k", "")).second) all.push_back(std::move(r));
    }
    VC_RETURN_IF_ERROR(
        store_.SetCursor(name, all.dump(-1, ' ', false, Json::error_handler_t::replace)));
  }
  for (int64_t sample_id : revoked_samples) {
    VC_RETURN_IF_ERROR(
        store_.SetCursor(std::string(kSampleCursorPrefix) + std::to_string(sample_id), "[]"));
  }
  VC_RETURN_IF_ERROR(store_.SetCursor(std::string(kCheckpointCursor), FormatIso8601(to)));
  spdlog::info(
      "TI feed window {} .. {}: {} submissions, {} samples, {} indicators, {} uploaded, "
      "{} rejected, {} skipped, {} revoked",
      FormatIso8601(from), FormatIso8601(to), w.submissions, w.samples, w.indicators, w.uploaded,
      w.rejected, w.skipped, w.revoked);
  return w;
}

}  // namespace vc::sentinel_feed
