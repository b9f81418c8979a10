// The ops listener over real HTTP: each endpoint's status, type and body, gauges read from a real
// SQLite store at scrape time, the status page's escaping and bounds, and a taken port.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <regex>

#include "core/json.hpp"
#include "core/redact.hpp"
#include "server/ops_server.hpp"
#include "store/store.hpp"

namespace vc::server {
namespace {

std::string Payload(const std::string& alert, const std::string& title, const std::string& file,
                    const std::string& sha256) {
  return Json{{"alert_id", alert}, {"alert_title", title}, {"file_name", file}, {"sha256", sha256}}
      .dump();
}

// The number in a Prometheus sample line "name{labels} value", or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class OpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenSqliteStore({.path = ":memory:"}, clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
    OpsSources sources;
    sources.store = store_.get();
    sources.clock = &clock_;
    sources.version = "vmray-connector/test";
    sources.readiness = [this] {
      std::vector<ReadinessCheck> checks{{"config", true, "loaded", ""}};
      if (!poller_ok_) {
        checks.push_back({"poller:defender_evidence", false, "no successful poll since start",
                          "wait for the first poll"});
      }
      return checks;
    };
    sources.limiters = [] {
      return std::vector<LimiterUse>{{"mde.liveresponse.run", 0.3}, {"mde.alerts.get", 0.0}};
    };
    server_ = std::make_unique<OpsServer>(ListenAddress{"127.0.0.1", 0}, sources, metrics_);
    ASSERT_TRUE(server_->Start());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  int64_t AddJob(const std::string& key, const std::string& payload, const std::string& state) {
    auto inserted = store_->InsertJob(
        {"defender_evidence", key, state, payload, "", clock_.Now() - Millis(5000)});
    EXPECT_TRUE(inserted && *inserted);
    return (*store_->GetJobByKey(key))->id;
  }

  void Move(int64_t id, const std::string& state, const std::string& reason, int attempts,
            bool final) {
    auto leased = store_->LeaseDueJobs(clock_.Now(), "t", Millis(10'000), 1000);
    ASSERT_TRUE(leased);
    for (const auto& j : *leased) {
      store::JobUpdate u{
          .id = j.id,
          .lease_owner = "t",
          .state = j.id == id ? state : j.state,
          .reason = j.id == id ? reason : j.reason,
          .payload = std::nullopt,
          .attempts = j.id == id ? attempts : j.attempts,
          .final = j.id == id ? final : false,
          .next_attempt_at = j.id == id ? clock_.Now() + Millis(90'000) : j.next_attempt_at};
      ASSERT_TRUE(store_->UpdateJob(u));
    }
  }

  ManualClock clock_;
  Metrics metrics_;
  std::unique_ptr<store::Store> store_;
  std::atomic<bool> poller_ok_{true};
  std::unique_ptr<OpsServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(OpsServerTest, HealthzAnswersOk) {
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
}

TEST_F(OpsServerTest, ReadyzIs200OnlyWhenEveryCheckPassesAndNamesTheFailingOne) {
  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(Json::parse(ready->body)["ready"].get<bool>());

  poller_ok_ = false;
  auto unready = client_->Get("/readyz");
  ASSERT_TRUE(unready);
  EXPECT_EQ(unready->status, 503);
  auto body = Json::parse(unready->body);
  EXPECT_FALSE(body["ready"].get<bool>());
  ASSERT_EQ(body["checks"].size(), 2u);
  EXPECT_EQ(body["checks"][1]["name"], "poller:defender_evidence");
  EXPECT_FALSE(body["checks"][1]["ok"].get<bool>());
  EXPECT_EQ(body["checks"][1]["action"], "wait for the first poll");
}

TEST_F(OpsServerTest, MetricsHasProcessCountersAndStoreGaugesReadAtScrapeTime) {
  metrics_.Inc("vc_http_requests_total",
               {{"service", "mde"}, {"operation", "alerts.list"}, {"status", "2xx"}});
  const int64_t a = AddJob("mde:a1:s1", Payload("a1", "t", "f", "s1"), "new");
  AddJob("mde:a2:s2", Payload("a2", "t", "f", "s2"), "new");
  ASSERT_TRUE(*store_->EnqueueOutbox({"k1", "alert_comment", "a1", "{}", a, clock_.Now()}));

  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = res->body;
  EXPECT_EQ(
      Sample(m, R"(vc_http_requests_total{operation="alerts.list",service="mde",status="2xx"})"),
      1);
  EXPECT_EQ(Sample(m, R"(vc_jobs{kind="defender_evidence",state="new"})"), 2);
  EXPECT_EQ(Sample(m, R"(vc_outbox_items{kind="alert_comment",state="pending"})"), 1);
  EXPECT_EQ(Sample(m, "vc_oldest_due_job_age_seconds"), 5);
  EXPECT_EQ(Sample(m, "vc_ready"), 1);
  EXPECT_NE(m.find("# HELP vc_jobs Jobs by kind and state"), std::string::npos);
  // Low cardinality: no alert id or hash becomes a label.
  EXPECT_EQ(m.find("a1"), std::string::npos);
  EXPECT_EQ(m.find("s1\""), std::string::npos);

  // Both jobs leave "new": the old series reads 0 instead of its stale count.
  Move(a, "done", "finished", 0, true);
  const int64_t b = (*store_->GetJobByKey("mde:a2:s2"))->id;
  Move(b, "analysing", "waiting for VMRay", 0, false);
  poller_ok_ = false;
  auto again = client_->Get("/metrics");
  ASSERT_TRUE(again);
  EXPECT_EQ(Sample(again->body, R"(vc_jobs{kind="defender_evidence",state="new"})"), 0);
  EXPECT_EQ(Sample(again->body, R"(vc_jobs{kind="defender_evidence",state="done"})"), 1);
  EXPECT_EQ(Sample(again->body, R"(vc_jobs{kind="defender_evidence",state="analysing"})"), 1);
  EXPECT_EQ(Sample(again->body, "vc_oldest_due_job_age_seconds"), 0) << "nothing due";
  EXPECT_EQ(Sample(again->body, "vc_ready"), 0);
}

TEST_F(OpsServerTest, StatusPageShowsJobsVerdictsErrorsAndEscapesEveryValue) {
  const std::string sha = std::string(64, 'a');
  const int64_t html =
      AddJob("mde:x1:" + sha,
             Payload("x1", "<b>bold</b> title", "<img src=x onerror=alert(1)>", sha), "new");
  const int64_t failing = AddJob("mde:x2:b", Payload("x2", "t", "report.pdf", "b"), "new");
  store::Sample s;
  s.sha256 = sha;
  s.state = "finished";
  s.owner_job_id = html;
  s.verdict = "malicious";
  s.updated_at = clock_.Now();
  ASSERT_TRUE(store_->PutSample(s));
  Redactor::Global().Register("tok-DO-NOT-LOG-status");
  Move(failing, "collecting",
       "running Live Response (blocked 1/5, next in 1800 s): PermissionDenied [mde http=403 "
       "request-id=req-42]: missing Machine.LiveResponse; token tok-DO-NOT-LOG-status",
       1, false);

  auto res = client_->Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  const std::string& page = res->body;
  EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"10\">"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;bold&lt;/b&gt; title"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<b>bold"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos) << "no script at all";
  EXPECT_EQ(page.find("http://"), std::string::npos) << "no external asset";
  EXPECT_EQ(page.find("https://"), std::string::npos) << "no external asset";
  EXPECT_NE(page.find("class=\"verdict bad\">malicious<"), std::string::npos);
  // The error section: reason with the request id, what to do, the next retry.
  const size_t errors = page.find("id=\"errors\"");
  ASSERT_NE(errors, std::string::npos);
  const std::string error_section = page.substr(errors, page.find("</section>", errors) - errors);
  EXPECT_NE(error_section.find("request-id=req-42"), std::string::npos);
  EXPECT_NE(error_section.find("grant the app registration the API permission"), std::string::npos);
  EXPECT_NE(error_section.find("in 90 s"), std::string::npos);
  EXPECT_EQ(page.find("DO-NOT-LOG"), std::string::npos) << "secrets scrubbed";
  EXPECT_NE(page.find("mde.liveresponse.run"), std::string::npos);
  EXPECT_NE(page.find(">30 %<"), std::string::npos);
  EXPECT_EQ(page.find("mde.alerts.get"), std::string::npos) << "idle limiters are summed up";
  EXPECT_NE(page.find("1 more limiter at 0 %"), std::string::npos);
  EXPECT_NE(page.find("id=\"ready\" class=\"badge good\">ready<"), std::string::npos);
}

TEST_F(OpsServerTest, StatusStaysSmallAndFastWithTwentyThousandJobs) {
  std::vector<store::NewJob> jobs;
  for (int i = 0; i < 20'000; ++i) {
    const std::string id = "alert-" + std::to_string(i);
    jobs.push_back(
        {"defender_evidence", "mde:" + id + ":h" + std::to_string(i), i % 3 == 0 ? "done" : "new",
         Payload(id, "Suspicious file downloaded", "invoice.exe", "h" + std::to_string(i)), "",
         clock_.Now()});
  }
  ASSERT_TRUE(store_->InsertJobs(jobs));
  const auto start = std::chrono::steady_clock::now();
  auto res = client_->Get("/status");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(res->body.size(), 150'000u);
  EXPECT_LT(took, std::chrono::seconds(2)) << "Debug build, shared machine: a generous bound";
  std::regex row("<tr class=\"job\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(res->body.begin(), res->body.end(), row),
                          std::sregex_iterator()),
            kStatusRecentJobs);
  EXPECT_NE(res->body.find(">alert-19999<"), std::string::npos) << "newest first";
  EXPECT_NE(res->body.find(">20000<"), std::string::npos) << "the total counts every job";
}

TEST_F(OpsServerTest, ATakenPortIsAClearErrorAndBindsNothing) {
  OpsSources sources;
  sources.store = store_.get();
  sources.clock = &clock_;
  sources.readiness = [] { return std::vector<ReadinessCheck>{}; };
  OpsServer second(ListenAddress{"127.0.0.1", server_->port()}, sources, metrics_);
  auto started = second.Start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("already in use"), std::string::npos)
      << started.error().message;
  EXPECT_NE(started.error().message.find("ops.listen"), std::string::npos);
  EXPECT_NE(started.error().message.find(std::to_string(server_->port())), std::string::npos);
  // The first listener is untouched.
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(OpsServerTest, StopsPromptlyAndFreesThePort) {
  const int port = server_->port();
  server_->Stop();
  OpsSources sources;
  sources.store = store_.get();
  sources.clock = &clock_;
  sources.readiness = [] { return std::vector<ReadinessCheck>{}; };
  OpsServer again(ListenAddress{"127.0.0.1", port}, sources, metrics_);
  ASSERT_TRUE(again.Start());
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace vc::server
