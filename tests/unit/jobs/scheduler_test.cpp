#include "jobs/scheduler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace vc::jobs {
namespace {

// A handler that counts to three: new -> one -> two -> done, with a delay on "one".
class Counting final : public JobHandler {
 public:
  std::string kind() const override { return "count"; }
  StepResult Step(const StepContext& ctx) override {
    ++steps;
    StepResult r;
    r.payload = ctx.job.payload + "+";
    if (ctx.job.state == "new") {
      r.state = "one";
      r.delay = Millis(10'000);
    } else if (ctx.job.state == "one") {
      r.state = "two";
    } else if (ctx.job.state == "boom") {
      throw std::runtime_error("handler bug");
    } else {
      r.state = "writing";
      r.outbox.push_back({"ob:" + ctx.job.key, "note", ctx.job.key, "{}", 0, TimePoint{}});
    }
    return r;
  }
  std::atomic<int> steps{0};
};

class Notes final : public OutboxHandler {
 public:
  std::string kind() const override { return "note"; }
  Delivery Deliver(const store::OutboxItem& item, TimePoint) override {
    ++deliveries;
    Delivery d;
    if (fail_first && item.attempts == 1) {
      d.outcome = Delivery::Outcome::kRetry;
      d.delay = Millis(5'000);
      d.reason = "transient";
      return d;
    }
    d.job_state = "done";
    d.job_reason = "noted";
    return d;
  }
  bool fail_first = false;
  std::atomic<int> deliveries{0};
};

struct Fixture {
  ManualClock clock;
  std::unique_ptr<store::Store> store = store::OpenSqliteStore({":memory:"}, clock).value();
  std::shared_ptr<Counting> handler = std::make_shared<Counting>();
  std::shared_ptr<Notes> notes = std::make_shared<Notes>();
  Scheduler scheduler{{.workers = 2, .owner = "test"}, *store, clock};
  Fixture() {
    scheduler.Register(handler);
    scheduler.Register(notes);
  }
  void Add(const std::string& key, const std::string& state = "new") {
    ASSERT_TRUE(store->InsertJob({"count", key, state, "p", "", clock.Now()}));
  }
  store::Job Get(const std::string& key) { return **store->GetJobByKey(key); }
};

TEST(Scheduler, RunsStepsHonoursDelaysAndFinishesThroughTheOutbox) {
  Fixture f;
  f.Add("a");
  f.scheduler.RunUntilIdle();
  EXPECT_EQ(f.Get("a").state, "one");
  EXPECT_EQ(f.handler->steps, 1) << "the 10 s delay must hold the job back";
  f.clock.Advance(Millis(10'000));
  f.scheduler.RunUntilIdle();
  const store::Job done = f.Get("a");
  EXPECT_EQ(done.state, "done");
  EXPECT_TRUE(done.final);
  EXPECT_EQ(done.reason, "noted");
  EXPECT_EQ(done.payload, "p+++");
  EXPECT_EQ(f.notes->deliveries, 1);
  auto outbox = f.store->ListOutbox(done.id);
  ASSERT_TRUE(outbox);
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ((*outbox)[0].state, "done");
}

TEST(Scheduler, RetriedDeliveryWaitsItsDelay) {
  Fixture f;
  f.notes->fail_first = true;
  f.Add("b", "two");
  f.scheduler.RunUntilIdle();
  EXPECT_EQ(f.Get("b").state, "writing");
  EXPECT_EQ(f.notes->deliveries, 1);
  f.clock.Advance(Millis(4'000));
  f.scheduler.RunUntilIdle();
  EXPECT_EQ(f.notes->deliveries, 1);
  f.clock.Advance(Millis(1'000));
  f.scheduler.RunUntilIdle();
  EXPECT_EQ(f.notes->deliveries, 2);
  EXPECT_EQ(f.Get("b").state, "done");
}

TEST(Scheduler, AHandlerExceptionKeepsTheJobAndBacksOff) {
  Fixture f;
  f.Add("c", "boom");
  f.scheduler.RunUntilIdle();
  const store::Job j = f.Get("c");
  EXPECT_EQ(j.state, "boom");
  EXPECT_FALSE(j.final);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_NE(j.reason.find("handler bug"), std::string::npos);
  EXPECT_GE(j.next_attempt_at, f.clock.Now() + Millis(60'000));
}

TEST(Scheduler, UnknownKindFailsWithAReason) {
  Fixture f;
  ASSERT_TRUE(f.store->InsertJob({"mystery", "m", "new", "{}", "", f.clock.Now()}));
  f.scheduler.RunUntilIdle();
  const store::Job j = f.Get("m");
  EXPECT_EQ(j.state, "failed");
  EXPECT_TRUE(j.final);
  EXPECT_NE(j.reason.find("mystery"), std::string::npos);
}

TEST(Scheduler, ThreadedRunProcessesEveryJobOnceAndStopsCleanly) {
  ManualClock clock;
  auto store = store::OpenSqliteStore({":memory:"}, clock).value();
  auto handler = std::make_shared<Counting>();
  auto notes = std::make_shared<Notes>();
  Scheduler s({.workers = 4, .idle_wait = Millis(5), .owner = "threads"}, *store, clock);
  s.Register(handler);
  s.Register(notes);
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(store->InsertJob({"count", "t" + std::to_string(i), "one", "", "", clock.Now()}));
  s.Start();
  for (int i = 0; i < 400; ++i) {
    auto open = store->ListJobs({"", "", false, "", 1});
    if (open && open->empty()) break;
    std::this_thread::sleep_for(Millis(10));
  }
  s.Stop();
  auto counts = store->CountJobs();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].state, "done");
  EXPECT_EQ((*counts)[0].count, 200);
  EXPECT_EQ(handler->steps, 400);  // one -> two -> writing, two steps each
  EXPECT_EQ(notes->deliveries, 200);
}

}  // namespace
}  // namespace vc::jobs
