#include "pipelines/defender_alerts/submission_budget.hpp"

#include <fmt/format.h>

#include <ctime>

namespace vc::defender {
namespace {

std::tm Utc(TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

std::string FormatUtc(TimePoint t, const char* format) {
  const std::tm tm = Utc(t);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string BudgetDay(TimePoint now) {
  return FormatUtc(now, "%Y-%m-%d");
}

TimePoint NextBudgetReset(TimePoint now) {
  const auto day = std::chrono::floor<std::chrono::days>(now);
  return std::chrono::time_point_cast<TimePoint::duration>(day + std::chrono::days(1));
}

std::string BudgetSkipReason(int64_t budget, TimePoint now) {
  return fmt::format(
      "skipped: the daily VMRay submission budget of {} was reached "
      "(vmray.daily_submission_budget); it resets at {}",
      budget, FormatUtc(NextBudgetReset(now), "%Y-%m-%d %H:%M UTC"));
}

std::string BudgetSkipExplanation(int64_t budget, TimePoint now) {
  const TimePoint reset = NextBudgetReset(now);
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(reset - now).count();
  return fmt::format(
      "Not submitted to VMRay: the daily submission budget of {} submissions was reached.\n"
      "The budget resets at {} (in {} h {} min).\n"
      "To submit more files a day, raise vmray.daily_submission_budget.\n"
      "This alert is not retried automatically; a later alert with the same file is "
      "analysed as usual.",
      budget, FormatUtc(reset, "%Y-%m-%d %H:%M UTC"), minutes / 60, minutes % 60);
}

std::string AnalysisSlotWaitReason(int64_t running, int64_t cap) {
  return fmt::format(
      "waiting for a VMRay analysis slot: {} of our submissions are being analysed "
      "(vmray.max_concurrent_analyses = {})",
      running, cap);
}

}  // namespace vc::defender
