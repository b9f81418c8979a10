// MDE custom indicators from a sample's VMRay IOCs: an outbox write-back ("mde_indicators")
// queued once per sample SHA-256 by the first alert that reports it. The writer reads the IOCs
// of the sample and its analysed children for the configured verdicts, maps them
// (indicator_mapping.hpp), leaves out allow-listed and invalid values with a counted reason and
// values MDE already holds, keeps the connector's own indicators within the budget by deleting
// the lowest-severity, oldest first (BatchDelete), and imports the rest in batches of 500.
//
// Safe to repeat: MDE keys indicators by value and type, and every attempt starts from MDE's
// current list, so a repeat after a crash or a 429 in the middle of the batches imports only
// what is still missing and never duplicates.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "clients/defender/indicators.hpp"
#include "clients/vmray/client.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/indicator_mapping.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kIndicatorsKind = "mde_indicators";

// "Malicious" / "Suspicious" / "Malicious & Suspicious" (VmraySampleVerdict) -> lower-case
// VMRay verdicts.
std::vector<std::string> IndicatorVerdicts(const std::string& sample_verdict);

// Whether `result` (the sample or one of its children) has a verdict in `verdicts`.
bool WantsIndicators(const SampleResult& result, const std::vector<std::string>& verdicts);

// The outbox row EvidenceJob::Report queues: keyed by the sample's SHA-256 so that a second
// alert with the same file imports nothing twice; never completes the job (the comment does).
store::NewOutboxItem IndicatorItem(const std::string& alert_id, const SampleResult& result,
                                   const std::string& sample_sha256);

// The sample SHA-256 an IndicatorItem is for.
std::string IndicatorItemSample(const store::NewOutboxItem& item);

// The store cursor under which a delivery records how many indicators it imported for a
// sample, for the status record's No_of_indicator_submitted.
std::string IndicatorCountCursor(const std::string& sample_sha256);

struct IndicatorWriterOptions {
  IndicatorSettings settings;
  std::vector<std::string> verdicts = {"malicious"};
  size_t budget = 10'000;  // the connector's own indicators in the tenant, at most
};

class IndicatorWriter final : public jobs::OutboxHandler {
 public:
  IndicatorWriter(IndicatorWriterOptions options, AllowList allow_list, store::Store& store,
                  vmray::Client& vmray, mde::Client& mde)
      : options_(std::move(options)),
        allow_list_(std::move(allow_list)),
        store_(store),
        vmray_(vmray),
        mde_(mde),
        api_(mde) {}
  std::string kind() const override { return std::string(kIndicatorsKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  IndicatorWriterOptions options_;
  AllowList allow_list_;
  store::Store& store_;
  vmray::Client& vmray_;
  mde::Client& mde_;
  mde::IndicatorApi api_;
  // One delivery at a time: the budget is a property of the whole tenant.
  std::mutex mu_;
};

}  // namespace vc::defender
