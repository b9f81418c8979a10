// Antivirus alerts: the file is in Defender quarantine, so the connector runs its collection
// script (modelled by the MDE emulator) and the file travels through a real Azurite blob behind
// a write-only SAS. Each test checks what reached VMRay, what the device was asked, the alert
// comment, and that no blob is left behind.
#include <set>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "core/base64.hpp"
#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/collection_script.hpp"

namespace vc::testing {
namespace {

constexpr const char* kThreat = "Trojan:Win32/Wacatac.B!ml";

class DefenderQuarantine : public PipelineTest {
 protected:
  void SetUp() override {
    auto azurite = test::SharedAzurite();
    ASSERT_TRUE(azurite) << azurite.error().message;
    azurite_ = *azurite;
    transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    auto client = blob::BlobClient::FromConnectionString(azurite_->ConnectionString(), transport_,
                                                         clock_, DefaultRandom());
    ASSERT_TRUE(client) << client.error().message;
    blob_ = std::move(*client);
    // Alert ids of their own: the Azurite instance is shared by the tests of this process.
    alert_ = "da" + DefaultRandom().HexToken(8) + "_1";
  }

  EnvPairs Storage(EnvPairs more = {}) {
    more.emplace_back("AzureStorageConnectionString", azurite_->ConnectionString());
    return more;
  }

  // An antivirus alert about `content`, with the real SHA-1 (it names the quarantine file).
  Json AvAlert(const std::string& content, const std::string& threat = kThreat) {
    Json a = AlertJson(alert_, kMachineId, Sha256Hex(content), "invoice.exe", "WindowsDefenderAv",
                       clock_.Now());
    a["threatName"] = threat;
    a["evidence"][0]["sha1"] = Sha1Hex(content);
    return a;
  }
  // The device with these quarantined items (threat, content).
  static Json QuarantineDevice(const std::vector<std::pair<std::string, std::string>>& items,
                               bool offline = false) {
    Json device = MachineJson(kMachineId, {}, offline);
    device["quarantine"] = Json::array();
    for (const auto& [threat, content] : items) {
      device["quarantine"].push_back({{"threat", threat}, {"file", Base64Encode(content)}});
    }
    return device;
  }
  std::string Key(const std::string& content) { return "mde:" + alert_ + ":" + Sha256Hex(content); }

  Json ScriptRuns() { return mde().StateJson()["script_runs"]; }
  // The alert's status record (<alertId>.json in vmray-defender-functionapp-status).
  Json StatusRecord() {
    auto got = blob_->GetBlob(blob::kStatusContainer, alert_ + ".json", 1 << 20);
    EXPECT_TRUE(got) << got.error().ToString();
    return got ? Json::parse(got->data) : Json();
  }
  std::vector<std::string> BlobsLeft() {
    auto names = blob_->ListBlobs(blob::kQuarantineContainer, alert_ + "/");
    EXPECT_TRUE(names) << names.error().ToString();
    return names ? *names : std::vector<std::string>{};
  }
  // The VMRay submission of this file holds exactly these bytes.
  void ExpectSubmittedOnce(const std::string& content) {
    EXPECT_EQ(SubmitCalls(), 1u);
    EXPECT_EQ(StoredSubmissions(Sha256Hex(content)), 1u);
  }

  // A stand-in for the script that reports `outcome` and, unless `upload` is empty, PUTs those
  // bytes to the link it was given: for blobs the real script would never produce.
  void ScriptHandsOver(std::optional<std::string> upload, std::string outcome = "collected") {
    mde().SetScriptHook([this, upload, outcome](const emu::MdeEmulator::ScriptRun& run) {
      const Json req = Json::parse(Base64Decode(run.args.value_or("")).value_or("{}"));
      if (upload) {
        http::Request put;
        put.method = http::Method::kPut;
        put.url = req.value("upload_url", "");
        put.headers.Set("x-ms-blob-type", "BlockBlob");
        put.body = *upload;
        auto answer = transport_->Send(put);
        EXPECT_TRUE(answer && answer->status == 201);
      }
      emu::MdeEmulator::ScriptOutcome o;
      o.script_output = Json{
          {"v", 1},
          {"request_id", req.value("request_id", "")},
          {"outcome", outcome},
          {"detail", "test"},
          {"sha256", ""},
          {"size", 0}}.dump();
      return o;
    });
  }

  test::AzuriteProcess* azurite_ = nullptr;
  std::shared_ptr<http::Transport> transport_;
  std::unique_ptr<blob::BlobClient> blob_;
  std::string alert_;
};

TEST_F(DefenderQuarantine, EncryptedModeHandsOverTheResourceFileAndDeletesTheBlob) {
  const std::string content = std::string("MZ quarantined invoice ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  auto d = h().OpenDaemon(Storage());
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "done") << job.reason;
  ExpectSubmittedOnce(content);
  EXPECT_NE(OnlyComment(alert_).find("VMRAY Analyzer Verdict"), std::string::npos);

  // The script went into the library once, at this build's version.
  const Json library = mde().StateJson()["library"];
  ASSERT_EQ(library.size(), 1u);
  EXPECT_EQ(library[0]["fileName"], defender::kCollectionScriptName);
  EXPECT_EQ(library[0]["sha256"], Sha256Hex(defender::CollectionScript()));

  // One RunScript session, asked for the encrypted file with a one-blob, write-only link.
  const auto actions = CollectionsOf(Sha256Hex(content));
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0]["commands"][0]["command"]["type"], "RunScript");
  const Json runs = ScriptRuns();
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["mode"], "encrypted");
  EXPECT_EQ(runs[0]["outcome"], "collected_encrypted");
  EXPECT_EQ(runs[0]["sas"]["sp"], "cw");
  EXPECT_EQ(runs[0]["sas"]["sr"], "b");
  auto expiry = ParseIso8601(runs[0]["sas"]["se"].get<std::string>());
  ASSERT_TRUE(expiry);
  EXPECT_LE(*expiry - clock_.Now(), Minutes(31)) << "the link lives minutes, not hours";

  EXPECT_TRUE(BlobsLeft().empty()) << "the upload blob is deleted after the submission";
  const Json record = StatusRecord();
  ASSERT_EQ(record.size(), 1u) << record.dump();
  EXPECT_EQ(record[0]["alert_id"], alert_);
  EXPECT_EQ(record[0]["status"], "Pass");
  EXPECT_EQ(record[0]["state"], "done");
  EXPECT_EQ(record[0]["file_name"], "invoice.exe");
  EXPECT_EQ(record[0]["verdict"], "malicious");
  EXPECT_GT(record[0]["vmray_submission_id"].get<int64_t>(), 0);
  EXPECT_EQ(record[0]["collection_outcome"], "collected");
  EXPECT_EQ(record[0]["machine_status_message"],
            "Machine alice-laptop.contoso.com available during the process of evidences");
  // The record waited for the sample's MDE indicators and counts them.
  const size_t indicators = mde().StateJson()["indicators"].size();
  EXPECT_GT(indicators, 0u);
  EXPECT_EQ(record[0]["No_of_indicator_submitted"].get<size_t>(), indicators);
  EXPECT_EQ(job.payload.find("upload_url"), std::string::npos);
  EXPECT_EQ(job.payload.find("sig="), std::string::npos) << "no SAS in the store";
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderQuarantine, RestoreModeFindsTheMatchingItemAmongSeveralWithTheSameThreat) {
  const std::string threat = "Trojan:Win32/Agent \"quoted\" 'single' Zürich ü";
  const std::string wanted = std::string("MZ the alert's file ") + kEicar;
  const std::string other = "MZ another file of the same threat";
  SeedMde({AvAlert(wanted, threat)}, QuarantineDevice({{threat, other}, {threat, wanted}}));
  auto d = h().OpenDaemon(Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_MODE", "restore"}}));
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, Key(wanted)).state, "done");
  ExpectSubmittedOnce(wanted);
  EXPECT_EQ(StoredSubmissions(Sha256Hex(other)), 0u);
  const Json runs = ScriptRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["mode"], "restore");
  EXPECT_EQ(runs[0]["outcome"], "collected");
  // The threat name reached the device intact, inside the base64 argument only.
  const auto actions = CollectionsOf(Sha256Hex(wanted));
  ASSERT_EQ(actions.size(), 1u);
  const Json params = actions[0]["commands"][0]["command"]["params"];
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0]["key"], "ScriptName");
  EXPECT_EQ(params[1]["key"], "Args");
  const std::string args = params[1]["value"].get<std::string>();
  EXPECT_EQ(
      args.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
      std::string::npos);
  auto decoded = Base64Decode(args);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(Json::parse(*decoded)["threat"], threat);
  EXPECT_TRUE(BlobsLeft().empty());
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderQuarantine, NotInQuarantineIsAskedAgainThenReportedWithoutSubmitting) {
  const std::string content = std::string("MZ not quarantined yet ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({}));
  auto d = h().OpenDaemon(Storage({{"MachineAvailabilityRetry", "2"}}));
  ASSERT_TRUE(Run(*d, Hours(4)));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("holds no quarantined item for this threat"), std::string::npos)
      << job.reason;
  EXPECT_NE(job.reason.find("tried 2 times"), std::string::npos) << job.reason;
  EXPECT_NE(OnlyComment(alert_).find("holds no quarantined item"), std::string::npos);
  EXPECT_EQ(ScriptRuns().size(), 2u);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_TRUE(BlobsLeft().empty());
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderQuarantine, HashMismatchIsFinalAtOnce) {
  const std::string content = std::string("MZ as detected ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, "MZ something else entirely"}}));
  auto d = h().OpenDaemon(Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_MODE", "restore"}}));
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("(hash_mismatch on alice-laptop.contoso.com)"), std::string::npos)
      << job.reason;
  EXPECT_EQ(ScriptRuns().size(), 1u) << "another session cannot change the hash";
  EXPECT_EQ(SubmitCalls(), 0u);
  const Json record = StatusRecord();
  ASSERT_EQ(record.size(), 1u) << record.dump();
  EXPECT_EQ(record[0]["status"], "Fail");
  EXPECT_EQ(record[0]["collection_outcome"], "hash_mismatch");
  EXPECT_EQ(record[0]["message"], job.reason);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderQuarantine, BlockedExclusionTellsToUseTheEncryptedMode) {
  const std::string content = std::string("MZ tamper protected ") + kEicar;
  Json device = QuarantineDevice({{kThreat, content}});
  device["exclusion_blocked"] = true;
  SeedMde({AvAlert(content)}, device);
  auto d = h().OpenDaemon(Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_MODE", "restore"}}));
  ASSERT_TRUE(Run(*d));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("defender.quarantine.mode = \"encrypted\""), std::string::npos)
      << job.reason;
  EXPECT_EQ(SubmitCalls(), 0u);
}

TEST_F(DefenderQuarantine, UnreadableScriptOutputIsRetriedThenReported) {
  const std::string content = std::string("MZ garbled transcript ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  int runs = 0;
  mde().SetScriptHook([&](const emu::MdeEmulator::ScriptRun&) {
    ++runs;
    emu::MdeEmulator::ScriptOutcome o;
    o.script_output = "{\"v\":1,\"request_id\":\"x\",\"outc";  // cut off mid-line
    return o;
  });
  auto d = h().OpenDaemon(Storage({{"MachineAvailabilityRetry", "3"}}));
  ASSERT_TRUE(Run(*d, Hours(4)));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("output on alice-laptop.contoso.com was not readable"),
            std::string::npos)
      << job.reason;
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(SubmitCalls(), 0u);
}

TEST_F(DefenderQuarantine, WithoutStorageTheAlertIsParkedAndCollectedOnceStorageIsSet) {
  const std::string content = std::string("MZ parked ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  {
    auto d = h().OpenDaemon();
    ASSERT_TRUE(Run(*d));
    const store::Job parked = JobOf(*d, Key(content));
    EXPECT_EQ(parked.state, "waiting_for_quarantine_collection");
    EXPECT_NE(parked.reason.find("set storage.connection_string"), std::string::npos)
        << parked.reason;
    EXPECT_EQ(LiveResponseCalls(), 0u);
  }
  auto d = h().OpenDaemon(Storage());
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(content)).state, "done");
  ExpectSubmittedOnce(content);
  EXPECT_TRUE(BlobsLeft().empty());
}

TEST_F(DefenderQuarantine, LibraryIsOnlyRewrittenWhenTheScriptDiffers) {
  // An older version of the script is in the library: it is replaced, once.
  auto client = MdeClient();
  auto old = client->UploadLibraryFile(std::string(defender::kCollectionScriptName),
                                       "Write-Output 'old version'", "old", "", false);
  ASSERT_TRUE(old) << old.error().ToString();
  const std::string first = std::string("MZ first ") + kEicar;
  SeedMde({AvAlert(first)}, QuarantineDevice({{kThreat, first}}));
  {
    auto d = h().OpenDaemon(Storage());
    ASSERT_TRUE(Run(*d));
    EXPECT_EQ(JobOf(*d, Key(first)).state, "done");
  }
  EXPECT_EQ(mde().CountCalls("POST", "/api/libraryfiles"), 2u) << "ours and the replacement";
  EXPECT_EQ(mde().StateJson()["library"][0]["sha256"], Sha256Hex(defender::CollectionScript()));

  // A restart with the current script in place uploads nothing.
  alert_ = "da" + DefaultRandom().HexToken(8) + "_2";
  const std::string second = std::string("MZ second ") + kEicar;
  SeedMde({AvAlert(second)}, QuarantineDevice({{kThreat, second}}));
  auto d = h().OpenDaemon(Storage());
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(JobOf(*d, Key(second)).state, "done");
  EXPECT_EQ(mde().CountCalls("POST", "/api/libraryfiles"), 2u);
  EXPECT_GE(mde().CountCalls("GET", "/api/libraryfiles"), 2u);
}

TEST_F(DefenderQuarantine, QueuedSessionPastItsLinkLifetimeIsAskedAgainWithAFreshLink) {
  const std::string content = std::string("MZ laptop offline ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}, /*offline=*/true));
  auto d = h().OpenDaemon(
      Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_UPLOAD_WINDOW_MINUTES", "30"},
               {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "300"},
               {"MachineAvailabilityTimeout", "10"},
               {"MachineAvailabilityRetry", "5"}}));
  EXPECT_FALSE(Run(*d, Hours(2)));

  // Sessions were cancelled as their link expired; never two at once on the device.
  const auto actions = CollectionsOf(Sha256Hex(content));
  ASSERT_GE(actions.size(), 3u);
  int active = 0;
  for (const auto& a : actions) {
    if (a["status"] == "Pending" || a["status"] == "InProgress") ++active;
  }
  EXPECT_EQ(active, 1);
  EXPECT_EQ(JobOf(*d, Key(content)).state, "collection_pending");

  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"offline", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(content)).state, "done");
  ExpectSubmittedOnce(content);
  EXPECT_EQ(ScriptRuns().size(), 1u) << "only the live session ran";
  EXPECT_TRUE(BlobsLeft().empty()) << "blobs of the cancelled sessions are deleted too";
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderQuarantine, RestartWhileTheSessionIsPendingResumesTheSameAction) {
  const std::string content = std::string("MZ restart ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}, /*offline=*/true));
  {
    auto d = h().OpenDaemon(Storage());
    (void)d->PollAlerts();
    ASSERT_TRUE(StepUntil(
        *d, [&] { return JobOf(*d, Key(content)).state == "collection_pending"; }, Minutes(5)));
  }
  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"offline", false}}})}}}});
  auto d = h().OpenDaemon(Storage());
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));
  EXPECT_EQ(JobOf(*d, Key(content)).state, "done");
  EXPECT_EQ(CollectionsOf(Sha256Hex(content)).size(), 1u);
  ExpectSubmittedOnce(content);
  EXPECT_TRUE(BlobsLeft().empty());
}

TEST_F(DefenderQuarantine, StorageDownKeepsTheAlertRetryingWithTheReason) {
  const std::string content = std::string("MZ storage down ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  // A port nothing listens on, with the development account's key.
  const std::string down =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" +
      std::string(blob::kDevStoreAccountKey) + ";BlobEndpoint=http://127.0.0.1:9/devstoreaccount1";
  auto d = h().OpenDaemon({{"AzureStorageConnectionString", down}});
  EXPECT_FALSE(Run(*d, Minutes(30)));
  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "collecting");
  EXPECT_NE(job.reason.find("creating the storage container"), std::string::npos) << job.reason;
  EXPECT_EQ(LiveResponseCalls(), 0u) << "no session before the hand-off can work";
  EXPECT_TRUE(Comments(alert_).empty());
}

TEST_F(DefenderQuarantine, ExpiredUploadLinkIsRefusedByStorageAndAskedAgain) {
  // The connector's clock runs an hour behind the storage account's: every link it signs has
  // already expired when the device uses it, and Azurite refuses the upload.
  clock_.Set(clock_.Now() - Hours(1));
  const std::string content = std::string("MZ expired link ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  auto d = h().OpenDaemon(Storage({{"MachineAvailabilityRetry", "2"}}));
  ASSERT_TRUE(Run(*d, Hours(4)));

  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("could not upload the file"), std::string::npos) << job.reason;
  const Json runs = ScriptRuns();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r["outcome"], "upload_failed");
    EXPECT_EQ(r["detail"], "the storage account answered HTTP 403");
  }
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_TRUE(BlobsLeft().empty());
}

TEST_F(DefenderQuarantine, ReportedUploadWithoutABlobIsAskedAgainThenReported) {
  const std::string content = std::string("MZ lost upload ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  ScriptHandsOver(std::nullopt, "collected_encrypted");
  auto d = h().OpenDaemon(Storage({{"MachineAvailabilityRetry", "2"}}));
  ASSERT_TRUE(Run(*d, Hours(4)));
  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("the blob is not in the storage account"), std::string::npos)
      << job.reason;
  EXPECT_EQ(LiveResponseCalls(), 2u);
  EXPECT_EQ(SubmitCalls(), 0u);
}

TEST_F(DefenderQuarantine, EmptyBlobIsAskedAgain) {
  const std::string content = std::string("MZ empty upload ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  ScriptHandsOver(std::string(), "collected_encrypted");
  auto d = h().OpenDaemon(Storage({{"MachineAvailabilityRetry", "2"}}));
  ASSERT_TRUE(Run(*d, Hours(4)));
  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("uploaded is empty"), std::string::npos) << job.reason;
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_TRUE(BlobsLeft().empty()) << "empty blobs are deleted too";
}

TEST_F(DefenderQuarantine, BlobWithAnotherHashIsNotSubmitted) {
  const std::string content = std::string("MZ as detected ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  ScriptHandsOver(std::string("MZ not the alert's file"));
  auto d = h().OpenDaemon(Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_MODE", "restore"}}));
  ASSERT_TRUE(Run(*d));
  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("has SHA-256 " + Sha256Hex("MZ not the alert's file")),
            std::string::npos)
      << job.reason;
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_TRUE(BlobsLeft().empty());
}

TEST_F(DefenderQuarantine, OversizedBlobIsNotReadOrSubmitted) {
  const std::string content = std::string("MZ small file ") + kEicar;
  SeedMde({AvAlert(content)}, QuarantineDevice({{kThreat, content}}));
  ScriptHandsOver(std::string(4096, 'A'));
  auto d = h().OpenDaemon(Storage({{"VMRAY_CONNECTOR_DEFENDER_QUARANTINE_MODE", "restore"},
                                   {"VMRAY_CONNECTOR_VMRAY_MAX_FILE_SIZE_BYTES", "1024"}}));
  ASSERT_TRUE(Run(*d));
  const store::Job job = JobOf(*d, Key(content));
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.reason.find("larger than vmray.max_file_size_bytes (1024 bytes)"),
            std::string::npos)
      << job.reason;
  EXPECT_NE(OnlyComment(alert_).find("nothing was submitted"), std::string::npos);
  EXPECT_EQ(SubmitCalls(), 0u);
  EXPECT_TRUE(BlobsLeft().empty());
}

// Two antivirus alerts on one busy device: one session runs the script twice, once per file,
// each with its own blob and link; both files arrive, both blobs are deleted.
TEST_F(DefenderQuarantine, TwoQuarantinedFilesOfOneDeviceShareASession) {
  const std::string one = std::string("MZ shared quarantine one ") + kEicar;
  const std::string two = std::string("MZ shared quarantine two ") + kEicar;
  Json first = AvAlert(one);
  Json second = AvAlert(two, "Trojan:Win32/Other.A");
  const std::string second_id = alert_ + "b";
  second["id"] = second_id;
  Json device = QuarantineDevice({{kThreat, one}, {"Trojan:Win32/Other.A", two}});
  device["busy"] = true;
  SeedMde({first, second}, device);
  auto d = h().OpenDaemon(Storage());
  (void)d->PollAlerts();
  const std::string second_key = "mde:" + second_id + ":" + Sha256Hex(two);
  ASSERT_TRUE(StepUntil(*d, [&] {
    return JobOf(*d, Key(one)).reason.find("busy") != std::string::npos &&
           JobOf(*d, second_key).reason.find("busy") != std::string::npos;
  }));
  h().Seed({{"mde", {{"machines", Json::array({{{"id", kMachineId}, {"busy", false}}})}}}});
  ASSERT_TRUE(Run(*d, Hours(1), /*poll=*/false));

  ASSERT_EQ(LiveResponseCalls(), 1u);
  const auto calls = CallsTo(mde(), "POST", ".*/runliveresponse");
  const Json body = Json::parse(calls.front().body);
  ASSERT_EQ(body["Commands"].size(), 2u);
  std::set<std::string> args;
  for (const auto& c : body["Commands"]) {
    EXPECT_EQ(c["type"], "RunScript");
    args.insert(c["params"][1]["value"].get<std::string>());
  }
  EXPECT_EQ(args.size(), 2u) << "each file has its own request and upload link";
  const Json runs = ScriptRuns();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& run : runs) EXPECT_EQ(run["outcome"], "collected_encrypted") << run.dump();
  EXPECT_EQ(JobOf(*d, Key(one)).state, "done");
  EXPECT_EQ(JobOf(*d, second_key).state, "done");
  EXPECT_EQ(StoredSubmissions(Sha256Hex(one)), 1u);
  EXPECT_EQ(StoredSubmissions(Sha256Hex(two)), 1u);
  EXPECT_TRUE(BlobsLeft().empty());
  auto left = blob_->ListBlobs(blob::kQuarantineContainer, second_id + "/");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty()) << ::testing::PrintToString(*left);
  ExpectNoEmulatorAssertions();
}

}  // namespace
}  // namespace vc::testing
