#include "app/demo.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "app/azurite_process.hpp"
#include "app/daemon.hpp"
#include "app/emulator_process.hpp"
#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "core/time.hpp"

namespace vc::app {
namespace {

struct DemoFile {
  std::string name;
  std::string dir;
  std::string content;
  std::string sha256() const { return Sha256Hex(content); }
};

struct DemoAlert {
  std::string id;
  std::string title;
  std::string source;  // WindowsDefenderAtp / WindowsDefenderAv
  const DemoFile* file = nullptr;
  std::string sha256;  // for files that are not on the device
  std::string expect_state;
  std::string story;
};

Json FileEvidence(const std::string& sha256, const std::string& name, const std::string& dir) {
  return {{"entityType", "File"}, {"sha256", sha256}, {"sha1", Sha1Hex(sha256)},
          {"fileName", name},     {"filePath", dir},  {"detectionStatus", "Detected"}};
}

}  // namespace

int RunDemo(const DemoOptions& options, std::ostream& out) {
  namespace fs = std::filesystem;
  std::string work = options.work_dir;
  if (work.empty()) {
    work = (fs::temp_directory_path() / ("vmray-connector-demo-" + DefaultRandom().HexToken(4)))
               .string();
  }
  fs::create_directories(work);

  EmulatorProcess emulators;
  if (auto s = emulators.Start(options.emulators_binary); !s) {
    out << "demo: " << s.error().message << "\n";
    return 1;
  }
  out << "Emulators: Entra " << emulators.Url("entra") << ", VMRay " << emulators.Url("vmray")
      << ", MDE " << emulators.Url("mde") << ", Graph " << emulators.Url("graph") << "\n";

  // Azurite stands in for the storage account the quarantine collection hands files through.
  std::string azurite_binary = options.azurite_binary;
  if (azurite_binary.empty()) {
    if (const char* env = std::getenv("VC_AZURITE_BLOB")) azurite_binary = env;
  }
  AzuriteProcess azurite;
  bool storage = false;
  if (azurite_binary.empty()) {
    out << "Azurite: not given (run scripts/azurite.sh install and set VC_AZURITE_BLOB, or use "
           "scripts/demo.sh): the antivirus alert will wait for a storage account\n";
  } else if (auto s = azurite.Start(azurite_binary); !s) {
    out << "demo: Azurite did not start: " << s.error().message << "\n";
    return 1;
  } else {
    storage = true;
    out << "Azurite (storage account): " << azurite.BlobEndpoint() << "\n";
  }

  // The files on the demo device and the alerts about them.
  const DemoFile invoice{
      "invoice.exe", "C:\\Users\\alice\\Downloads",
      "MZ demo dropper X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"};
  const DemoFile report{"report.pdf", "C:\\Users\\alice\\Documents",
                        "%PDF-1.4 quarterly numbers, nothing to see"};
  const std::string known = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  const std::string quarantined_content =
      "MZ quarantined by Defender Antivirus "
      "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  const std::string quarantined = Sha256Hex(quarantined_content);
  const std::string machine = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378";
  std::vector<DemoAlert> alerts = {
      {"da638001000000000001_1", "Known malware executed", "WindowsDefenderAtp", nullptr, known,
       "done", "VMRay knows the hash: verdict reused, no collection"},
      {"da638001000000000002_2", "Suspicious file downloaded", "WindowsDefenderAtp", &invoice, "",
       "done", "unknown file: Live Response GetFile, submitted, analysed"},
      {"da638001000000000003_3", "Same file seen again", "WindowsDefenderAtp", &invoice, "", "done",
       "same file as the alert above: shares its collection and submission"},
      {"da638001000000000004_4", "Unusual document opened", "WindowsDefenderAtp", &report, "",
       "done", "unknown clean file: collected, submitted, verdict clean"},
      {"da638001000000000005_5", "Suspicious sign-in pattern", "WindowsDefenderAtp", nullptr, "",
       "skipped", "alert without file evidence: nothing to analyse"},
      {"da638001000000000006_6", "Trojan quarantined", "WindowsDefenderAv", nullptr, quarantined,
       storage ? "done" : "waiting_for_quarantine_collection",
       storage ? "quarantined file: collection script, encrypted hand-off via blob, submitted"
               : "quarantined file: waits until a storage account is configured"},
  };

  const TimePoint now = std::chrono::system_clock::now();
  Json mde_alerts = Json::array();
  int n = 0;
  for (const auto& a : alerts) {
    Json evidence = Json::array();
    evidence.push_back(
        {{"entityType", "User"}, {"accountName", "alice"}, {"domainName", "CONTOSO"}});
    if (a.file) evidence.push_back(FileEvidence(a.file->sha256(), a.file->name, a.file->dir));
    if (!a.sha256.empty()) {
      Json file = FileEvidence(a.sha256, "payload.dll", "C:\\Windows\\Temp");
      if (a.sha256 == quarantined) file["sha1"] = Sha1Hex(quarantined_content);
      evidence.push_back(std::move(file));
    }
    const std::string created = FormatIso8601(now - std::chrono::minutes(10 - n++));
    mde_alerts.push_back(
        {{"id", a.id},
         {"incidentId", 1000 + n},
         {"title", a.title},
         {"severity", "High"},
         {"status", "New"},
         {"detectionSource", a.source},
         {"threatFamilyName", a.source == "WindowsDefenderAv" ? "Wacatac" : ""},
         {"threatName", a.source == "WindowsDefenderAv" ? "Trojan:Win32/Wacatac.B!ml" : ""},
         {"machineId", machine},
         {"computerDnsName", "alice-laptop.contoso.com"},
         {"alertCreationTime", created},
         {"lastUpdateTime", created},
         {"evidence", evidence},
         {"comments", Json::array()}});
  }
  Json files = Json::object();
  for (const DemoFile* f : {&invoice, &report})
    files[f->dir + "\\" + f->name] = Base64Encode(f->content);
  Json seed_mde{{"alerts", mde_alerts},
                {"machines",
                 Json::array({{{"id", machine},
                               {"computerDnsName", "alice-laptop.contoso.com"},
                               {"healthStatus", "Active"},
                               {"osPlatform", "Windows11"},
                               {"files", files},
                               {"quarantine",
                                Json::array({{{"threat", "Trojan:Win32/Wacatac.B!ml"},
                                              {"file", Base64Encode(quarantined_content)}}})}}})}};
  Json seed_vmray{{"samples", Json::array({{{"sha256", known},
                                            {"filename", "SmokeTester.exe"},
                                            {"verdict", "malicious"}}})}};
  for (auto [service, seed] : {std::pair{"mde", seed_mde}, std::pair{"vmray", seed_vmray}}) {
    if (auto r = PostJson(emulators.Url(service) + "/_emulator/state", seed); !r) {
      out << "demo: seeding the " << service << " emulator failed: " << r.error().message << "\n";
      return 1;
    }
  }

  // Configure exactly as a user would: the original app-setting names as environment variables.
  config::LoadOptions lo;
  lo.environment = {
      {"AzureTenantID", "6f1b2c3d-0000-4000-8000-00000000e1e1"},
      {"AzureClientID", "6f1b2c3d-0000-4000-8000-0000000c1e17"},
      {"AzureClientSecret", "emu-client-secret-DO-NOT-LOG"},
      {"VmrayBaseURL", emulators.Url("vmray")},
      {"VmrayAPIKey", "emu-vmray-key-DO-NOT-LOG"},
      {"VmrayResubmitAfter", "7"},
      {"VMRAY_CONNECTOR_AZURE_AUTHORITY_HOST", emulators.Url("entra")},
      {"VMRAY_CONNECTOR_DEFENDER_API_BASE_URL", emulators.Url("mde")},
      {"VMRAY_CONNECTOR_DEFENDER_INCIDENTS_GRAPH_BASE_URL", emulators.Url("graph")},
      {"VMRAY_CONNECTOR_DEFENDER_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_DEFENDER_INITIAL_LOOKBACK_MINUTES", "60"},
      {"VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_VMRAY_ANALYSIS_POLL_INTERVAL_SECONDS", "1"},
      {"VMRAY_CONNECTOR_STORE_PATH", work + "/vmray-connector.db"},
      {"VMRAY_CONNECTOR_LOG_FILE", work + "/vmray-connector.log"},
      // Any free port: the demo must not fail because a real connector uses the default one.
      {"VMRAY_CONNECTOR_OPS_LISTEN", options.ops_listen},
  };
  if (storage)
    lo.environment.push_back({"AzureStorageConnectionString", azurite.ConnectionString()});
  auto loaded = config::LoadConfig(lo);
  if (!loaded.config) {
    for (const auto& p : loaded.problems)
      out << "demo config: " << p.path << ": " << p.message << "\n";
    return 1;
  }
  out << "Store and log: " << work << "\n";
  InitLogging({loaded.config->log.format == "json" ? LogFormat::kJson : LogFormat::kText,
               loaded.config->log.level, loaded.config->log.file});

  Daemon daemon(*loaded.config);
  if (auto s = daemon.Open(); !s) {
    out << "demo: " << s.error().message << "\n";
    return 1;
  }
  daemon.Start();
  if (!daemon.ops_url().empty()) out << "Status page: " << daemon.ops_url() << "/status\n";
  out.flush();
  const TimePoint deadline = std::chrono::system_clock::now() + options.timeout;
  bool settled = false;
  while (std::chrono::system_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto all = daemon.store().ListJobs({"", "", std::nullopt, "", 1});
    auto s = daemon.Settled();
    if (all && !all->empty() && s && *s) {
      settled = true;
      break;
    }
  }
  daemon.Stop();

  auto state = GetJson(emulators.Url("mde") + "/_emulator/state");
  std::map<std::string, Json> comments;
  if (state) {
    for (const auto& a : (*state)["alerts"])
      comments[a.value("id", "")] = a.value("comments", Json::array());
  }
  auto vmray_state = GetJson(emulators.Url("vmray") + "/_emulator/state");
  const int submissions = vmray_state ? vmray_state->value("submit_count", -1) : -1;

  out << "\n"
      << fmt::format("{:<24} {:<12} {:<11} {:<34} {}\n", "ALERT", "FILE", "VERDICT", "OUTCOME",
                     "WHAT HAPPENED");
  int mismatches = 0;
  for (const auto& a : alerts) {
    const std::string sha = a.file ? a.file->sha256() : a.sha256;
    const std::string key = sha.empty() ? "mde:" + a.id : "mde:" + a.id + ":" + sha;
    auto job = daemon.store().GetJobByKey(key);
    std::string state_text = "(no job)", verdict = "-";
    if (job && *job) state_text = (*job)->state;
    if (!sha.empty()) {
      if (auto sample = daemon.store().GetSample(sha);
          sample && *sample && !(*sample)->verdict.empty()) {
        verdict = (*sample)->verdict;
      }
    }
    const size_t n_comments = comments.count(a.id) ? comments[a.id].size() : 0;
    const bool ok = state_text == a.expect_state && (a.expect_state != "done" || n_comments == 1);
    if (!ok) ++mismatches;
    out << fmt::format("{:<24} {:<12} {:<11} {:<34} {} ({} comment{}){}\n", a.id.substr(0, 24),
                       a.file ? a.file->name : (sha.empty() ? "-" : "payload.dll"), verdict,
                       state_text, a.story, n_comments, n_comments == 1 ? "" : "s",
                       ok ? "" : "  <-- UNEXPECTED");
  }
  const int expected_submissions = storage ? 3 : 2;
  out << "\nVMRay submissions: " << submissions << " (expected " << expected_submissions
      << ": one per unknown file on the device" << (storage ? " or in its quarantine" : "")
      << ")\n";
  if (submissions != expected_submissions) ++mismatches;
  if (auto first = comments.find(alerts[1].id); first != comments.end() && !first->second.empty()) {
    out << "\nThe comment on " << alerts[1].id << ":\n"
        << first->second[0].value("comment", "") << "\n";
  }
  // AddTagsToIncident is on by default: the incidents carry the verdict and threat tags.
  if (auto graph = GetJson(emulators.Url("graph") + "/_emulator/state")) {
    for (const auto& incident : (*graph)["incidents"]) {
      out << "\nIncident " << incident.value("id", "")
          << " tags: " << incident.value("customTags", Json::array()).dump() << "\n";
    }
  }
  emulators.Stop();
  azurite.Stop();
  if (!settled)
    out << "\nNot every alert settled within " << options.timeout.count() / 1000 << " s.\n";
  out << (mismatches == 0 && settled
              ? "\nDemo OK: every alert reached its expected outcome.\n"
              : "\nDemo FAILED: see the rows marked UNEXPECTED and the log.\n");
  return mismatches == 0 && settled ? 0 : 1;
}

}  // namespace vc::app
