// A graceful stop during a backfill at the upload limit: the feed waits up to a minute for its
// next upload slot, and a shutdown must not wait that out. On the real clock (the wait is real
// here), with the uploader paced at 1 request per minute: the second batch of a window waits for
// its slot, RequestStop wakes it, the run ends without an error and the window keeps its
// checkpoint, so the next start repeats it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "auth/entra_token_cache.hpp"
#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "emulator_set.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "pipelines/sentinel_feed/feed_runner.hpp"
#include "store/store.hpp"

namespace vc::sentinel_feed {
namespace {

TEST(FeedStop, ShutdownWakesThePacingWaitAndTheWindowKeepsItsCheckpoint) {
  SystemClock clock;
  SeededRandom random(11);
  emu::EmulatorSet emulators({}, clock);
  emulators.Start();
  const auto dir =
      std::filesystem::temp_directory_path() / ("vc-feed-stop-" + DefaultRandom().HexToken(6));
  std::filesystem::create_directories(dir);
  {
    // One sample with 150 domains: two batches in one window.
    Json domains = Json::array();
    for (int i = 0; i < 150; ++i) {
      domains.push_back(
          {{"domain", fmt::format("host{}.stop.example", i)}, {"verdict", "malicious"}});
    }
    const std::string analysed = FormatIso8601(clock.Now() - std::chrono::hours(2)).substr(0, 19);
    auto problem =
        emulators.Seed({{"vmray",
                         {{"samples", Json::array({{{"sha256", std::string(64, 'c')},
                                                    {"verdict", "malicious"},
                                                    {"analysed_at", analysed},
                                                    {"iocs", {{"domains", domains}}}}})}}}});
    ASSERT_FALSE(problem) << *problem;

    store::SqliteOptions so;
    so.path = (dir / "store.db").string();
    so.synchronous_full = false;
    auto store = store::OpenSqliteStore(so, clock);
    ASSERT_TRUE(store) << store.error().ToString();
    auto transport = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    auth::EntraOptions entra;
    entra.authority_host = emulators.entra().BaseUrl();
    entra.tenant_id = "6f1b2c3d-0000-4000-8000-00000000e1e1";
    entra.client_id = "6f1b2c3d-0000-4000-8000-0000000c1e17";
    entra.client_secret = Secret<>(std::string("emu-client-secret-DO-NOT-LOG"));
    http::ServicePipelineOptions pipe;
    pipe.user_agent = "vc-test";
    auto tokens = std::make_shared<auth::EntraTokenCache>(
        entra, http::MakeServicePipeline(pipe, transport, clock, random), clock);
    http::ServicePipelineOptions vmray_pipe = pipe;
    vmray_pipe.credential = std::make_shared<auth::ApiKeyCredential>(
        Secret<>(std::string(emu::VmrayEmulator::kDefaultApiKey)));
    vmray::Client vmray(emulators.vmray().BaseUrl(),
                        http::MakeServicePipeline(vmray_pipe, transport, clock, random));
    http::ServicePipelineOptions ti_pipe = pipe;
    ti_pipe.retry.retry_statuses = {408, 500, 502, 503, 504};
    ti_pipe.credential =
        std::make_shared<auth::EntraCredential>(tokens, "https://management.azure.com");
    sentinel::TiUploadOptions up;
    up.base_url = emulators.sentinel().BaseUrl();
    up.workspace_id = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
    up.requests_per_minute = 1;  // the second batch waits a whole minute for its slot
    sentinel::TiUploader uploader(up, http::MakeServicePipeline(ti_pipe, transport, clock, random),
                                  clock);
    FeedOptions fo;
    fo.vmray_base_url = "https://eu.cloud.vmray.com";
    fo.initial_fetch_days = 1;
    fo.max_window = Millis(std::chrono::hours(72));  // the whole look-back is one window
    auto runner = FeedRunner::Create(fo, vmray, uploader, **store, clock);
    ASSERT_TRUE(runner) << runner.error().ToString();

    auto run = std::async(std::launch::async, [&] { return (*runner)->RunOnce(); });
    // The first batch is in Sentinel, the second waits for the limiter.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (emulators.sentinel().Objects().size() < 100 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(emulators.sentinel().Objects().size(), 100u);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(run.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
        << "the run should be waiting for its upload slot";
    const auto stop_at = std::chrono::steady_clock::now();
    (*runner)->RequestStop();
    // Woken, not waited out: far less than the minute the slot is away.
    ASSERT_EQ(run.wait_for(std::chrono::seconds(15)), std::future_status::ready);
    EXPECT_LT(std::chrono::steady_clock::now() - stop_at, std::chrono::seconds(15));
    auto summary = run.get();
    ASSERT_TRUE(summary) << summary.error().ToString();
    EXPECT_EQ(summary->windows, 0);
    EXPECT_EQ(emulators.sentinel().CountCalls("POST", ".*:upload$"), 1u);
    EXPECT_EQ(emulators.sentinel().Objects().size(), 100u);
    // No checkpoint: the window was not complete, the next start repeats it.
    auto checkpoint = (*store)->GetCursor(std::string(kCheckpointCursor));
    ASSERT_TRUE(checkpoint);
    EXPECT_FALSE(checkpoint->has_value());
    // Stopped for good: a later upload fails at once instead of waiting.
    auto later = uploader.UploadBatch({Json::object()});
    ASSERT_FALSE(later);
    EXPECT_EQ(later.error().code, ErrorCode::kCancelled);
  }
  emulators.Stop();
  for (const auto& a : emulators.AssertionFailures()) ADD_FAILURE() << a;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace vc::sentinel_feed
