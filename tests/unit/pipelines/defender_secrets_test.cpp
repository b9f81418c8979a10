// After a run through faults on every service, no secret (they all carry DO-NOT-LOG) is in the
// log, the store's files, any job or write-back reason, any comment or the metrics; and every
// failed call the connector logged names the service's request id.
#include <regex>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "pipeline_test_support.hpp"

namespace vc::testing {
namespace {

std::string RequestIdIn(const std::string& text) {
  std::smatch m;
  static const std::regex kId("request-id=([0-9a-fA-F-]{8,})");
  return std::regex_search(text, m, kId) ? m[1].str() : std::string();
}

class DefenderSecrets : public PipelineTest {
 protected:
  void SetUp() override {
    log_path_ = h().dir() + "/connector.log";
    InitLogging({LogFormat::kText, "debug", log_path_});
  }
  void TearDown() override { InitLogging({}); }  // later tests in this process log to stderr

  std::string log_path_;
};

TEST_F(DefenderSecrets, NoSecretAnywhereAfterARunThroughFaults) {
  const std::string content = std::string("MZ secret keeper ") + kEicar;
  const std::string sha = Sha256Hex(content);
  const std::string known = Sha256Hex("MZ already analysed");
  SeedVmraySample(known, "suspicious", Hours(3));
  SeedMde({Alert("a1", sha), Alert("a2", known, "tool.exe")}, Device({{"dropper.exe", content}}));
  h().Seed({{"mde", {{"denied_permissions", Json::array({"Alert.ReadWrite.All"})}}}});
  entra().AddFault(Fault("POST", ".*/token", 503));
  vmray().AddFault(Fault("GET", "^/rest/sample/sha256/", 503));
  emu::FaultRule throttle = Fault("POST", ".*/runliveresponse$", 429);
  throttle.retry_after = "90";
  mde().AddFault(throttle);
  emu::FaultRule drop = Fault("POST", "^/rest/sample/submit$");
  drop.drop_connection = true;
  vmray().AddFault(drop);

  // First with a VMRay key that VMRay rejects (it must not leak through the error path).
  {
    auto d = h().OpenDaemon({{"VmrayAPIKey", "rejected-vmray-key-DO-NOT-LOG"}});
    EXPECT_FALSE(Run(*d, Hours(1)));
    EXPECT_NE(JobOf(*d, "mde:a1:" + sha).reason.find("check VmrayAPIKey"), std::string::npos);
  }

  auto d = h().OpenDaemon();
  (void)d->PollAlerts();
  ASSERT_TRUE(StepUntil(*d, [&] { return LiveResponseCalls() == 1; }));
  const std::string throttled = JobOf(*d, "mde:a1:" + sha).reason;
  const std::string throttled_id = RequestIdIn(throttled);
  EXPECT_FALSE(throttled_id.empty()) << throttled;

  EXPECT_FALSE(Run(*d, Hours(2), /*poll=*/false)) << "the comment is still not allowed";
  const store::Job blocked = JobOf(*d, "mde:a2:" + known);
  const auto items = OutboxOf(*d, blocked.id);
  ASSERT_EQ(items.size(), 1u);
  const std::string denied_id = RequestIdIn(items[0].reason);
  EXPECT_FALSE(denied_id.empty()) << items[0].reason;

  h().Seed({{"mde", {{"denied_permissions", Json::array()}}}});
  ASSERT_TRUE(Run(*d, Hours(2)));
  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(JobOf(*d, "mde:a2:" + known).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(Comments("a2").size(), 1u);

  // Everything the connector keeps or hands out.
  for (const auto& job : AllJobs(*d)) {
    EXPECT_EQ(job.reason.find(kSecretMarker), std::string::npos) << job.reason;
    EXPECT_EQ(job.payload.find(kSecretMarker), std::string::npos) << job.payload;
  }
  for (const auto& item : OutboxOf(*d, 0)) {
    EXPECT_EQ(item.reason.find(kSecretMarker), std::string::npos) << item.reason;
    EXPECT_EQ(item.payload.find(kSecretMarker), std::string::npos) << item.payload;
  }
  for (const char* alert : {"a1", "a2"}) {
    EXPECT_EQ(Comments(alert).dump().find(kSecretMarker), std::string::npos) << alert;
  }
  EXPECT_EQ(Metrics::Global().Serialize().find(kSecretMarker), std::string::npos);
  d.reset();  // closes the store: its WAL is folded into the file

  spdlog::default_logger()->flush();
  const std::string log = ReadFile(log_path_);
  // The log saw the traffic the secrets travelled with, at debug level.
  EXPECT_NE(log.find("http entra POST"), std::string::npos);
  EXPECT_NE(log.find("http vmray GET"), std::string::npos);
  EXPECT_NE(log.find("-> 401"), std::string::npos) << "the rejected key's calls are logged";
  EXPECT_NE(log.find("request-id=" + throttled_id), std::string::npos)
      << "the throttled Live Response start is logged with MDE's request id";
  EXPECT_NE(log.find("request-id=" + denied_id), std::string::npos)
      << "the refused comment is logged with MDE's request id";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(h().dir())) {
    const std::string bytes = ReadFile(entry.path().string());
    EXPECT_EQ(bytes.find(kSecretMarker), std::string::npos) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 2u) << "the store and the log were checked";
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
