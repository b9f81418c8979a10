#include "jobs/dry_run.hpp"

#include <spdlog/spdlog.h>

#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/redact.hpp"

namespace vc::jobs {

Delivery DryRunDelivery::Deliver(const store::OutboxItem& item, TimePoint) {
  Delivery d;
  d.outcome = Delivery::Outcome::kDone;
  d.reason = "dry run: not written";
  d.job_state = "done";
  if (auto payload = ParseJson(item.payload, "write-back"); payload && payload->is_object()) {
    d.job_state = payload->value("job_state", "done");
    d.job_reason = payload->value("job_reason", "");
  }
  if (!d.job_reason.empty()) d.job_reason = "dry run (nothing written): " + d.job_reason;
  spdlog::info("dry run: would write {} for {} (key {}): {}", item.kind, Scrub(item.target),
               Scrub(item.idempotency_key), Scrub(item.payload));
  Metrics::Global().Inc("vc_dry_run_writebacks_total", {{"kind", item.kind}});
  return d;
}

}  // namespace vc::jobs
