// The Defender for Endpoint client against the MDE and Entra emulators, wired as the daemon wires
// it: an Entra token per attempt, the documented MDE rate limiters, retry with back-off, and a
// separate pipeline without auth for Live Response downloads. Request shapes are read back from
// the emulator's call log; every failure mode is checked for code, retry behaviour and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/defender/client.hpp"
#include "contract/contract_support.hpp"
#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/time.hpp"
#include "http/gzip.hpp"
#include "http/rate_limiter.hpp"

namespace vc::contract {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr const char* kResource = "https://api.securitycenter.microsoft.com";
constexpr const char* kMachine = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378";
constexpr const char* kGuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
constexpr const char* kEvidencePath = "C:\\Users\\alice\\Downloads";
constexpr const char* kEvidenceName = "invoice.exe";

class MdeContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    Start(Json::object());
  }

  void TearDown() override {
    // Its transport holds a keep-alive connection the Entra emulator would wait out on stop.
    tokens_.reset();
    ContractTest::TearDown();
  }

  void Start(const Json& mde_options) {
    emu::EmulatorSetOptions options;
    options.mde = emu::MdeEmulator::Options::FromJson(mde_options);
    StartEmulators(std::move(options));
  }

  // As app/daemon.cpp builds it: token pipeline without auth, API pipeline with the Entra
  // credential and the MDE limiters, download pipeline with neither.
  std::unique_ptr<mde::Client> MakeClient(const ClientSetup& setup = {}) {
    const auto& e = emulators().entra().options();
    auth::EntraOptions entra;
    entra.authority_host = emulators().entra().BaseUrl();
    entra.tenant_id = e.tenant_id;
    entra.client_id = e.client_id;
    entra.client_secret = Secret<>(e.client_secret);
    // The token endpoint keeps the daemon's transport settings: the short timeouts some tests
    // set are meant for the API call under test, not for the token fetched before it.
    ClientSetup token_setup;
    token_setup.retry = setup.retry;
    tokens_ = std::make_shared<auth::EntraTokenCache>(
        entra, MakePipeline(token_setup, kUserAgent, nullptr), clock_);
    auto limiters = std::make_shared<http::RateLimiterRegistry>(clock_);
    http::DefineMdeLimits(*limiters);
    auto credential = std::make_shared<auth::EntraCredential>(tokens_, kResource);
    return std::make_unique<mde::Client>(mde().BaseUrl(),
                                         MakePipeline(setup, kMdeUserAgent, credential, limiters),
                                         MakePipeline(setup, kMdeUserAgent, nullptr));
  }

  emu::MdeEmulator& mde() { return emulators().mde(); }
  emu::EntraEmulator& entra() { return emulators().entra(); }
  size_t TokenRequests() { return entra().CountCalls("POST", ".*/oauth2/v2\\.0/token"); }

  static Json AlertSeed(const std::string& id, const std::string& status,
                        const std::string& severity, const std::string& source, TimePoint created,
                        const std::string& sha256 = "") {
    Json evidence = Json::array();
    if (!sha256.empty()) {
      evidence.push_back({{"entityType", "File"},
                          {"sha256", sha256},
                          {"sha1", Sha1Hex(sha256)},
                          {"fileName", kEvidenceName},
                          {"filePath", kEvidencePath},
                          {"detectionStatus", "Detected"}});
    }
    const std::string t = FormatIso8601(created);
    return {{"id", id},
            {"title", "Suspicious file " + id},
            {"severity", severity},
            {"status", status},
            {"detectionSource", source},
            {"machineId", kMachine},
            {"computerDnsName", "alice-laptop.contoso.com"},
            {"alertCreationTime", t},
            {"lastUpdateTime", t},
            {"evidence", evidence}};
  }

  static Json MachineSeed(const std::string& id, const std::string& path = "",
                          const std::string& content = "", bool offline = false) {
    Json files = Json::object();
    if (!path.empty()) files[path] = Base64Encode(content);
    return {{"id", id},
            {"computerDnsName", "alice-laptop.contoso.com"},
            {"healthStatus", "Active"},
            {"osPlatform", "Windows11"},
            {"offline", offline},
            {"files", files}};
  }

  static std::vector<mde::LiveResponseCommand> GetFile(const std::string& path) {
    return {{"GetFile", {{"Path", path}}}};
  }

  static emu::FaultRule Fault(std::string method, std::string path_regex, int status,
                              int times = 1) {
    emu::FaultRule rule;
    rule.method = std::move(method);
    rule.path_regex = std::move(path_regex);
    rule.status = status;
    rule.times = times;
    return rule;
  }

  Json StateAction(const std::string& id) {
    const Json state = mde().StateJson();
    for (const auto& a : state["machine_actions"]) {
      if (a["id"] == id) return a;
    }
    ADD_FAILURE() << "no machine action " << id << " in the emulator state";
    return Json();
  }

  std::shared_ptr<auth::EntraTokenCache> tokens_;
};

// ---- alerts ---------------------------------------------------------------------------------

TEST_F(MdeContractTest, ListAlertsSendsFilterTopSkipExpandAndPagesWithSkip) {
  const TimePoint now = clock_.Now();
  const std::string sha = Sha256Hex("evidence file");
  Seed({{"mde",
         {{"alerts",
           {AlertSeed("da01_too_old", "New", "High", "WindowsDefenderAtp", now - hours(3), sha),
            AlertSeed("da02", "New", "High", "WindowsDefenderAtp", now - minutes(50), sha),
            AlertSeed("da03", "InProgress", "High", "WindowsDefenderAtp", now - minutes(40)),
            AlertSeed("da04_low", "New", "Low", "WindowsDefenderAtp", now - minutes(30)),
            AlertSeed("da05_resolved", "Resolved", "High", "WindowsDefenderAtp", now - minutes(20)),
            AlertSeed("da06_av", "New", "High", "WindowsDefenderAv", now - minutes(10)),
            AlertSeed("da07", "New", "High", "WindowsDefenderAtp", now - minutes(5), sha)}}}}});
  auto client = MakeClient();

  mde::AlertQuery query;
  query.created_since = now - hours(1);
  query.statuses = {"New", "InProgress"};
  query.severities = {"High"};
  query.detection_sources = {"WindowsDefenderAtp"};
  query.top = 2;
  auto first = client->ListAlerts(query);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_THAT(*first, SizeIs(2));
  EXPECT_EQ((*first)[0].id, "da02");
  EXPECT_EQ((*first)[1].id, "da03");
  ASSERT_THAT((*first)[0].evidence, SizeIs(1));
  EXPECT_EQ((*first)[0].evidence[0].sha256, sha);
  EXPECT_EQ((*first)[0].evidence[0].file_name, kEvidenceName);
  EXPECT_EQ((*first)[0].evidence[0].file_path, kEvidencePath);
  EXPECT_EQ((*first)[0].machine_id, kMachine);

  query.skip = 2;
  auto second = client->ListAlerts(query);
  ASSERT_TRUE(second) << second.error().ToString();
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*second)[0].id, "da07");

  const auto calls = CallsTo(mde(), "GET", "/api/alerts");
  ASSERT_THAT(calls, SizeIs(2));
  EXPECT_EQ(calls[0].auth, "Bearer");
  const std::string filter =
      "alertCreationTime ge " + FormatIso8601(now - hours(1)) +
      " and status in ('New','InProgress') and severity in ('High') and detectionSource in "
      "('WindowsDefenderAtp')";
  EXPECT_EQ(DecodePairs(calls[0].query),
            (Pairs{{"$filter", filter}, {"$top", "2"}, {"$expand", "evidence"}}));
  EXPECT_EQ(DecodePairs(calls[1].query),
            (Pairs{{"$filter", filter}, {"$top", "2"}, {"$skip", "2"}, {"$expand", "evidence"}}));
}

TEST_F(MdeContractTest, ListAlertsWithoutExpandCarriesNoEvidence) {
  Seed({{"mde",
         {{"alerts",
           {AlertSeed("da01", "New", "High", "WindowsDefenderAtp", clock_.Now(),
                      Sha256Hex("x"))}}}}});
  auto client = MakeClient();
  mde::AlertQuery query;
  query.expand_evidence = false;
  auto alerts = client->ListAlerts(query);
  ASSERT_TRUE(alerts) << alerts.error().ToString();
  ASSERT_THAT(*alerts, SizeIs(1));
  EXPECT_THAT((*alerts)[0].evidence, IsEmpty());
  const auto calls = CallsTo(mde(), "GET", "/api/alerts");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(DecodePairs(calls[0].query), (Pairs{{"$top", "500"}}));
}

TEST_F(MdeContractTest, GetAlertReadsEvidenceAndUnknownAlertIsNotFound) {
  const std::string sha = Sha256Hex("evidence of one alert");
  Seed(
      {{"mde",
        {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAv", clock_.Now(), sha)}}}}});
  auto client = MakeClient();
  auto alert = client->GetAlert("da42");
  ASSERT_TRUE(alert) << alert.error().ToString();
  EXPECT_EQ(alert->id, "da42");
  EXPECT_EQ(alert->detection_source, "WindowsDefenderAv");
  ASSERT_THAT(alert->evidence, SizeIs(1));
  EXPECT_EQ(alert->evidence[0].sha256, sha);
  EXPECT_EQ(alert->evidence[0].entity_type, "File");

  auto missing = client->GetAlert("da_missing");
  ASSERT_FALSE(missing);
  const Error& e = Seen(missing.error());
  EXPECT_EQ(e.code, ErrorCode::kNotFound) << e.ToString();
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.service, "mde");
  EXPECT_EQ(e.service_code, "ResourceNotFound");
  EXPECT_THAT(e.request_id, MatchesRegex(kGuid));
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts/.*")), ElementsAre(200, 404));
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(MdeContractTest, AddAlertCommentPatchesAndTheCommentIsVisible) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  auto client = MakeClient();
  const std::string text = "VMRay verdict: malicious (score 100)\nReport: https://vmray/x";
  auto status = client->AddAlertComment("da42", text);
  ASSERT_TRUE(status) << status.error().ToString();

  const auto calls = CallsTo(mde(), "PATCH", "/api/alerts/da42");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_THAT(calls[0].content_type, StartsWith("application/json"));
  EXPECT_EQ(Json::parse(calls[0].body), Json({{"comment", text}}));

  const Json state = mde().StateJson();
  ASSERT_THAT(state["alerts"], SizeIs(1));
  const Json& comments = state["alerts"][0]["comments"];
  ASSERT_THAT(comments, SizeIs(1));
  EXPECT_EQ(comments[0]["comment"], text);
  // The author is the app registration the token was issued to.
  EXPECT_EQ(comments[0]["createdBy"], entra().options().client_id);

  auto alert = client->GetAlert("da42");
  ASSERT_TRUE(alert) << alert.error().ToString();
  ASSERT_THAT(alert->comments, SizeIs(1));
  EXPECT_EQ(alert->comments[0].comment, text);
}

// ---- machines and machine actions -----------------------------------------------------------

TEST_F(MdeContractTest, GetMachineAndUnknownMachine) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine)}}}}});
  auto client = MakeClient();
  auto machine = client->GetMachine(kMachine);
  ASSERT_TRUE(machine) << machine.error().ToString();
  EXPECT_EQ(machine->id, kMachine);
  EXPECT_EQ(machine->computer_dns_name, "alice-laptop.contoso.com");
  EXPECT_EQ(machine->health_status, "Active");
  EXPECT_EQ(machine->os_platform, "Windows11");
  EXPECT_TRUE(machine->last_seen.has_value());

  auto missing = client->GetMachine("0000000000000000000000000000000000000000");
  ASSERT_FALSE(missing);
  EXPECT_EQ(Seen(missing.error()).code, ErrorCode::kNotFound);
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/machines/.*")), ElementsAre(200, 404));
}

TEST_F(MdeContractTest, ListMachinesSendsTopAndAnEmptyTenantIsNotFound) {
  auto client = MakeClient();
  auto empty = client->ListMachines(1);
  ASSERT_FALSE(empty);
  EXPECT_EQ(Seen(empty.error()).code, ErrorCode::kNotFound) << "documented for no recent machines";

  Seed({{"mde", {{"machines", {MachineSeed(kMachine), MachineSeed(std::string(40, 'c'))}}}}});
  auto machines = client->ListMachines(1);
  ASSERT_TRUE(machines) << machines.error().ToString();
  ASSERT_THAT(*machines, SizeIs(1));
  EXPECT_EQ((*machines)[0].computer_dns_name, "alice-laptop.contoso.com");
  const auto calls = CallsTo(mde(), "GET", "/api/machines");
  ASSERT_THAT(calls, SizeIs(2));
  EXPECT_EQ(DecodePairs(calls[1].query), (Pairs{{"$top", "1"}}));
  EXPECT_THAT(StatusesOf(calls), ElementsAre(404, 200));
}

TEST_F(MdeContractTest, ListLibraryFilesReadsWhatWasUploaded) {
  auto client = MakeClient();
  auto none = client->ListLibraryFiles();
  ASSERT_TRUE(none) << none.error().ToString();
  const size_t before = none->size();
  auto up = client->UploadLibraryFile("probe.ps1", "Write-Output 1", "doctor probe", "", false);
  ASSERT_TRUE(up) << up.error().ToString();
  auto files = client->ListLibraryFiles();
  ASSERT_TRUE(files) << files.error().ToString();
  ASSERT_THAT(*files, SizeIs(before + 1));
  bool found = false;
  for (const auto& f : *files) {
    if (f.file_name != "probe.ps1") continue;
    found = true;
    EXPECT_EQ(f.sha256, Sha256Hex("Write-Output 1"));
    EXPECT_EQ(f.description, "doctor probe");
  }
  EXPECT_TRUE(found);

  Seed({{"mde", {{"denied_permissions", {"Library.Manage"}}}}});
  auto denied = client->ListLibraryFiles();
  ASSERT_FALSE(denied);
  EXPECT_EQ(Seen(denied.error()).code, ErrorCode::kPermissionDenied);
}

TEST_F(MdeContractTest, ListMachineActionsQuotesTheMachineIdAsAnODataString) {
  const std::string quoted = "o'brien-laptop";
  Seed({{"mde",
         {{"machines",
           {MachineSeed(quoted, "C:\\a.txt", "a", /*offline=*/true),
            MachineSeed(kMachine, "C:\\b.txt", "b", /*offline=*/true)}}}}});
  auto client = MakeClient();
  auto mine = client->RunLiveResponse(quoted, GetFile("C:\\a.txt"), "collect a");
  ASSERT_TRUE(mine) << mine.error().ToString();
  auto other = client->RunLiveResponse(kMachine, GetFile("C:\\b.txt"), "collect b");
  ASSERT_TRUE(other) << other.error().ToString();

  auto actions = client->ListMachineActions(quoted);
  ASSERT_TRUE(actions) << actions.error().ToString();
  ASSERT_THAT(*actions, SizeIs(1));
  EXPECT_EQ((*actions)[0].id, mine->id);
  EXPECT_EQ((*actions)[0].machine_id, quoted);
  EXPECT_TRUE((*actions)[0].IsActive());

  const auto calls = CallsTo(mde(), "GET", "/api/machineactions");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(DecodePairs(calls[0].query), (Pairs{{"$filter", "machineId eq 'o''brien-laptop'"}}));
}

TEST_F(MdeContractTest, LiveResponseGetFileEndToEndWithoutTokenOnTheDownload) {
  Start({{"action_polls_to_complete", 2}});
  const std::string path = std::string(kEvidencePath) + "\\" + kEvidenceName;
  std::string content = "MZ\x90";
  content += std::string("\0\x01\x02 binary evidence \xff", 21);
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, path, content)}}}}});
  auto client = MakeClient();

  auto started = client->RunLiveResponse(kMachine, GetFile(path), "VMRay: collect da42");
  ASSERT_TRUE(started) << started.error().ToString();
  EXPECT_EQ(started->type, "LiveResponse");
  EXPECT_EQ(started->status, "Pending");
  EXPECT_EQ(started->machine_id, kMachine);
  EXPECT_EQ(started->requestor_comment, "VMRay: collect da42");
  ASSERT_THAT(started->commands, SizeIs(1));
  EXPECT_EQ(started->commands[0].type, "GetFile");

  const auto run =
      CallsTo(mde(), "POST", std::string("/api/machines/") + kMachine + "/runliveresponse");
  ASSERT_THAT(run, SizeIs(1));
  EXPECT_EQ(run[0].status, 201);
  EXPECT_THAT(run[0].content_type, StartsWith("application/json"));
  EXPECT_EQ(
      Json::parse(run[0].body),
      Json({{"Commands", {{{"type", "GetFile"}, {"params", {{{"key", "Path"}, {"value", path}}}}}}},
            {"Comment", "VMRay: collect da42"}}));

  auto polled = client->GetMachineAction(started->id);
  ASSERT_TRUE(polled) << polled.error().ToString();
  EXPECT_EQ(polled->status, "InProgress");
  polled = client->GetMachineAction(started->id);
  ASSERT_TRUE(polled) << polled.error().ToString();
  EXPECT_EQ(polled->status, "Succeeded");
  ASSERT_THAT(polled->commands, SizeIs(1));
  EXPECT_EQ(polled->commands[0].command_status, "Completed");

  auto link = client->LiveResponseResultLink(started->id, 0);
  ASSERT_TRUE(link) << link.error().ToString();
  EXPECT_THAT(*link, StartsWith(mde().BaseUrl() + "/_lr/download/"));
  EXPECT_EQ(mde().CountCalls("GET", ".*/GetLiveResponseResultDownloadLink\\(index=0\\)"), 1u);

  auto gz = client->Download(*link);
  ASSERT_TRUE(gz) << gz.error().ToString();
  auto bytes = http::Gunzip(*gz, 1 << 20);
  ASSERT_TRUE(bytes) << bytes.error().ToString();
  EXPECT_EQ(*bytes, content);

  // The storage link never sees the MDE token (the emulator also asserts it).
  const auto downloads = CallsTo(mde(), "GET", "/_lr/download/.*");
  ASSERT_THAT(downloads, SizeIs(1));
  EXPECT_EQ(downloads[0].auth, "none");
  EXPECT_EQ(downloads[0].status, 200);
  // Nor does the log see the link's signature.
  const std::string sig = link->substr(link->find("sig=") + 4);
  ASSERT_FALSE(sig.empty());
  EXPECT_THAT(Logs(), Not(HasSubstr(sig)));
  EXPECT_THAT(Logs(), HasSubstr("sig=[redacted]"));
}

TEST_F(MdeContractTest, ExpiredDownloadLinkIsNotFoundAndSaysWhy) {
  const std::string path = "C:\\evidence.bin";
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, path, "evidence bytes")}}}}});
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile(path), "collect");
  ASSERT_TRUE(started) << started.error().ToString();
  ASSERT_TRUE(client->GetMachineAction(started->id));
  auto link = client->LiveResponseResultLink(started->id, 0);
  ASSERT_TRUE(link) << link.error().ToString();
  clock_.Advance(minutes(31));
  auto gz = client->Download(*link);
  ASSERT_FALSE(gz);
  const Error& e = Seen(gz.error());
  EXPECT_EQ(e.code, ErrorCode::kNotFound) << e.ToString();
  EXPECT_EQ(e.http_status, 403);
  EXPECT_THAT(e.message, HasSubstr("expire"));
  EXPECT_FALSE(e.request_id.empty());
}

TEST_F(MdeContractTest, CancelMachineActionSendsTheCommentAndCancels) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, "C:\\x.bin", "x", /*offline=*/true)}}}}});
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_TRUE(started) << started.error().ToString();
  // Offline: the session stays queued.
  auto polled = client->GetMachineAction(started->id);
  ASSERT_TRUE(polled) << polled.error().ToString();
  EXPECT_EQ(polled->status, "Pending");

  auto cancelled = client->CancelMachineAction(started->id, "VMRay connector gave up");
  ASSERT_TRUE(cancelled) << cancelled.error().ToString();
  EXPECT_EQ(cancelled->status, "Cancelled");
  const auto calls = CallsTo(mde(), "POST", "/api/machineactions/" + started->id + "/cancel");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(Json::parse(calls[0].body), Json({{"Comment", "VMRay connector gave up"}}));
  const Json action = StateAction(started->id);
  EXPECT_EQ(action["status"], "Cancelled");
  EXPECT_EQ(action["cancellationComment"], "VMRay connector gave up");
  EXPECT_EQ(action["cancellationRequestor"], entra().options().client_id);

  // A final action cannot be cancelled again: MDE says so with a 400.
  auto again = client->CancelMachineAction(started->id, "again");
  ASSERT_FALSE(again);
  EXPECT_EQ(Seen(again.error()).code, ErrorCode::kInvalidArgument);

  auto unknown = client->GetMachineAction("00000000-0000-4000-8000-000000000000");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(Seen(unknown.error()).code, ErrorCode::kNotFound);
}

TEST_F(MdeContractTest, BusyDeviceIsConflictWithServiceCodeAndRequestId) {
  Json machine = MachineSeed(kMachine, "C:\\x.bin", "x");
  machine["busy"] = true;
  Seed({{"mde", {{"machines", {machine}}}}});
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_FALSE(started);
  const Error& e = Seen(started.error());
  EXPECT_EQ(e.code, ErrorCode::kConflict) << e.ToString();
  EXPECT_EQ(e.service_code, "ActiveRequestAlreadyExists");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_THAT(e.request_id, MatchesRegex(kGuid));
  EXPECT_EQ(mde().CountCalls("POST", ".*/runliveresponse"), 1u);

  // The other session is what a caller sees when it looks.
  auto actions = client->ListMachineActions(kMachine);
  ASSERT_TRUE(actions) << actions.error().ToString();
  ASSERT_THAT(*actions, SizeIs(1));
  EXPECT_TRUE((*actions)[0].IsActive());
}

TEST_F(MdeContractTest, HealthCheckListsOneAlert) {
  auto client = MakeClient();
  auto status = client->HealthCheck();
  ASSERT_TRUE(status) << status.error().ToString();
  const auto calls = CallsTo(mde(), "GET", "/api/alerts");
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(DecodePairs(calls[0].query), (Pairs{{"$top", "1"}}));
  EXPECT_EQ(calls[0].auth, "Bearer");
}

// ---- authentication and permissions ---------------------------------------------------------

TEST_F(MdeContractTest, RevokedTokenIsRefreshedOnceAndTheCallRetriedOnce) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  auto client = MakeClient();
  ASSERT_TRUE(client->GetAlert("da42"));
  EXPECT_EQ(TokenRequests(), 1u);

  // Every token issued so far stops working (revoked, rotated, clock skew), right away.
  Seed({{"entra", {{"expire_all_tokens", true}}}});
  auto alert = client->GetAlert("da42");
  ASSERT_TRUE(alert) << alert.error().ToString();
  EXPECT_EQ(TokenRequests(), 2u);
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts/da42")), ElementsAre(200, 401, 200));
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(MdeContractTest, TokenRejectedAgainAfterRefreshIsUnauthenticatedWithoutALoop) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  auto client = MakeClient();
  // Every call is refused as if the token were wrong: one refresh, one retry, then the error.
  emu::FaultRule rule = Fault("GET", "^/api/alerts/da42$", 401, /*times=*/-1);
  mde().AddFault(rule);
  auto alert = client->GetAlert("da42");
  ASSERT_FALSE(alert);
  const Error& e = Seen(alert.error());
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated) << e.ToString();
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts/da42")), ElementsAre(401, 401));
  // Exactly one refresh for the rejected token, then the error: never a loop.
  EXPECT_EQ(TokenRequests(), 2u);
}

TEST_F(MdeContractTest, DeniedPermissionIsPermissionDeniedAndNamesTheFix) {
  Seed({{"mde",
         {{"denied_permissions", {"Alert.Read.All", "Machine.LiveResponse"}},
          {"machines", {MachineSeed(kMachine, "C:\\x.bin", "x")}}}}});
  auto client = MakeClient();
  auto health = client->HealthCheck();
  ASSERT_FALSE(health);
  const Error& e = Seen(health.error());
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied) << e.ToString();
  EXPECT_EQ(e.http_status, 403);
  EXPECT_EQ(e.service_code, "Forbidden");
  EXPECT_THAT(e.message, HasSubstr("Alert.Read.All"));
  EXPECT_THAT(e.message, HasSubstr("WindowsDefenderATP"));
  EXPECT_THAT(e.message, HasSubstr("admin consent"));
  EXPECT_THAT(e.request_id, MatchesRegex(kGuid));

  auto run = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_FALSE(run);
  const Error& lr = Seen(run.error());
  EXPECT_EQ(lr.code, ErrorCode::kPermissionDenied) << lr.ToString();
  EXPECT_THAT(lr.message, HasSubstr("Machine.LiveResponse"));
  // Neither a 403 nor a refresh can help: one call each, one token.
  EXPECT_EQ(mde().Calls().size(), 2u);
  EXPECT_EQ(TokenRequests(), 1u);
}

TEST_F(MdeContractTest, ErrorTargetIsTheRequestId) {
  emu::FaultRule rule = Fault("GET", "^/api/alerts/da42$", 404);
  rule.body = Json{{"error",
                    {{"code", "ResourceNotFound"},
                     {"message", "Alert da42 was not found"},
                     {"target", "43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}}}
                  .dump();
  mde().AddFault(rule);
  auto client = MakeClient();
  auto alert = client->GetAlert("da42");
  ASSERT_FALSE(alert);
  const Error& e = Seen(alert.error());
  EXPECT_EQ(e.request_id, "43f4cb08-8fac-4b65-9db1-745c2ae65f3a");
  EXPECT_THAT(e.ToString(), HasSubstr("request-id=43f4cb08-8fac-4b65-9db1-745c2ae65f3a"));
  EXPECT_THAT(e.message, HasSubstr("Alert da42 was not found"));
}

// ---- throttling and retries -----------------------------------------------------------------

TEST_F(MdeContractTest, TooManyRequestsWaitsRetryAfterSeconds) {
  auto rule = Fault("GET", "^/api/alerts$", 429);
  rule.retry_after = "5";
  mde().AddFault(rule);
  auto client = MakeClient();
  auto alerts = client->ListAlerts({});
  ASSERT_TRUE(alerts) << alerts.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(5000)));
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts")), ElementsAre(429, 200));
}

TEST_F(MdeContractTest, TooManyRequestsWaitsRetryAfterHttpDate) {
  auto rule = Fault("GET", "^/api/alerts$", 429);
  rule.retry_after = HttpDate(clock_.Now() + seconds(9));
  mde().AddFault(rule);
  auto client = MakeClient();
  auto alerts = client->ListAlerts({});
  ASSERT_TRUE(alerts) << alerts.error().ToString();
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(9000)));
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts")), ElementsAre(429, 200));
}

TEST_F(MdeContractTest, RetryAfterBeyondInlineWaitComesBackAsAnError) {
  auto client = MakeClient();
  for (const std::string& retry_after :
       {std::string("600"), HttpDate(clock_.Now() + minutes(10))}) {
    auto rule = Fault("GET", "^/api/alerts$", 429);
    rule.retry_after = retry_after;
    mde().AddFault(rule);
    auto alerts = client->ListAlerts({});
    ASSERT_FALSE(alerts) << retry_after;
    const Error& e = Seen(alerts.error());
    EXPECT_EQ(e.code, ErrorCode::kRateLimited) << e.ToString();
    EXPECT_EQ(e.service_code, "TooManyRequests");
    ASSERT_TRUE(e.retry_after.has_value()) << retry_after;
    EXPECT_EQ(*e.retry_after, seconds(600)) << retry_after;
  }
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts")), ElementsAre(429, 429));
}

TEST_F(MdeContractTest, TooManyRequestsOnRunLiveResponseIsRetriedOnce) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, "C:\\x.bin", "x")}}}}});
  auto rule = Fault("POST", ".*/runliveresponse$", 429);
  rule.retry_after = "2";
  mde().AddFault(rule);
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_TRUE(started) << started.error().ToString();
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "POST", ".*/runliveresponse")), ElementsAre(429, 201));
  EXPECT_THAT(mde().StateJson()["machine_actions"], SizeIs(1));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(2000)));
}

TEST_F(MdeContractTest, ServiceUnavailableThenSuccess) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  mde().AddFault(Fault("GET", "^/api/alerts/da42$", 503));
  ClientSetup setup;
  auto client = MakeClient(setup);
  auto alert = client->GetAlert("da42");
  ASSERT_TRUE(alert) << alert.error().ToString();
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts/da42")), ElementsAre(503, 200));
  const auto sleeps = clock_.Sleeps();
  ASSERT_THAT(sleeps, SizeIs(1));
  EXPECT_LT(sleeps[0], setup.retry.base_delay);
  // Each attempt takes the cached token: no new token request.
  EXPECT_EQ(TokenRequests(), 1u);
}

TEST_F(MdeContractTest, RetriesStopAtMaxRetries) {
  mde().AddFault(Fault("GET", "^/api/alerts$", 503, /*times=*/-1));
  ClientSetup setup;
  setup.retry.max_retries = 1;
  auto client = MakeClient(setup);
  auto alerts = client->ListAlerts({});
  ASSERT_FALSE(alerts);
  const Error& e = Seen(alerts.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.http_status, 503);
  EXPECT_EQ(e.service_code, "ServiceUnavailable");
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts")), ElementsAre(503, 503));
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(MdeContractTest, RetriesStopAtTheTotalBudget) {
  auto rule = Fault("GET", "^/api/alerts$", 503, /*times=*/-1);
  rule.retry_after = "4";
  mde().AddFault(rule);
  ClientSetup setup;
  setup.retry.max_retries = 10;
  setup.retry.total_budget = Millis(10'000);
  auto client = MakeClient(setup);
  auto alerts = client->ListAlerts({});
  ASSERT_FALSE(alerts);
  EXPECT_EQ(Seen(alerts.error()).code, ErrorCode::kUnavailable);
  // 0 s, 4 s, 8 s; the next wait would end at 12 s, past the 10 s budget.
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(4000), Millis(4000)));
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "GET", "/api/alerts")), ElementsAre(503, 503, 503));
}

// ---- broken answers -------------------------------------------------------------------------

TEST_F(MdeContractTest, MalformedJsonIsAProtocolErrorWithoutTheBody) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  emu::FaultRule rule = Fault("GET", "^/api/alerts/da42$", 200);
  rule.malformed = true;
  mde().AddFault(rule);
  auto client = MakeClient();
  auto alert = client->GetAlert("da42");
  ASSERT_FALSE(alert);
  const Error& e = Seen(alert.error());
  EXPECT_EQ(e.code, ErrorCode::kProtocol) << e.ToString();
  EXPECT_EQ(e.service, "mde");
  EXPECT_THAT(e.message, HasSubstr("MDE"));
  EXPECT_THAT(e.message, HasSubstr("malformed JSON"));
  EXPECT_THAT(e.message, Not(HasSubstr("truncat")));
  EXPECT_EQ(mde().CountCalls("GET", "/api/alerts/da42"), 1u);
}

TEST_F(MdeContractTest, SlowAnswerTimesOut) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine)}}}}});
  emu::FaultRule rule = Fault("GET", "^/api/machines/", 200);
  rule.delay_ms = 1500;
  rule.pass_through = true;
  mde().AddFault(rule);
  ClientSetup setup;
  setup.transport.request_timeout = Millis(300);
  setup.retry.max_retries = 0;
  auto client = MakeClient(setup);
  auto machine = client->GetMachine(kMachine);
  ASSERT_FALSE(machine);
  const Error& e = Seen(machine.error());
  EXPECT_EQ(e.code, ErrorCode::kTimeout) << e.ToString();
  EXPECT_EQ(e.service, "mde");
  EXPECT_EQ(e.service_code, http::kTransportTimeout);
}

TEST_F(MdeContractTest, DroppedConnectionOnAGetIsRetried) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}}}}});
  emu::FaultRule rule = Fault("GET", "^/api/alerts$", 200);
  rule.drop_connection = true;
  mde().AddFault(rule);
  auto client = MakeClient();
  auto alerts = client->ListAlerts({});
  ASSERT_TRUE(alerts) << alerts.error().ToString();
  EXPECT_THAT(*alerts, SizeIs(1));
  EXPECT_EQ(mde().CountCalls("GET", "/api/alerts"), 2u);
  EXPECT_THAT(clock_.Sleeps(), SizeIs(1));
}

TEST_F(MdeContractTest, DroppedConnectionOnRunLiveResponseIsNotRetried) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, "C:\\x.bin", "x")}}}}});
  emu::FaultRule rule = Fault("POST", ".*/runliveresponse$", 200);
  rule.drop_connection = true;
  mde().AddFault(rule);
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_FALSE(started);
  const Error& e = Seen(started.error());
  EXPECT_EQ(e.code, ErrorCode::kUnavailable) << e.ToString();
  EXPECT_EQ(e.service_code, http::kTransportIo);
  EXPECT_EQ(mde().CountCalls("POST", ".*/runliveresponse"), 1u);
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(MdeContractTest, NonIdempotentCallsAreNotRepeatedAfter503) {
  Seed({{"mde",
         {{"alerts", {AlertSeed("da42", "New", "High", "WindowsDefenderAtp", clock_.Now())}},
          {"machines", {MachineSeed(kMachine, "C:\\x.bin", "x")}}}}});
  mde().AddFault(Fault("POST", ".*/runliveresponse$", 503));
  mde().AddFault(Fault("PATCH", "^/api/alerts/da42$", 503));
  auto client = MakeClient();

  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_FALSE(started);
  EXPECT_EQ(Seen(started.error()).code, ErrorCode::kUnavailable);
  EXPECT_EQ(mde().CountCalls("POST", ".*/runliveresponse"), 1u);
  EXPECT_THAT(mde().StateJson()["machine_actions"], IsEmpty());

  auto comment = client->AddAlertComment("da42", "written at most once");
  ASSERT_FALSE(comment);
  EXPECT_EQ(Seen(comment.error()).code, ErrorCode::kUnavailable);
  EXPECT_EQ(mde().CountCalls("PATCH", "/api/alerts/da42"), 1u);
  EXPECT_THAT(mde().StateJson()["alerts"][0]["comments"], IsEmpty());
  EXPECT_THAT(clock_.Sleeps(), IsEmpty());
}

TEST_F(MdeContractTest, CancelIsIdempotentAndRetriedAfter503) {
  Seed({{"mde", {{"machines", {MachineSeed(kMachine, "C:\\x.bin", "x", /*offline=*/true)}}}}});
  auto client = MakeClient();
  auto started = client->RunLiveResponse(kMachine, GetFile("C:\\x.bin"), "collect");
  ASSERT_TRUE(started) << started.error().ToString();
  mde().AddFault(Fault("POST", ".*/cancel$", 503));
  auto cancelled = client->CancelMachineAction(started->id, "give up");
  ASSERT_TRUE(cancelled) << cancelled.error().ToString();
  EXPECT_EQ(cancelled->status, "Cancelled");
  EXPECT_THAT(StatusesOf(CallsTo(mde(), "POST", ".*/cancel")), ElementsAre(503, 200));
}

}  // namespace
}  // namespace vc::contract
