// The per-alert status record of the original connector: `<alertId>.json` in the container
// vmray-defender-functionapp-status, a JSON array with one object per evidence job, under the
// original's keys (so anything built on it, like the SendEmailNotification Logic App, keeps
// working) plus the connector's own: state, collection outcome, evidence.
//
// Written by an outbox row that each evidence job queues when it finishes; the writer waits
// until every job of the alert is final and then PUTs the whole record, so the last write holds
// the alert's final picture and a repeated write changes nothing.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "clients/blob/client.hpp"
#include "core/json.hpp"
#include "jobs/handler.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kStatusRecordKind = "status_record";

// The outbox row a finishing job queues (never completes the job itself). `indicator_samples`
// are the SHA-256s whose MDE indicators the same step queued: the writer waits (bounded) until
// their import is recorded, so No_of_indicator_submitted holds the real count. `replay` > 0:
// the job's n-th operator replay, which writes the record again.
store::NewOutboxItem StatusRecordItem(const std::string& alert_id, int64_t job_id,
                                      const std::string& state,
                                      const std::vector<std::string>& indicator_samples = {},
                                      int replay = 0);

// The record's JSON array for these jobs (with the samples' verdicts from the store).
Json BuildStatusRecord(const std::vector<store::Job>& jobs, store::Store& store);

class StatusRecordWriter final : public jobs::OutboxHandler {
 public:
  StatusRecordWriter(blob::BlobClient& blob, store::Store& store) : blob_(blob), store_(store) {}
  std::string kind() const override { return std::string(kStatusRecordKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  blob::BlobClient& blob_;
  store::Store& store_;
  std::atomic<bool> container_ready_{false};
};

}  // namespace vc::defender
