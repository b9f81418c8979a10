#include "pipelines/defender_alerts/indicator_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/metrics.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"

namespace vc::defender {
namespace {

// A write-back whose service keeps failing is given up after this many attempts (about a day
// with WriteBackBackoff).
constexpr int kMaxAttempts = 60;

std::string Key(const std::string& type, const std::string& value) {
  std::string v = value;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type + "|" + v;
}

struct SampleRef {
  int64_t sample_id = 0;
  std::string sha256;
  std::string verdict;
  std::string report_url;
};

constexpr std::string_view kIndicatorKeyPrefix = "mde-indicators:";

jobs::Delivery Retry(const store::OutboxItem& item, const Error& error, const std::string& what) {
  if (item.attempts >= kMaxAttempts) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                         fmt::format("gave up {}: {}", what, error.ToString()));
  }
  Millis delay = WriteBackBackoff(item.attempts);
  if (error.retry_after) delay = std::max<Millis>(Millis(1'000), *error.retry_after);
  return RetryDelivery(what + ": " + error.ToString(), delay);
}

}  // namespace

std::vector<std::string> IndicatorVerdicts(const std::string& sample_verdict) {
  if (sample_verdict == "Malicious & Suspicious") return {"malicious", "suspicious"};
  if (sample_verdict == "Suspicious") return {"suspicious"};
  return {"malicious"};
}

bool WantsIndicators(const SampleResult& result, const std::vector<std::string>& verdicts) {
  auto wanted = [&](const std::string& v) {
    return std::find(verdicts.begin(), verdicts.end(), v) != verdicts.end();
  };
  if (wanted(result.verdict)) return true;
  return std::any_of(result.children.begin(), result.children.end(),
                     [&](const ChildSampleResult& c) { return wanted(c.verdict); });
}

store::NewOutboxItem IndicatorItem(const std::string& alert_id, const SampleResult& result,
                                   const std::string& sample_sha256) {
  Json samples = Json::array();
  samples.push_back({{"sample_id", result.sample_id},
                     {"sha256", sample_sha256},
                     {"verdict", result.verdict},
                     {"report_url", result.webif_url}});
  for (const auto& c : result.children) {
    samples.push_back({{"sample_id", c.sample_id},
                       {"sha256", c.sha256},
                       {"verdict", c.verdict},
                       {"report_url", c.webif_url}});
  }
  store::NewOutboxItem item;
  item.idempotency_key = std::string(kIndicatorKeyPrefix) + sample_sha256;
  item.kind = std::string(kIndicatorsKind);
  item.target = alert_id;
  item.payload = Json{{"alert_id", alert_id}, {"samples", std::move(samples)}}.dump();
  item.completes_job = false;
  return item;
}

std::string IndicatorItemSample(const store::NewOutboxItem& item) {
  return item.idempotency_key.substr(
      std::min(item.idempotency_key.size(), kIndicatorKeyPrefix.size()));
}

std::string IndicatorCountCursor(const std::string& sample_sha256) {
  return "indicators-imported:" + sample_sha256;
}

jobs::Delivery IndicatorWriter::Deliver(const store::OutboxItem& item, TimePoint now) {
  auto payload = ParseJson(item.payload, "indicator request");
  if (!payload || !payload->is_object() || !(*payload)["samples"].is_array()) {
    return FinalDelivery(jobs::Delivery::Outcome::kFailed, "unreadable indicator request");
  }
  const std::string alert_id = payload->value("alert_id", "");
  std::vector<SampleRef> samples;
  for (const Json& s : (*payload)["samples"]) {
    if (!s.is_object()) continue;
    samples.push_back({s.value("sample_id", int64_t{0}), s.value("sha256", ""),
                       s.value("verdict", ""), s.value("report_url", "")});
  }

  // 1. The IOCs of every sample with a wanted verdict, mapped; each value once, at its most
  //    severe verdict.
  std::vector<IndicatorCandidate> candidates;
  std::map<std::string, size_t> by_key;
  std::vector<SkippedValue> skipped;
  for (const SampleRef& s : samples) {
    if (s.sample_id <= 0 || std::find(options_.verdicts.begin(), options_.verdicts.end(),
                                      s.verdict) == options_.verdicts.end()) {
      continue;
    }
    const IndicatorContext context{alert_id, s.sha256, s.report_url, now};
    for (const std::string& verdict : options_.verdicts) {
      auto iocs = vmray_.Iocs(s.sample_id, verdict);
      if (!iocs) {
        if (iocs.error().code == ErrorCode::kNotFound) {
          spdlog::info("VMRay no longer has the IOCs of sample {}; no indicators from it",
                       s.sample_id);
          break;
        }
        return Retry(item, iocs.error(), fmt::format("reading the IOCs of sample {}", s.sample_id));
      }
      MappedIndicators mapped = MapIocs(*iocs, {verdict}, context, options_.settings, allow_list_);
      for (auto& c : mapped.indicators) {
        const std::string key = Key(c.type, c.value);
        auto it = by_key.find(key);
        if (it == by_key.end()) {
          by_key[key] = candidates.size();
          candidates.push_back(std::move(c));
        } else if (SeverityRank(c.severity) > SeverityRank(candidates[it->second].severity)) {
          candidates[it->second] = std::move(c);
        }
      }
      skipped.insert(skipped.end(), mapped.skipped.begin(), mapped.skipped.end());
    }
  }
  std::lock_guard lock(mu_);
  // 2. What MDE holds: values anyone already has are left alone (an analyst's Allowed must not be
  //    overwritten; ours are there already), and our own count against the budget.
  auto listed = api_.List();
  if (!listed) return Retry(item, listed.error(), "listing the tenant's indicators");
  std::set<std::string> present;
  std::set<std::string> present_ours;
  std::vector<const mde::Indicator*> ours;
  for (const auto& i : *listed) {
    present.insert(Key(i.type, i.value));
    if (i.application == kIndicatorApplication) {
      ours.push_back(&i);
      present_ours.insert(Key(i.type, i.value));
    }
  }
  std::vector<IndicatorCandidate> fresh;
  size_t already = 0;
  size_t already_ours = 0;
  for (auto& c : candidates) {
    if (present.count(Key(c.type, c.value))) {
      ++already;
      already_ours += present_ours.count(Key(c.type, c.value));
      continue;
    }
    fresh.push_back(std::move(c));
  }

  // 3. The budget: more new values than it holds keep the most severe; room is made by deleting
  //    our lowest-severity, oldest indicators first.
  std::stable_sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
    return SeverityRank(a.severity) > SeverityRank(b.severity);
  });
  if (fresh.size() > options_.budget) {
    for (size_t i = options_.budget; i < fresh.size(); ++i) {
      skipped.push_back({fresh[i].type, fresh[i].value, "over_budget"});
    }
    fresh.resize(options_.budget);
  }
  size_t evicted = 0;
  if (!fresh.empty() && ours.size() + fresh.size() > options_.budget) {
    const size_t excess = ours.size() + fresh.size() - options_.budget;
    std::sort(ours.begin(), ours.end(), [](const mde::Indicator* a, const mde::Indicator* b) {
      const int ra = SeverityRank(a->severity), rb = SeverityRank(b->severity);
      if (ra != rb) return ra < rb;
      const TimePoint ta = a->created.value_or(TimePoint{}), tb = b->created.value_or(TimePoint{});
      if (ta != tb) return ta < tb;
      return a->id < b->id;
    });
    std::vector<std::string> ids;
    for (size_t i = 0; i < excess && i < ours.size(); ++i) ids.push_back(ours[i]->id);
    for (size_t start = 0; start < ids.size(); start += mde::kMaxIndicatorIdsPerDelete) {
      const std::vector<std::string> chunk(
          ids.begin() + static_cast<long>(start),
          ids.begin() +
              static_cast<long>(std::min(ids.size(), start + mde::kMaxIndicatorIdsPerDelete)));
      auto deleted = api_.BatchDelete(chunk);
      if (!deleted && deleted.error().code == ErrorCode::kNotFound) {
        // One of them went meanwhile (expired, removed by an analyst): delete one by one.
        for (const auto& id : chunk) {
          if (auto one = api_.Delete(id); !one) {
            return Retry(item, one.error(), "deleting indicator " + id + " to stay in the budget");
          }
        }
      } else if (!deleted) {
        return Retry(item, deleted.error(), "deleting old indicators to stay in the budget");
      }
      evicted += chunk.size();
      Metrics::Global().Inc("vc_indicators_evicted_total", {}, static_cast<double>(chunk.size()));
    }
    if (evicted > 0) {
      spdlog::info(
          "deleted {} of the connector's oldest, least severe indicators to stay within "
          "the budget of {}",
          evicted, options_.budget);
    }
  }

  // 4. Import in batches of 500; each item's own failure is logged and counted, not retried.
  size_t imported = 0;
  size_t failed = 0;
  for (size_t start = 0; start < fresh.size(); start += mde::kMaxIndicatorsPerImport) {
    const size_t end = std::min(fresh.size(), start + mde::kMaxIndicatorsPerImport);
    Json batch = Json::array();
    for (size_t i = start; i < end; ++i) batch.push_back(fresh[i].body);
    auto results = api_.Import(batch);
    if (!results) {
      const Error& e = results.error();
      // A refused request would be refused again; anything else (a 429, MDE away, a missing
      // permission being granted) is worth another attempt.
      if (e.code != ErrorCode::kInvalidArgument) {
        // What went in already is in MDE: the next attempt lists it and goes on from there.
        return Retry(item, e,
                     fmt::format("importing indicators {}-{} of {} ({} imported so far)", start + 1,
                                 end, fresh.size(), imported));
      }
      return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                           "MDE refused the indicator import: " + e.ToString());
    }
    for (const auto& r : *results) {
      if (r.failed) {
        ++failed;
        Metrics::Global().Inc("vc_indicator_imports_total", {{"outcome", "failed"}});
        spdlog::warn("MDE refused indicator {}: {}", Scrub(r.indicator),
                     Scrub(r.failure_reason.empty() ? "no reason given" : r.failure_reason));
      } else {
        ++imported;
        Metrics::Global().Inc("vc_indicator_imports_total", {{"outcome", "imported"}});
      }
    }
  }
  // Counted once, when the delivery is through: a retried attempt maps the same values again.
  for (const SkippedValue& s : skipped) {
    Metrics::Global().Inc("vc_indicator_values_skipped_total", {{"reason", s.reason}});
    spdlog::info("indicator value left out ({}): {} {}", s.reason,
                 s.type.empty() ? "value" : s.type, Scrub(s.value));
  }
  if (already > 0) {
    Metrics::Global().Inc("vc_indicator_values_skipped_total", {{"reason", "already_in_mde"}},
                          static_cast<double>(already));
  }
  // Recorded before the delivery counts as done, as the sample's indicators that are ours in MDE
  // now (imported by this or an interrupted earlier attempt), so a repeat records the same.
  if (!samples.empty() && !samples.front().sha256.empty()) {
    if (auto saved = store_.SetCursor(IndicatorCountCursor(samples.front().sha256),
                                      std::to_string(imported + already_ours));
        !saved) {
      return Retry(item, saved.error(), "recording the indicator count");
    }
  }
  return FinalDelivery(
      jobs::Delivery::Outcome::kDone,
      fmt::format("indicators: {} imported, {} refused by MDE, {} already in MDE, {} left out, {} "
                  "old ones deleted for the budget",
                  imported, failed, already, skipped.size(), evicted));
}

}  // namespace vc::defender
