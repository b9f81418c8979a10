// Dry run: a write-back handler that logs what it would write and writes nothing. The jobs run
// as usual (look-ups, collection, analysis), so an operator sees every comment, status record
// and mail the connector would produce before letting it touch the tenant.
#pragma once

#include <memory>

#include "jobs/handler.hpp"

namespace vc::jobs {

class DryRunDelivery final : public OutboxHandler {
 public:
  explicit DryRunDelivery(std::shared_ptr<OutboxHandler> real) : real_(std::move(real)) {}
  std::string kind() const override { return real_->kind(); }
  // Logs "dry run: would write <kind> for <target>: <payload>" and reports it done; a payload
  // that names the job's final state ("job_state", "job_reason") finishes the job with it.
  Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  std::shared_ptr<OutboxHandler> real_;  // kept for its kind only: never called
};

}  // namespace vc::jobs
