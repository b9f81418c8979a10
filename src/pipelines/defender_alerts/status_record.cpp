#include "pipelines/defender_alerts/status_record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "clients/blob/names.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"

namespace vc::defender {
namespace {

constexpr int kMaxJobsPerAlert = 1000;
// A job still writing its comment is final within seconds; give up only if it never is.
constexpr int kMaxWaitsForOpenJobs = 40;

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
  if (job.state == "skipped") return "Skipped";
  if (!job.final) return "Pending";
  return "Fail";
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
                                      const std::string& state) {
  store::NewOutboxItem item;
  item.idempotency_key = fmt::format("status-record:{}:{}:{}", alert_id, job_id, state);
  item.kind = std::string(kStatusRecordKind);
  item.target = alert_id;
  item.payload = Json{{"alert_id", alert_id}}.dump();
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
    if (!p.sha256.empty()) {
      if (auto sample = store.GetSample(p.sha256); sample && *sample) verdict = (*sample)->verdict;
    }
    Json o{{"alert_id", p.alert_id},
           {"invocation_id", fmt::format("job-{}", job.id)},
           {"start_time", StartTime(job.created_at)},
           {"vmray_submission_id", p.submission_id},
           {"sample_id", p.sample_id},
           {"file_name", p.file_name},
           {"verdict", verdict},
           {"No_of_indicator_submitted", 0},
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
  jobs::Delivery d;
  auto payload = ParseJson(item.payload, "status record");
  const std::string alert_id =
      payload && payload->is_object() ? payload->value("alert_id", "") : std::string();
  if (alert_id.empty()) {
    d.outcome = jobs::Delivery::Outcome::kFailed;
    d.reason = "unreadable status record request";
    return d;
  }
  auto retry = [&](std::string reason, Millis delay) {
    d.outcome = jobs::Delivery::Outcome::kRetry;
    d.reason = std::move(reason);
    d.delay = delay;
    return d;
  };
  auto jobs = store_.ListJobsUnderKey("mde:" + alert_id, kMaxJobsPerAlert);
  if (!jobs) return retry("reading the alert's jobs: " + jobs.error().ToString(), Millis(30'000));
  const bool open = std::any_of(jobs->begin(), jobs->end(), [](const auto& j) { return !j.final; });
  if (open && item.attempts < kMaxWaitsForOpenJobs) {
    // Another job of the alert (or this one's comment) is still on its way: the record is
    // written once the alert has settled.
    return retry("waiting for the alert's other jobs to finish", Millis(15'000));
  }
  if (!container_ready_.load()) {
    auto created = blob_.CreateContainerIfMissing(blob::kStatusContainer);
    if (!created) {
      return retry("creating the status container: " + created.error().ToString(),
                   std::min(Millis(30 * 60'000), Millis(10'000LL << std::min(item.attempts, 7))));
    }
    container_ready_ = true;
  }
  const std::string name = blob::BlobNameSegment(alert_id) + ".json";
  blob::PutBlobOptions options;
  options.content_type = "application/json";
  auto put = blob_.PutBlob(blob::kStatusContainer, name, BuildStatusRecord(*jobs, store_).dump(2),
                           options);
  if (!put) {
    if (item.attempts >= 60) {
      d.outcome = jobs::Delivery::Outcome::kFailed;
      d.reason = "gave up writing the status record: " + put.error().ToString();
      return d;
    }
    return retry("writing the status record: " + put.error().ToString(),
                 std::min(Millis(30 * 60'000), Millis(10'000LL << std::min(item.attempts, 7))));
  }
  d.outcome = jobs::Delivery::Outcome::kDone;
  d.reason = "status record " + name + " written";
  return d;
}

}  // namespace vc::defender
