// The TI feed against the emulators: VMRay, Entra and the Sentinel STIX upload API in process,
// a real SQLite store in a temporary directory, and one ManualClock for all of them, so pacing
// at 100 requests/min, Retry-After waits and token expiry take no real time.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "emulator_set.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "pipelines/sentinel_feed/feed_runner.hpp"
#include "pipelines/sentinel_feed/stix_mapping.hpp"
#include "store/store.hpp"

namespace vc::sentinel_feed::testing {

inline constexpr const char* kWorkspace = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";

class FeedTest : public ::testing::Test {
 protected:
  FeedTest()
      : clock_(*ParseIso8601("2026-03-01T12:00:00Z")),
        random_(7),
        emulators_(std::make_unique<emu::EmulatorSet>(Options(), clock_)) {}

  // Pages of two submissions, so every feed test walks continuation ids.
  static emu::EmulatorSetOptions Options() {
    emu::EmulatorSetOptions o;
    o.vmray.page_size = 2;
    return o;
  }

  void SetUp() override {
    emulators_->Start();
    dir_ = std::filesystem::temp_directory_path() / ("vc-feed-" + DefaultRandom().HexToken(6));
    std::filesystem::create_directories(dir_);
    OpenStore();
    transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    auth::EntraOptions entra;
    entra.authority_host = emulators_->entra().BaseUrl();
    entra.tenant_id = "6f1b2c3d-0000-4000-8000-00000000e1e1";
    entra.client_id = "6f1b2c3d-0000-4000-8000-0000000c1e17";
    entra.client_secret = Secret<>(std::string("emu-client-secret-DO-NOT-LOG"));
    http::ServicePipelineOptions token_pipe;
    token_pipe.user_agent = "vc-test";
    tokens_ = std::make_shared<auth::EntraTokenCache>(
        entra, http::MakeServicePipeline(token_pipe, transport_, clock_, random_), clock_);
    http::ServicePipelineOptions vmray_pipe;
    vmray_pipe.user_agent = "vc-test";
    vmray_pipe.retry.max_retries = 2;
    vmray_pipe.credential = std::make_shared<auth::ApiKeyCredential>(
        Secret<>(std::string(emu::VmrayEmulator::kDefaultApiKey)));
    vmray_ = std::make_unique<vmray::Client>(
        emulators_->vmray().BaseUrl(),
        http::MakeServicePipeline(vmray_pipe, transport_, clock_, random_));
    MakeUploader(sentinel::TiUploadOptions{});
  }

  void TearDown() override {
    runner_.reset();
    uploader_.reset();
    store_.reset();
    emulators_->Stop();
    for (const auto& a : emulators_->AssertionFailures()) ADD_FAILURE() << a;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void OpenStore() {
    store_.reset();
    store::SqliteOptions so;
    so.path = (dir_ / "store.db").string();
    so.synchronous_full = false;
    auto s = store::OpenSqliteStore(so, clock_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  void MakeUploader(sentinel::TiUploadOptions o, int sentinel_retries = 2) {
    o.base_url = emulators_->sentinel().BaseUrl();
    o.workspace_id = kWorkspace;
    http::ServicePipelineOptions pipe;
    pipe.user_agent = "vc-test";
    pipe.retry.max_retries = sentinel_retries;
    pipe.retry.retry_statuses = {408, 500, 502, 503, 504};  // the uploader waits out 429s
    pipe.credential =
        std::make_shared<auth::EntraCredential>(tokens_, "https://management.azure.com");
    uploader_ = std::make_unique<sentinel::TiUploader>(
        o, http::MakeServicePipeline(pipe, transport_, clock_, random_), clock_);
  }

  FeedRunner& Runner(FeedOptions o = {}) {
    if (o.vmray_base_url.empty()) o.vmray_base_url = "https://eu.cloud.vmray.com";
    auto r = FeedRunner::Create(o, *vmray_, *uploader_, *store_, clock_);
    EXPECT_TRUE(r) << r.error().ToString();
    runner_ = std::move(*r);
    return *runner_;
  }

  void Seed(const Json& vmray_samples) {
    auto problem = emulators_->Seed({{"vmray", {{"samples", vmray_samples}}}});
    ASSERT_FALSE(problem) << *problem;
  }

  // A finished sample with these IOC families, analysed at `at` (VMRay time).
  static Json Sample(int n, const std::string& verdict, const std::string& at, Json iocs) {
    char sha[65];
    std::snprintf(sha, sizeof sha, "%064x", n);
    return {{"sha256", sha}, {"verdict", verdict}, {"analysed_at", at}, {"iocs", std::move(iocs)}};
  }
  // The VMRay id of the sample Sample(n, ...) seeded.
  int64_t SampleId(int n) {
    char sha[65];
    std::snprintf(sha, sizeof sha, "%064x", n);
    const Json state = emulators_->vmray().StateJson();
    for (const auto& s : state["samples"]) {
      if (s["sha256"] == std::string(sha)) return s["id"].get<int64_t>();
    }
    ADD_FAILURE() << "no seeded sample " << n;
    return 0;
  }
  // The checkpoint is the run's start, whole seconds (the clock moves while the run sleeps).
  void ExpectCheckpointAt(const std::string& at) {
    auto v = store_->GetCursor(std::string(kCheckpointCursor));
    ASSERT_TRUE(v && *v);
    auto t = ParseIso8601(**v);
    ASSERT_TRUE(t) << **v;
    EXPECT_GE(*t, *ParseIso8601(at)) << **v;
    EXPECT_LE(*t, clock_.Now()) << **v;
  }
  static Json Domain(const std::string& d, const std::string& verdict = "malicious") {
    return {{"domain", d}, {"verdict", verdict}, {"ioc_type", "domain"}};
  }

  std::map<std::string, Json> Objects() { return emulators_->sentinel().Objects(); }
  std::string Cursor(std::string_view name) {
    auto v = store_->GetCursor(std::string(name));
    EXPECT_TRUE(v);
    return v && *v ? **v : "";
  }

  ManualClock clock_;
  SeededRandom random_;
  std::unique_ptr<emu::EmulatorSet> emulators_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<http::Transport> transport_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<vmray::Client> vmray_;
  std::unique_ptr<sentinel::TiUploader> uploader_;
  std::unique_ptr<FeedRunner> runner_;
};

}  // namespace vc::sentinel_feed::testing
