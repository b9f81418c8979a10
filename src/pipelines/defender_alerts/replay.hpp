// Operator replay of one alert (`vmray-connector replay <alert-id>`), for example after VMRay
// changed a verdict or after a fault was fixed. Every settled job of the alert is reopened in the
// state "replaying"; the evidence job then reads the verdict from VMRay again and queues only the
// write-backs whose content changed since they were last written (a new alert comment, updated
// indicators and incident tags, a rewritten status record). Unchanged write-backs are not
// repeated, so replaying twice in a row writes nothing the second time.
//
// A job that never got a VMRay sample (collection failed, budget skipped) starts again from the
// beginning. A job still working is left alone: replay it once it has settled.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "jobs/handler.hpp"
#include "store/store.hpp"

namespace vc::defender {

inline constexpr std::string_view kReplayState = "replaying";

struct ReplayedJob {
  int64_t id = 0;
  std::string key;
  bool queued = false;
  std::string note;  // why it was not queued, or what the replay will do
};

// Reopens every settled job of the alert for a replay. kNotFound when the store holds no job for
// the alert. Jobs that are still working come back with queued = false and the reason.
Result<std::vector<ReplayedJob>> QueueAlertReplay(store::Store& store, const std::string& alert_id,
                                                  TimePoint now);

// For a step of a replayed job (its payload counts replays): drops the write-backs whose content
// is already on its way or delivered under the key they were last queued under, queues the
// others under ReplayKey and remembers that key in the payload. The parent incident's comment is
// never repeated (it is once per incident). A step whose alert comment is unchanged ends the job
// at once, with the comment's outcome, instead of waiting for a write-back that will not come.
// `job_payload`: the payload the step started from (used when the step set none).
Status ApplyReplay(store::Store& store, const std::string& job_payload, jobs::StepResult& r);

// The outbox key a replayed write-back is queued under: its first key, marked with the replay.
std::string ReplayKey(const std::string& first_key, int replay);

}  // namespace vc::defender
