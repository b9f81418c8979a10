// Pure pieces of the feed: the Polling schedule, the 429 wait hint, per-record errors of a 200.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "clients/sentinel/ti_upload.hpp"
#include "core/polling.hpp"
#include "core/time.hpp"

namespace vc {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

TEST(Polling, TheOriginalsSchedulesAndIntervals) {
  EXPECT_EQ(ParsePolling("*/5 * * * *"), Millis(minutes(5)));
  EXPECT_EQ(ParsePolling("*/10 * * * *"), Millis(minutes(10)));
  EXPECT_EQ(ParsePolling("0 * * * *"), Millis(hours(1)));
  EXPECT_EQ(ParsePolling("0 */6 * * *"), Millis(hours(6)));
  EXPECT_EQ(ParsePolling("0 */12 * * *"), Millis(hours(12)));
  EXPECT_EQ(ParsePolling("0 0 * * *"), Millis(hours(24)));
  EXPECT_EQ(ParsePolling(" 15m "), Millis(minutes(15)));
  EXPECT_EQ(ParsePolling("2h"), Millis(hours(2)));
  for (const char* bad : {"", "0m", "*/7 * * * *", "0 */5 * * *", "30 2 * * *", "0 0 * * 1",
                          "every 6 hours", "5", "-5m", "* * * *"}) {
    EXPECT_FALSE(ParsePolling(bad)) << bad;
  }
}

TEST(Polling, RunsFallOnMultiplesOfTheIntervalSinceMidnightUtc) {
  const TimePoint t = *ParseIso8601("2026-03-01T07:12:00Z");
  EXPECT_EQ(FormatIso8601(NextRun(t, hours(6))), "2026-03-01T12:00:00Z");
  EXPECT_EQ(FormatIso8601(NextRun(t, minutes(5))), "2026-03-01T07:15:00Z");
  EXPECT_EQ(FormatIso8601(NextRun(*ParseIso8601("2026-03-01T12:00:00Z"), hours(6))),
            "2026-03-01T18:00:00Z");
}

TEST(TiUpload, ThrottleWaitFromHeaderElseText) {
  const TimePoint now = *ParseIso8601("2026-03-01T07:12:00Z");
  http::Response r;
  r.status = 429;
  r.body = R"({"statusCode":429,"message":"Rate limit is exceeded. Try again in 12 seconds."})";
  EXPECT_EQ(sentinel::ThrottleWait(r, now), Millis(12'000));
  r.headers.Set("Retry-After", "3");
  EXPECT_EQ(sentinel::ThrottleWait(r, now), Millis(3'000));
  http::Response none;
  none.body = "busy";
  EXPECT_FALSE(sentinel::ThrottleWait(none, now));
}

TEST(TiUpload, RecordErrorsMapToTheBatchIds) {
  const std::vector<Json> batch = {{{"id", "indicator--a"}}, {{"id", "indicator--b"}}};
  auto none = sentinel::ParseRecordErrors("", batch);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto some = sentinel::ParseRecordErrors(
      R"({"errors":[{"recordIndex":1,"errorMessages":["Error for Property=id: x","y"]}]})", batch);
  ASSERT_TRUE(some);
  ASSERT_EQ(some->size(), 1u);
  EXPECT_EQ((*some)[0].id, "indicator--b");
  EXPECT_EQ((*some)[0].reason, "Error for Property=id: x; y");
  // An index outside the batch or a body that is no JSON is a protocol error, not silence.
  EXPECT_FALSE(sentinel::ParseRecordErrors(R"({"errors":[{"recordIndex":2}]})", batch));
  EXPECT_FALSE(sentinel::ParseRecordErrors("<html>", batch));
}

}  // namespace
}  // namespace vc
