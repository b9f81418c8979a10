// The incident URL detonation against the emulators: VMRay, Entra and Sentinel (management
// API and STIX upload) in process, a real SQLite store in a temporary directory, one
// ManualClock, and the job engine run on the test thread (RunUntilIdle), so analysis polling
// and Retry-After waits take no real time.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/incidents.hpp"
#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "emulator_set.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "jobs/scheduler.hpp"
#include "pipelines/sentinel_incidents/incident_comment.hpp"
#include "pipelines/sentinel_incidents/incident_jobs.hpp"
#include "pipelines/sentinel_incidents/intake.hpp"
#include "pipelines/sentinel_incidents/ioc_upload.hpp"
#include "pipelines/sentinel_incidents/url_filter.hpp"
#include "store/store.hpp"

namespace vc::sentinel_incidents::testing {

inline constexpr const char* kWorkspaceId = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
inline constexpr const char* kArm = "https://management.azure.com";

class IncidentTest : public ::testing::Test {
 protected:
  IncidentTest()
      : clock_(*ParseIso8601("2026-03-01T12:00:00Z")),
        random_(11),
        emulators_(std::make_unique<emu::EmulatorSet>(emu::EmulatorSetOptions{}, clock_)) {}

  void SetUp() override {
    emulators_->Start();
    dir_ = std::filesystem::temp_directory_path() / ("vc-incidents-" + DefaultRandom().HexToken(6));
    std::filesystem::create_directories(dir_);
    transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    const auto& e = emulators_->entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators_->entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    http::ServicePipelineOptions token_pipe;
    token_pipe.user_agent = "vc-test";
    tokens_ = std::make_shared<auth::EntraTokenCache>(
        entra, http::MakeServicePipeline(token_pipe, transport_, clock_, random_), clock_);
    options_.allowed_domains = ParseAllowedDomains(std::string_view("example.com, contoso.com"));
    options_.analysis_poll_interval = Millis(30'000);
    options_.vmray_base_url = "https://eu.cloud.vmray.com";
    options_.workspace_name = "myWorkspace";
    Open();
  }

  void TearDown() override {
    Close();
    emulators_->Stop();
    for (const auto& a : emulators_->AssertionFailures()) ADD_FAILURE() << a;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A new pipeline instance on the same store file: what a restart builds.
  void Open(int sentinel_retries = 2) {
    store::SqliteOptions so;
    so.path = (dir_ / "store.db").string();
    so.synchronous_full = false;
    auto s = store::OpenSqliteStore(so, clock_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->ReleaseLeases(""));

    http::ServicePipelineOptions vmray_pipe;
    vmray_pipe.user_agent = "vc-test";
    vmray_pipe.retry.max_retries = 2;
    vmray_pipe.credential = std::make_shared<auth::ApiKeyCredential>(
        Secret<>(std::string(emu::VmrayEmulator::kDefaultApiKey)));
    vmray_ = std::make_unique<vmray::Client>(
        emulators_->vmray().BaseUrl(),
        http::MakeServicePipeline(vmray_pipe, transport_, clock_, random_));

    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kArm);
    http::ServicePipelineOptions arm_pipe;
    arm_pipe.user_agent = "vc-test";
    arm_pipe.retry.max_retries = sentinel_retries;
    arm_pipe.credential = credential;
    sentinel::IncidentsOptions io;
    io.base_url = emulators_->sentinel().BaseUrl();
    // The emulator's one workspace (SentinelEmulator::Options defaults).
    const emu::SentinelEmulator::Options workspace;
    io.subscription_id = workspace.subscription_id;
    io.resource_group = workspace.resource_group;
    io.workspace_name = workspace.workspace_name;
    io.page_size = 2;
    incidents_ = std::make_unique<sentinel::IncidentsClient>(
        io, http::MakeServicePipeline(arm_pipe, transport_, clock_, random_));

    sentinel::TiUploadOptions to;
    to.base_url = emulators_->sentinel().BaseUrl();
    to.workspace_id = kWorkspaceId;
    http::ServicePipelineOptions ti_pipe;
    ti_pipe.user_agent = "vc-test";
    ti_pipe.retry.max_retries = 2;
    ti_pipe.retry.retry_statuses = {408, 500, 502, 503, 504};
    ti_pipe.credential = credential;
    uploader_ = std::make_unique<sentinel::TiUploader>(
        to, http::MakeServicePipeline(ti_pipe, transport_, clock_, random_), clock_);

    jobs::SchedulerOptions so2;
    so2.workers = 1;
    scheduler_ = std::make_unique<jobs::Scheduler>(so2, *store_, clock_);
    scheduler_->Register(std::make_shared<IncidentJob>(options_, *incidents_, *store_));
    scheduler_->Register(std::make_shared<UrlJob>(options_, *vmray_));
    scheduler_->Register(std::make_shared<CommentWriter>(*incidents_));
    auto allow = defender::AllowList::Build({});
    ASSERT_TRUE(allow);
    scheduler_->Register(
        std::make_shared<IocUploadWriter>(options_, *vmray_, *uploader_, clock_, *allow));
    intake_ = std::make_unique<IncidentIntake>(options_, *incidents_, *store_, clock_);
  }

  void Close() {
    intake_.reset();
    scheduler_.reset();
    uploader_.reset();
    incidents_.reset();
    vmray_.reset();
    store_.reset();
  }

  // Runs due work, then moves the clock to the next due time, until nothing is open.
  void Drain(int max_rounds = 200) {
    for (int i = 0; i < max_rounds; ++i) {
      scheduler_->RunUntilIdle();
      auto next = store_->NextDueTime();
      ASSERT_TRUE(next);
      if (!*next) return;
      if (**next > clock_.Now()) clock_.Set(**next);
    }
    ADD_FAILURE() << "work still open after " << max_rounds << " rounds";
  }

  // Steps until the URL jobs are analysing (submitted, not finished): a restart point.
  void RunUntilAnalysing() { scheduler_->RunUntilIdle(); }

  static std::string IncidentName(int i) {
    return fmt::format("00000000-0000-4000-8000-{:012}", i);
  }
  // An incident with these URL entities (and one Account entity that is not a URL).
  static Json Incident(int i, const std::vector<std::string>& urls,
                       const std::string& created = "2026-03-01T11:59:00Z") {
    Json entities =
        Json::array({{{"kind", "Account"},
                      {"properties", {{"accountName", "alice"}, {"friendlyName", "alice"}}}}});
    for (const auto& u : urls)
      entities.push_back({{"kind", "Url"}, {"properties", {{"url", u}, {"friendlyName", u}}}});
    return {{"name", IncidentName(i)},
            {"properties",
             {{"title", "incident " + std::to_string(i)},
              {"severity", "Medium"},
              {"status", "New"},
              {"createdTimeUtc", created}}},
            {"entities", entities}};
  }
  void SeedIncidents(const Json& incidents, const Json& vmray_verdicts = Json::object()) {
    Json seed = {{"sentinel", {{"incidents", incidents}}}};
    if (!vmray_verdicts.empty()) seed["vmray"] = {{"verdicts", vmray_verdicts}};
    auto problem = emulators_->Seed(seed);
    ASSERT_FALSE(problem) << *problem;
  }
  Json IncidentState(int i) {
    // The state in a variable: a range-for over a member of the temporary would read freed memory.
    const Json state = emulators_->sentinel().StateJson();
    for (const auto& inc : state["incidents"]) {
      if (inc["name"] == IncidentName(i)) return inc;
    }
    ADD_FAILURE() << "no incident " << i;
    return Json::object();
  }
  std::vector<std::string> Comments(int i) {
    std::vector<std::string> out;
    const Json incident = IncidentState(i);
    for (const auto& c : incident["comments"])
      out.push_back(c["properties"]["message"].get<std::string>());
    return out;
  }
  // VMRay submissions the emulator received, as {url, tags}.
  std::vector<Json> VmraySubmissions() {
    std::vector<Json> out;
    const Json state = emulators_->vmray().StateJson();
    for (const auto& s : state["submissions"]) out.push_back(s);
    return out;
  }
  Result<bool> QueueByName(int i) { return intake_->Queue(IncidentName(i), "", 0); }

  ManualClock clock_;
  SeededRandom random_;
  std::unique_ptr<emu::EmulatorSet> emulators_;
  std::filesystem::path dir_;
  std::shared_ptr<http::Transport> transport_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
  IncidentOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<vmray::Client> vmray_;
  std::unique_ptr<sentinel::IncidentsClient> incidents_;
  std::unique_ptr<sentinel::TiUploader> uploader_;
  std::unique_ptr<jobs::Scheduler> scheduler_;
  std::unique_ptr<IncidentIntake> intake_;
};

}  // namespace vc::sentinel_incidents::testing
