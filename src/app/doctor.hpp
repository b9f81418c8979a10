// `vmray-connector doctor`: checks, with read-only calls only, everything the configured
// features depend on (configuration, store, Entra token, MDE permissions, VMRay key and quota)
// and prints a table of check / OK, PROBLEM or SKIPPED / what was found and how to fix it.
// Rows are printed as each check finishes, so a slow service shows where the doctor is.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace vc::app {

enum class CheckOutcome { kOk, kProblem, kSkipped };

// "OK", "PROBLEM", "SKIPPED".
std::string_view OutcomeName(CheckOutcome outcome);

struct CheckRow {
  std::string check;  // "mde: Machine.LiveResponse"
  CheckOutcome outcome = CheckOutcome::kOk;
  std::string detail;  // what was found; '\n' starts a new line
  std::string fix;     // what to do about it (empty for most OK rows)
};

struct DoctorOptions {
  config::LoadOptions load;
  Clock* clock = nullptr;  // null: the system clock
  size_t width = 100;      // the table is wrapped to this many columns
};

struct DoctorResult {
  std::vector<CheckRow> rows;
  bool config_invalid = false;
  // 0: no problem; 1: a problem; 2: the configuration is invalid (as for `run`).
  int exit_code = 0;
};

// Runs every check in order and writes the table to `out` as it goes. Every line passes the
// redactor: no secret reaches the output even if a service echoes one.
DoctorResult RunDoctor(const DoctorOptions& options, std::ostream& out);

// One row as printed (wrapped, no trailing newline), exposed for tests.
std::string FormatRow(const CheckRow& row, size_t width);

}  // namespace vc::app
