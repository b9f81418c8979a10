// Shared pieces of the Defender pipeline fault tests: a fixture with the harness on a
// ManualClock, a driver that jumps the clock to the next due job or write-back (so a day of
// waiting for a device costs a handful of steps), readers of the emulators' state, and the
// connector's own clients for simulating work a crashed process had already sent out.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "auth/entra_token_cache.hpp"
#include "clients/defender/client.hpp"
#include "clients/vmray/client.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "support/harness.hpp"

namespace vc::testing {

inline constexpr const char* kDownloads = "C:\\Users\\alice\\Downloads\\";
inline constexpr const char* kCrashedWorker = "crashed-worker";
inline constexpr const char* kSecretMarker = "DO-NOT-LOG";

using Hours = std::chrono::hours;
using Minutes = std::chrono::minutes;
using Seconds = std::chrono::seconds;

class PipelineTest : public ::testing::Test {
 protected:
  // Call before anything touches h() to start the emulators with other options.
  void UseEmulatorOptions(emu::EmulatorSetOptions options) {
    ASSERT_FALSE(h_) << "emulators already started";
    options_ = std::move(options);
  }

  Harness& h() {
    if (!h_) h_ = std::make_unique<Harness>(clock_, options_);
    return *h_;
  }
  emu::VmrayEmulator& vmray() { return h().emulators().vmray(); }
  emu::MdeEmulator& mde() { return h().emulators().mde(); }
  emu::EntraEmulator& entra() { return h().emulators().entra(); }

  // ---- seeds ----------------------------------------------------------------------------------

  // An EDR alert for a file in the Downloads folder, created now on the test clock.
  Json Alert(const std::string& id, const std::string& sha256,
             const std::string& file_name = "dropper.exe",
             const std::string& detection_source = "WindowsDefenderAtp") {
    return AlertJson(id, kMachineId, sha256, file_name, detection_source, clock_.Now());
  }
  // The device with these files (name in the Downloads folder -> content).
  static Json Device(const std::vector<std::pair<std::string, std::string>>& files,
                     bool offline = false) {
    std::vector<std::pair<std::string, std::string>> paths;
    for (const auto& [name, content] : files) paths.emplace_back(kDownloads + name, content);
    return MachineJson(kMachineId, paths, offline);
  }
  void SeedMde(const std::vector<Json>& alerts, const Json& machine) {
    h().Seed({{"mde", {{"alerts", alerts}, {"machines", Json::array({machine})}}}});
  }
  // A sample VMRay knows, analysed `age` ago.
  void SeedVmraySample(const std::string& sha256, const std::string& verdict, Millis age) {
    h().Seed(
        {{"vmray",
          {{"samples", Json::array({{{"sha256", sha256},
                                     {"verdict", verdict},
                                     {"analysed_at", FormatVmrayTime(clock_.Now() - age)}}})}}}});
  }

  // A fault rule; the caller sets the rest (status, body, retry_after, ...).
  static emu::FaultRule Fault(const std::string& method, const std::string& path_regex,
                              int status = 503, int times = 1) {
    emu::FaultRule r;
    r.method = method;
    r.path_regex = path_regex;
    r.status = status;
    r.times = times;
    return r;
  }

  // VMRay answers a submission with HTTP 200 and a soft error: nothing created, `message` said.
  static emu::FaultRule SoftSubmitError(const std::string& message) {
    emu::FaultRule refused = Fault("POST", "^/rest/sample/submit$", 200);
    refused.body =
        Json{{"result", "ok"},
             {"data",
              {{"errors",
                Json::array({{{"error_msg", message}, {"submission_filename", "dropper.exe"}}})},
               {"jobs", Json::array()},
               {"samples", Json::array()},
               {"submissions", Json::array()}}}}
            .dump();
    return refused;
  }

  // ---- driving --------------------------------------------------------------------------------

  // Earliest next attempt of any open job or pending write-back.
  std::optional<TimePoint> NextDue(app::Daemon& d) {
    std::optional<TimePoint> next;
    auto take = [&](TimePoint t) {
      if (!next || t < *next) next = t;
    };
    auto jobs = d.store().ListJobs({"", "", false, "", 100000});
    if (jobs) {
      for (const auto& j : *jobs) take(j.next_attempt_at);
    }
    auto items = d.store().ListOutbox(0);
    if (items) {
      for (const auto& i : *items) {
        if (i.state == "pending") take(i.next_attempt_at);
      }
    }
    return next;
  }

  // Jumps the clock to the next due work (at least `min_step`); false when nothing is open.
  bool AdvanceToNextDue(app::Daemon& d, Millis min_step = Millis(1)) {
    auto next = NextDue(d);
    if (!next) return false;
    clock_.Set(std::max(*next, clock_.Now() + min_step));
    return true;
  }

  // Like Harness::Drive, but jumps over idle time: one poll (unless `poll` is false), then all
  // due work, then the clock moves to the next due item, until every job is final or `budget`
  // of simulated time is spent. Returns whether it settled.
  bool Run(app::Daemon& d, Millis budget = Hours(2), bool poll = true) {
    if (poll) (void)d.PollAlerts();
    const TimePoint end = clock_.Now() + budget;
    for (int round = 0; round < 100000; ++round) {
      d.scheduler().RunUntilIdle();
      auto settled = d.Settled();
      if (settled && *settled) return true;
      auto next = NextDue(d);
      if (!next || *next > end) {
        clock_.Set(std::max(clock_.Now(), end));
        return false;
      }
      clock_.Set(std::max(*next, clock_.Now() + Millis(1)));
    }
    return false;
  }

  // Runs due work one batch at a time (each due job one step) until `done` holds, jumping the
  // clock when idle. Returns whether `done` came true within `budget`.
  bool StepUntil(app::Daemon& d, const std::function<bool()>& done, Millis budget = Hours(2)) {
    const TimePoint end = clock_.Now() + budget;
    for (int round = 0; round < 100000; ++round) {
      if (done()) return true;
      if (d.scheduler().RunUntilIdle(1) > 0) continue;
      auto next = NextDue(d);
      if (!next || *next > end) return done();
      clock_.Set(std::max(*next, clock_.Now() + Millis(1)));
    }
    return false;
  }

  // Leases every due job and write-back for a worker that then dies: the state a kill -9 in
  // the middle of those steps leaves behind. Returns the leased jobs.
  std::vector<store::Job> CrashMidStep(app::Daemon& d) {
    auto items = d.store().LeaseDueOutbox(clock_.Now(), kCrashedWorker, Minutes(5), 1000);
    EXPECT_TRUE(items) << items.error().ToString();
    auto jobs = d.store().LeaseDueJobs(clock_.Now(), kCrashedWorker, Minutes(5), 1000);
    EXPECT_TRUE(jobs) << jobs.error().ToString();
    return jobs ? *jobs : std::vector<store::Job>{};
  }

  // ---- reading state --------------------------------------------------------------------------

  std::optional<store::Job> FindJob(app::Daemon& d, const std::string& key) {
    auto job = d.store().GetJobByKey(key);
    if (!job || !*job) return std::nullopt;
    return **job;
  }
  store::Job JobOf(app::Daemon& d, const std::string& key) {
    auto job = FindJob(d, key);
    if (!job) {
      ADD_FAILURE() << "no job " << key;
      return {};
    }
    return *job;
  }
  std::vector<store::Job> AllJobs(app::Daemon& d) {
    auto jobs = d.store().ListJobs({"", "", std::nullopt, "", 100000});
    EXPECT_TRUE(jobs);
    return jobs ? *jobs : std::vector<store::Job>{};
  }
  std::vector<store::OutboxItem> OutboxOf(app::Daemon& d, int64_t job_id) {
    auto items = d.store().ListOutbox(job_id);
    EXPECT_TRUE(items);
    return items ? *items : std::vector<store::OutboxItem>{};
  }

  Json MdeAlert(const std::string& id) {
    const Json state = mde().StateJson();  // a range-for over a temporary's member dangles
    for (const auto& a : state["alerts"]) {
      if (a["id"] == id) return a;
    }
    ADD_FAILURE() << "no alert " << id << " in the MDE emulator";
    return Json::object();
  }
  Json Comments(const std::string& alert_id) {
    Json alert = MdeAlert(alert_id);
    return alert.contains("comments") ? alert["comments"] : Json::array();
  }
  std::string OnlyComment(const std::string& alert_id) {
    Json comments = Comments(alert_id);
    EXPECT_EQ(comments.size(), 1u) << alert_id << ": " << comments.dump();
    return comments.empty() ? std::string() : comments[0]["comment"].get<std::string>();
  }

  static std::vector<emu::CallRecord> CallsTo(const emu::EmulatorServer& server,
                                              const std::string& method,
                                              const std::string& path_regex) {
    std::regex re(path_regex);
    std::vector<emu::CallRecord> out;
    for (auto& c : server.Calls()) {
      if ((method.empty() || c.method == method) && std::regex_match(c.path, re)) out.push_back(c);
    }
    return out;
  }
  std::vector<emu::CallRecord> Lookups(const std::string& sha256) {
    return CallsTo(vmray(), "GET", "/rest/sample/sha256/" + sha256);
  }
  size_t SubmitCalls() { return vmray().CountCalls("POST", "/rest/sample/submit"); }
  size_t LiveResponseCalls() { return mde().CountCalls("POST", ".*/runliveresponse"); }
  size_t CommentCalls() { return mde().CountCalls("PATCH", "/api/alerts/.*"); }
  // Submissions VMRay stored for this file (seeded ones included).
  size_t StoredSubmissions(const std::string& sha256) {
    size_t n = 0;
    const Json state = vmray().StateJson();
    for (const auto& s : state["submissions"]) n += s["sha256"] == sha256 ? 1 : 0;
    return n;
  }
  // Live Response actions the connector asked for about this file.
  std::vector<Json> CollectionsOf(const std::string& sha256) {
    std::vector<Json> out;
    const Json state = mde().StateJson();
    for (const auto& a : state["machine_actions"]) {
      if (a["type"] == "LiveResponse" &&
          a["requestorComment"] == "VMRay Connector File Acquisition Job for " + sha256) {
        out.push_back(a);
      }
    }
    return out;
  }

  void ExpectNoEmulatorAssertions() {
    const auto failures = h().emulators().AssertionFailures();
    EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  }

  // ---- the connector's own clients (to act as a process that crashed after sending) ---------

  std::unique_ptr<vmray::Client> VmrayClient() {
    http::ServicePipelineOptions o;
    o.user_agent = "pipeline-test";
    o.credential = std::make_shared<auth::ApiKeyCredential>(
        Secret<>(std::string(emu::VmrayEmulator::kDefaultApiKey)));
    return std::make_unique<vmray::Client>(
        vmray().BaseUrl(), http::MakeServicePipeline(o, Transport(), clock_, DefaultRandom()));
  }
  std::unique_ptr<mde::Client> MdeClient() {
    const auto& e = entra().options();
    auth::EntraOptions entra_options;
    entra_options.authority_host = entra().BaseUrl();
    entra_options.tenant_id = e.tenant_id;
    entra_options.client_id = e.client_id;
    entra_options.client_secret = Secret<>(e.client_secret);
    http::ServicePipelineOptions token_pipe;
    token_pipe.user_agent = "pipeline-test";
    auto tokens = std::make_shared<auth::EntraTokenCache>(
        entra_options, http::MakeServicePipeline(token_pipe, Transport(), clock_, DefaultRandom()),
        clock_);
    http::ServicePipelineOptions api = token_pipe;
    api.credential =
        std::make_shared<auth::EntraCredential>(tokens, "https://api.securitycenter.microsoft.com");
    return std::make_unique<mde::Client>(
        mde().BaseUrl(), http::MakeServicePipeline(api, Transport(), clock_, DefaultRandom()),
        http::MakeServicePipeline(token_pipe, Transport(), clock_, DefaultRandom()));
  }

  // ---- files ----------------------------------------------------------------------------------

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // On a whole millisecond, as the store and the emulators' call log keep times.
  ManualClock clock_{std::chrono::floor<Millis>(std::chrono::system_clock::now())};

 private:
  std::shared_ptr<http::Transport> Transport() {
    if (!transport_) transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    return transport_;
  }

  emu::EmulatorSetOptions options_;
  std::unique_ptr<Harness> h_;
  // After h_: its pooled keep-alive connections must close before the emulators stop, or each
  // server waits out its read timeout.
  std::shared_ptr<http::Transport> transport_;
};

}  // namespace vc::testing
