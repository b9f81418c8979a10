// The doctor's table rows: check and result columns, details wrapped to the width under their
// column, the fix on its own line, no trailing blanks.
#include <gtest/gtest.h>

#include "app/doctor.hpp"

namespace vc::app {
namespace {

TEST(DoctorFormat, WrapsDetailsUnderTheirColumnAndAddsTheFix) {
  CheckRow row{"mde: Machine.Read.All", CheckOutcome::kProblem,
               "missing: needed to read devices and Live Response actions", "grant it"};
  EXPECT_EQ(FormatRow(row, 70),
            "mde: Machine.Read.All          PROBLEM  missing: needed to read\n"
            "                                        devices and Live Response\n"
            "                                        actions\n"
            "                                        fix: grant it");
}

TEST(DoctorFormat, NewlinesStartLinesAndLongWordsAreNotCut) {
  const std::string url = "https://example.com/" + std::string(60, 'a');
  CheckRow row{"configuration", CheckOutcome::kOk, "2 problems:\n- one\n- " + url, ""};
  EXPECT_EQ(FormatRow(row, 80),
            "configuration                  OK       2 problems:\n"
            "                                        - one\n"
            "                                        -\n"
            "                                        " +
                url);
  CheckRow skipped{"smtp", CheckOutcome::kSkipped, "", ""};
  EXPECT_EQ(FormatRow(skipped, 100), "smtp                           SKIPPED");
}

}  // namespace
}  // namespace vc::app
