// The readiness checks that need judgement: is the last poll recent enough (clock jumps
// included), can the store still be written (a read-only store at run time).
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "server/readiness.hpp"
#include "store/sqlite_store.hpp"

namespace vc::server {
namespace {

const Millis kInterval(60'000);

TEST(Readiness, PollCheckNeedsAFirstSuccess) {
  const TimePoint now = TimePoint{} + std::chrono::hours(1000);
  auto c = PollCheck("defender_evidence", std::nullopt, std::nullopt, now, kInterval,
                     PollWindow(kInterval));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.name, "poller:defender_evidence");
  EXPECT_NE(c.detail.find("no successful poll"), std::string::npos);
  EXPECT_FALSE(c.action.empty());

  auto failing = PollCheck("defender_evidence", std::nullopt,
                           "Unauthenticated [mde http=401 request-id=r-1]: bad secret", now,
                           kInterval, PollWindow(kInterval));
  EXPECT_FALSE(failing.ok);
  EXPECT_NE(failing.detail.find("request-id=r-1"), std::string::npos) << failing.detail;
  EXPECT_NE(failing.action.find("doctor"), std::string::npos);
}

TEST(Readiness, PollCheckWindowAndClockJumps) {
  const TimePoint now = TimePoint{} + std::chrono::hours(1000);
  const Millis window = PollWindow(kInterval);
  EXPECT_EQ(window, Millis(210'000)) << "three intervals plus 30 s";
  EXPECT_TRUE(PollCheck("j", now - window, std::nullopt, now, kInterval, window).ok);
  auto stale = PollCheck("j", now - window - Millis(1000), std::nullopt, now, kInterval, window);
  EXPECT_FALSE(stale.ok);
  EXPECT_NE(stale.detail.find("211 s ago"), std::string::npos) << stale.detail;
  // The wall clock went back an hour after the last poll: fresh, not an error.
  auto back = PollCheck("j", now + std::chrono::hours(1), std::nullopt, now, kInterval, window);
  EXPECT_TRUE(back.ok) << back.detail;
  EXPECT_NE(back.detail.find(" 0 s ago"), std::string::npos) << back.detail;
}

TEST(Readiness, JsonNamesEveryCheckAndWhatToDo) {
  std::vector<ReadinessCheck> checks = {{"config", true, "loaded", ""},
                                        {"store", false, "disk full", "free disk space"}};
  auto body = Json::parse(ReadinessJson(checks));
  EXPECT_FALSE(body["ready"].get<bool>());
  ASSERT_EQ(body["checks"].size(), 2u);
  EXPECT_EQ(body["checks"][0]["name"], "config");
  EXPECT_TRUE(body["checks"][0]["ok"].get<bool>());
  EXPECT_FALSE(body["checks"][0].contains("action"));
  EXPECT_EQ(body["checks"][1]["action"], "free disk space");
  EXPECT_TRUE(AllReady({checks[0]}));
  EXPECT_TRUE(Json::parse(ReadinessJson({{"x", true, "\xff bad utf-8", ""}}))["ready"]);
}

TEST(Readiness, StoreCheckWritesAndReportsAReadOnlyStore) {
  ManualClock clock;
  auto opened = store::OpenSqliteStore({.path = ":memory:"}, clock);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& store = **opened;
  auto ok = StoreCheck(store, clock.Now());
  EXPECT_TRUE(ok.ok) << ok.detail;
  EXPECT_TRUE(store.GetCursor("ops.readiness_probe")->has_value()) << "a real write";

  // The store cannot be written any more (read-only file, full disk): not ready, no crash.
  ASSERT_TRUE(dynamic_cast<store::SqliteStore&>(store).ExecForTest("PRAGMA query_only = 1"));
  auto failed = StoreCheck(store, clock.Now());
  EXPECT_FALSE(failed.ok);
  EXPECT_NE(failed.detail.find("cannot write"), std::string::npos) << failed.detail;
  EXPECT_NE(failed.action.find("writable"), std::string::npos);
  ASSERT_TRUE(dynamic_cast<store::SqliteStore&>(store).ExecForTest("PRAGMA query_only = 0"));
  EXPECT_TRUE(StoreCheck(store, clock.Now()).ok) << "recovers when the store is writable again";
}

}  // namespace
}  // namespace vc::server
