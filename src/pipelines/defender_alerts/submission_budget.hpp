// The daily VMRay submission budget and the cap on our analyses in flight, in the words an
// analyst reads. The counting itself is the store's (Store::TakeBudgetUnit, TakeAnalysisSlot):
// atomic, durable, and tied to the job, so a retry or a restart reuses the job's unit.
//
// The budget day runs from 00:00 UTC to 00:00 UTC: one boundary for every replica and every
// time zone, and the one VMRay quota reports are easiest to compare with.
#pragma once

#include <string>

#include "core/clock.hpp"

namespace vc::defender {

// Reason prefix of a sample row whose owner was skipped by the budget: a job waiting on the
// same file takes the file over (and meets the budget itself) instead of failing alike.
inline constexpr std::string_view kBudgetSkip = "budget: ";

// The UTC date of `now`, "YYYY-MM-DD": the key the budget is counted under.
std::string BudgetDay(TimePoint now);
// The next 00:00 UTC after `now`, when a new budget day starts.
TimePoint NextBudgetReset(TimePoint now);

// One line for the job's reason, the status record and the mail.
std::string BudgetSkipReason(int64_t budget, TimePoint now);
// What the alert comment says after the evidence line: what was not done, when the budget
// resets, which setting raises it, and that the alert is not retried by itself.
std::string BudgetSkipExplanation(int64_t budget, TimePoint now);

// The job's reason while it waits for one of `cap` analysis slots.
std::string AnalysisSlotWaitReason(int64_t running, int64_t cap);

}  // namespace vc::defender
