#include "pipelines/sentinel_incidents/ioc_upload.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "pipelines/defender_alerts/settled_alert.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"

namespace vc::sentinel_incidents {
namespace {

constexpr int kMaxAttempts = 60;

}  // namespace

jobs::Delivery IocUploadWriter::Deliver(const store::OutboxItem& item, TimePoint) {
  using Outcome = jobs::Delivery::Outcome;
  auto payload = ParseJson(item.payload, "incident IOC upload request");
  if (!payload || !payload->is_object() || !(*payload)["sample_id"].is_number_integer()) {
    return defender::FinalDelivery(Outcome::kFailed, "unreadable incident IOC upload request");
  }
  const int64_t sample_id = (*payload)["sample_id"];
  const int64_t submission_id = payload->value("submission_id", int64_t{0});
  const int64_t number = payload->value("number", int64_t{0});
  auto retry = [&](const Error& e, const std::string& what) {
    if (e.code == ErrorCode::kNotFound || e.code == ErrorCode::kInvalidArgument ||
        item.attempts >= kMaxAttempts) {
      return defender::FinalDelivery(Outcome::kFailed,
                                     fmt::format("{}: {}; not retried", what, e.ToString()));
    }
    Millis delay = defender::WriteBackBackoff(item.attempts);
    if (e.retry_after) delay = std::max<Millis>(Millis(1'000), *e.retry_after);
    return defender::RetryDelivery(what + ": " + e.ToString(), delay);
  };
  auto iocs = vmray_.Iocs(sample_id);
  if (!iocs) return retry(iocs.error(), fmt::format("reading the IOCs of sample {}", sample_id));

  sentinel_feed::StixOptions o;
  o.vmray_base_url = options_.vmray_base_url;
  o.verdicts = options_.ioc_verdicts;
  o.expiration_days = options_.ioc_expiration_days;
  o.now = clock_.Now();
  // The original playbook labelled them with the incident number (5.1 step 6).
  o.incident_label = number > 0 ? std::to_string(number) : "None";
  const sentinel_feed::StixMapping mapping =
      sentinel_feed::MapIocsToStix(*iocs, {sample_id, submission_id}, o, allow_list_);
  std::vector<Json> objects;
  objects.reserve(mapping.indicators.size());
  for (const auto& i : mapping.indicators) objects.push_back(i.object);
  if (objects.empty()) {
    return defender::FinalDelivery(
        Outcome::kDone, fmt::format("sample {} has no malicious or suspicious IOCs to upload "
                                    "({} left out)",
                                    sample_id, mapping.skipped.size()));
  }
  auto uploaded = uploader_.Upload(objects);
  if (!uploaded) return retry(uploaded.error(), "uploading the IOCs to Sentinel");
  Metrics::Global().Inc("vc_sentinel_incident_iocs_total", {{"outcome", "uploaded"}},
                        static_cast<double>(uploaded->accepted));
  std::string reason =
      fmt::format("{} indicator(s) of sample {} uploaded", uploaded->accepted, sample_id);
  if (!uploaded->rejected.empty()) {
    reason += fmt::format("; {} refused by Sentinel, first: {} ({})", uploaded->rejected.size(),
                          uploaded->rejected.front().id, uploaded->rejected.front().reason);
    spdlog::warn("sentinel incidents: {}", reason);
  }
  return defender::FinalDelivery(Outcome::kDone, reason);
}

}  // namespace vc::sentinel_incidents
