#include "pipelines/defender_alerts/status_record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "clients/blob/names.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/indicator_writer.hpp"
#include "pipelines/defender_alerts/replay.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"

namespace vc::defender {
namespace {

// The original's start_time format: "dd/mm/YYYY, HH:MM:SS" (UTC here).
std::string StartTime(TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%d/%m/%Y, %H:%M:%S", &tm);
  return buf;
}

std::string Status(const store::Job& job) {
  if (job.state == "done") return "Pass";
  if (job.state == "skipped" || job.state == "skipped_budget") return "Skipped";
  if (!job.final) return "Pending";
  return "Fail";
}

// Indicators of a sample go in through their own outbox row; the record waits for its result
// (a few minutes at most: an import MDE keeps refusing must not hold the record back for good).
constexpr int kMaxIndicatorWaits = 20;
constexpr Millis kIndicatorPoll{15'000};

std::optional<jobs::Delivery> AwaitIndicators(const store::OutboxItem& item, store::Store& store) {
  if (item.attempts >= kMaxIndicatorWaits) return std::nullopt;
  auto payload = ParseJson(item.payload, "status record");
  if (!payload || !payload->is_object() || !payload->contains("indicator_samples")) {
    return std::nullopt;
  }
  for (const Json& sha : (*payload)["indicator_samples"]) {
    if (!sha.is_string()) continue;
    auto count = store.GetCursor(IndicatorCountCursor(sha.get<std::string>()));
    if (!count)
      return RetryDelivery("reading the indicator count: " + count.error().ToString(),
                           kIndicatorPoll);
    if (!*count) {
      return RetryDelivery("waiting for the sample's MDE indicators before the status record",
                           kIndicatorPoll);
    }
  }
  return std::nullopt;
}

std::string MachineStatus(const EvidencePayload& p) {
  const std::string device = p.computer_dns_name.empty() ? p.machine_id : p.computer_dns_name;
  if (p.outcome.empty() || device.empty()) return "";
  if (p.outcome == "collected")
    return "Machine " + device + " available during the process of evidences";
  return "Machine " + device + ": " + p.outcome;
}

}  // namespace

store::NewOutboxItem StatusRecordItem(const std::string& alert_id, int64_t job_id,
                                      const std::string& state,
                                      const std::vector<std::string>& indicator_samples,
                                      int replay) {
  store::NewOutboxItem item;
  item.idempotency_key = fmt::format("status-record:{}:{}:{}", alert_id, job_id, state);
  if (replay > 0) item.idempotency_key = ReplayKey(item.idempotency_key, replay);
  item.kind = std::string(kStatusRecordKind);
  item.target = alert_id;
  Json payload{{"alert_id", alert_id}};
  if (!indicator_samples.empty()) payload["indicator_samples"] = indicator_samples;
  item.payload = payload.dump();
  item.completes_job = false;
  return item;
}

Json BuildStatusRecord(const std::vector<store::Job>& jobs, store::Store& store) {
  Json out = Json::array();
  for (const auto& job : jobs) {
    auto parsed = EvidencePayload::Parse(job.payload);
    if (!parsed) continue;
    const EvidencePayload& p = *parsed;
    std::string verdict;
    int64_t indicators = 0;
    if (!p.sha256.empty()) {
      if (auto sample = store.GetSample(p.sha256); sample && *sample) verdict = (*sample)->verdict;
      if (auto count = store.GetCursor(IndicatorCountCursor(p.sha256)); count && *count) {
        indicators = std::strtoll((*count)->c_str(), nullptr, 10);
      }
    }
    Json o{{"alert_id", p.alert_id},
           {"invocation_id", fmt::format("job-{}", job.id)},
           {"start_time", StartTime(job.created_at)},
           {"vmray_submission_id", p.submission_id},
           {"sample_id", p.sample_id},
           {"file_name", p.file_name},
           {"verdict", verdict},
           {"No_of_indicator_submitted", indicators},
           {"status", Status(job)},
           {"message", Scrub(job.reason)},
           {"machine_status_message", MachineStatus(p)},
           {"state", job.state},
           {"collection_outcome", p.outcome},
           {"sha256", p.sha256}};
    if (p.IsUrl()) o["url"] = p.url;
    out.push_back(std::move(o));
  }
  return out;
}

jobs::Delivery StatusRecordWriter::Deliver(const store::OutboxItem& item, TimePoint) {
  auto settled = AwaitSettledAlert(item, store_, "status record");
  if (auto* wait = std::get_if<jobs::Delivery>(&settled)) return *wait;
  const SettledAlert& alert = std::get<SettledAlert>(settled);
  if (auto wait = AwaitIndicators(item, store_)) return *wait;
  if (!container_ready_.load()) {
    auto created = blob_.CreateContainerIfMissing(blob::kStatusContainer);
    if (!created) {
      return RetryDelivery("creating the status container: " + created.error().ToString(),
                           WriteBackBackoff(item.attempts));
    }
    container_ready_ = true;
  }
  const std::string name = blob::BlobNameSegment(alert.alert_id) + ".json";
  blob::PutBlobOptions options;
  options.content_type = "application/json";
  auto put = blob_.PutBlob(blob::kStatusContainer, name,
                           BuildStatusRecord(alert.jobs, store_).dump(2), options);
  if (!put) {
    if (item.attempts >= 60) {
      return FinalDelivery(jobs::Delivery::Outcome::kFailed,
                           "gave up writing the status record: " + put.error().ToString());
    }
    return RetryDelivery("writing the status record: " + put.error().ToString(),
                         WriteBackBackoff(item.attempts));
  }
  return FinalDelivery(jobs::Delivery::Outcome::kDone, "status record " + name + " written");
}

}  // namespace vc::defender
