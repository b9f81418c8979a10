// The MDE response action calls (clients/defender/response_actions.hpp) against the MDE and
// Entra emulators, wired as the daemon wires them: the body of each call read back from the
// call log, the MachineAction answered, the device id encoded into the path, and the faults a
// caller has to tell apart (missing permission, unknown device, an action already pending, a
// request the client must not send).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/defender/response_actions.hpp"
#include "contract/contract_support.hpp"
#include "http/rate_limiter.hpp"

namespace vc::contract {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr const char* kResource = "https://api.securitycenter.microsoft.com";
constexpr const char* kMachine = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378";

class MdeResponseActionsContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
    const auto& e = emulators().entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators().entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    tokens_ = std::make_shared<auth::EntraTokenCache>(entra, MakePipeline({}, kUserAgent, nullptr),
                                                      clock_);
    auto limiters = std::make_shared<http::RateLimiterRegistry>(clock_);
    http::DefineMdeLimits(*limiters);
    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kResource);
    client_ = std::make_unique<mde::Client>(mde().BaseUrl(),
                                            MakePipeline({}, kMdeUserAgent, credential, limiters),
                                            MakePipeline({}, kMdeUserAgent, nullptr));
    api_ = std::make_unique<mde::ResponseActionApi>(*client_);
    Seed({{"mde", {{"machines", {{{"id", kMachine}, {"computerDnsName", "alice-laptop"}}}}}}});
  }
  void TearDown() override {
    api_.reset();
    client_.reset();
    tokens_.reset();
    ContractTest::TearDown();
  }
  emu::MdeEmulator& mde() { return emulators().mde(); }

  static mde::ResponseActionRequest Req(mde::ResponseAction action, std::string scope = "",
                                        std::string sha1 = "") {
    mde::ResponseActionRequest r;
    r.action = action;
    r.machine_id = kMachine;
    r.comment = "Isolate machine based on VMRay Analyzer Report (VMRay verdict: malicious)";
    r.scope = std::move(scope);
    r.sha1 = std::move(sha1);
    return r;
  }
  // The one POST to this action's path, with its body parsed.
  Json OnlyBody(const std::string& path_tail) {
    auto calls = CallsTo(mde(), "POST", std::string("/api/machines/") + kMachine + "/" + path_tail);
    EXPECT_THAT(calls, SizeIs(1));
    if (calls.empty()) return Json();
    EXPECT_EQ(calls[0].status, 201);
    EXPECT_EQ(calls[0].auth, "Bearer");
    EXPECT_THAT(calls[0].content_type, HasSubstr("application/json"));
    return Json::parse(calls[0].body);
  }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<mde::Client> client_;
  std::unique_ptr<mde::ResponseActionApi> api_;
};

TEST_F(MdeResponseActionsContractTest, IsolateSendsCommentAndIsolationType) {
  auto a = api_->Request(Req(mde::ResponseAction::kIsolate, "Selective"));
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->type, "Isolate");
  EXPECT_EQ(a->scope, "Selective");
  EXPECT_EQ(a->status, "Pending");
  EXPECT_EQ(a->machine_id, kMachine);
  EXPECT_THAT(a->id, SizeIs(36));
  EXPECT_EQ(OnlyBody("isolate"), (Json{{"Comment", Req(mde::ResponseAction::kIsolate).comment},
                                       {"IsolationType", "Selective"}}));
}

TEST_F(MdeResponseActionsContractTest, ScanSendsScanType) {
  auto a = api_->Request(Req(mde::ResponseAction::kAntivirusScan, "Quick"));
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->type, "RunAntiVirusScan");
  EXPECT_EQ(a->scope, "Quick");
  const Json body = OnlyBody("runAntiVirusScan");
  EXPECT_EQ(body["ScanType"], "Quick");
  EXPECT_EQ(body.size(), 2u) << body.dump();
}

TEST_F(MdeResponseActionsContractTest, StopAndQuarantineSendsTheSha1) {
  const std::string sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
  auto a = api_->Request(Req(mde::ResponseAction::kStopAndQuarantineFile, "", sha1));
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->type, "StopAndQuarantineFile");
  EXPECT_EQ(a->related_file, sha1);
  const Json body = OnlyBody("StopAndQuarantineFile");
  EXPECT_EQ(body["Sha1"], sha1);
  EXPECT_EQ(body.size(), 2u) << body.dump();
}

TEST_F(MdeResponseActionsContractTest, InvestigationPackageSendsOnlyTheComment) {
  auto a = api_->Request(Req(mde::ResponseAction::kCollectInvestigationPackage));
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->type, "CollectInvestigationPackage");
  EXPECT_EQ(OnlyBody("collectInvestigationPackage"),
            (Json{{"Comment", Req(mde::ResponseAction::kIsolate).comment}}));
}

TEST_F(MdeResponseActionsContractTest, CommentWithQuotesAndNewlinesStaysOneJsonString) {
  auto r = Req(mde::ResponseAction::kCollectInvestigationPackage);
  r.comment = "a \"quoted\" }, \"IsolationType\": \"Full\"\nline";
  ASSERT_TRUE(api_->Request(r));
  const Json body = OnlyBody("collectInvestigationPackage");
  EXPECT_EQ(body, (Json{{"Comment", r.comment}}));
}

TEST_F(MdeResponseActionsContractTest, DeviceIdIsEncodedIntoThePath) {
  // A space and a '#' unencoded would break the URL (or cut it at the fragment); encoded, the
  // whole id arrives as one path segment and names an unknown device.
  auto r = Req(mde::ResponseAction::kIsolate, "Full");
  r.machine_id = "dev ice#1";
  auto a = api_->Request(r);
  ASSERT_FALSE(a);
  EXPECT_EQ(Seen(a.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(a.error().message, HasSubstr("Machine dev ice#1 was not found"));
  ASSERT_THAT(CallsTo(mde(), "POST", ".*/isolate$"), SizeIs(1));
}

TEST_F(MdeResponseActionsContractTest, MissingPermissionIsPermissionDeniedAndNamesIt) {
  Seed({{"mde", {{"denied_permissions", {"Machine.Isolate"}}}}});
  auto a = api_->Request(Req(mde::ResponseAction::kIsolate, "Full"));
  ASSERT_FALSE(a);
  EXPECT_EQ(Seen(a.error()).code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(a.error().http_status, 403);
  EXPECT_THAT(a.error().message, HasSubstr("Machine.Isolate"));
  EXPECT_THAT(a.error().request_id, SizeIs(36));
}

TEST_F(MdeResponseActionsContractTest, UnknownDeviceIsNotFound) {
  auto r = Req(mde::ResponseAction::kAntivirusScan, "Full");
  r.machine_id = "0000000000000000000000000000000000000000";
  auto a = api_->Request(r);
  ASSERT_FALSE(a);
  EXPECT_EQ(Seen(a.error()).code, ErrorCode::kNotFound);
  EXPECT_EQ(a.error().service_code, "ResourceNotFound");
}

TEST_F(MdeResponseActionsContractTest, SecondScanWhileOneIsPendingIsActiveRequestAlreadyExists) {
  ASSERT_TRUE(api_->Request(Req(mde::ResponseAction::kAntivirusScan, "Full")));
  auto again = api_->Request(Req(mde::ResponseAction::kAntivirusScan, "Quick"));
  ASSERT_FALSE(again);
  EXPECT_EQ(Seen(again.error()).service_code, "ActiveRequestAlreadyExists");
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  // The POST is not retried by the pipeline: two calls, one action.
  EXPECT_EQ(CallsTo(mde(), "POST", ".*/runAntiVirusScan").size(), 2u);
  EXPECT_EQ(mde().StateJson()["machine_actions"].size(), 1u);
}

TEST_F(MdeResponseActionsContractTest,
       RequestsTheClientCannotSendCorrectlyAreRefusedBeforeAnyCall) {
  auto bad_scope = api_->Request(Req(mde::ResponseAction::kIsolate, "Partial"));
  ASSERT_FALSE(bad_scope);
  EXPECT_EQ(Seen(bad_scope.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad_scope.error().message, HasSubstr("IsolationType"));
  auto no_sha1 = api_->Request(Req(mde::ResponseAction::kStopAndQuarantineFile));
  ASSERT_FALSE(no_sha1);
  EXPECT_THAT(Seen(no_sha1.error()).message, HasSubstr("SHA-1"));
  auto no_comment = Req(mde::ResponseAction::kCollectInvestigationPackage);
  no_comment.comment.clear();
  EXPECT_FALSE(api_->Request(no_comment));
  EXPECT_EQ(CallsTo(mde(), "POST", "/api/machines/.*").size(), 0u);
}

TEST_F(MdeResponseActionsContractTest, ThrottledRequestWaitsRetryAfterWithoutActingTwice) {
  emu::FaultRule busy;
  busy.method = "POST";
  busy.path_regex = ".*/isolate$";
  busy.status = 429;
  busy.retry_after = "7";
  mde().AddFault(busy);
  auto a = api_->Request(Req(mde::ResponseAction::kIsolate, "Full"));
  // A 429 never acted, so the pipeline may repeat the POST after the wait.
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(CallsTo(mde(), "POST", ".*/isolate$").size(), 2u);
  EXPECT_EQ(mde().StateJson()["machine_actions"].size(), 1u);
}

}  // namespace
}  // namespace vc::contract
