// `vmray-connector doctor` against the in-process emulators: the printed table for each situation
// is compared with tests/golden/doctor/<name>.txt (ports, the harness directory and the version
// normalised). VC_UPDATE_GOLDEN=1 rewrites the files. Each test also asserts the rows that matter
// and the exit code, so a golden file rewritten with a regression still fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "app/cli.hpp"
#include "app/doctor.hpp"
#include "support/harness.hpp"
#include "version.hpp"

namespace vc::testing {
namespace {

using app::CheckOutcome;
using app::CheckRow;
using app::DoctorOptions;
using app::DoctorResult;
using app::RunDoctor;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kAllRoles = {"Alert.ReadWrite.All", "Machine.Read.All",
                                            "Machine.LiveResponse", "Library.Manage",
                                            "Ti.ReadWrite.All"};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class DoctorGolden : public ::testing::Test {
 protected:
  ManualClock clock_{std::chrono::system_clock::now()};
  Harness h_{clock_};

  void SetUp() override {
    h_.Seed({{"mde", {{"machines", Json::array({MachineJson(kMachineId, {})})}}}});
  }

  // Grants `roles` in Entra and denies every other connector permission at MDE, so the token's
  // roles claim and the API's answers agree, as they do in a real tenant.
  void GrantOnly(const std::vector<std::string>& roles) {
    Json denied = Json::array();
    for (const char* p : {"Alert.Read.All", "Alert.ReadWrite.All", "Machine.Read.All",
                          "Machine.LiveResponse", "Library.Manage", "Ti.ReadWrite.All"}) {
      bool granted = std::find(roles.begin(), roles.end(), p) != roles.end();
      // Alert.ReadWrite.All includes reading.
      if (std::string(p) == "Alert.Read.All") {
        granted =
            granted || std::find(roles.begin(), roles.end(), "Alert.ReadWrite.All") != roles.end();
      }
      if (!granted) denied.push_back(p);
    }
    h_.Seed({{"entra", {{"granted_roles", roles}}}, {"mde", {{"denied_permissions", denied}}}});
  }

  DoctorResult Run(const EnvPairs& overrides = {}) {
    DoctorOptions o;
    o.load.environment = h_.Environment(overrides);
    o.clock = &clock_;
    std::ostringstream out;
    DoctorResult result = RunDoctor(o, out);
    output_ = out.str();
    return result;
  }

  std::string Normalised() const {
    std::string text = output_;
    text = std::regex_replace(text, std::regex("127\\.0\\.0\\.1:[0-9]+"), "127.0.0.1:PORT");
    // A migration added by the store must not rewrite every golden file.
    text = std::regex_replace(text, std::regex("schema(\\s+)version [0-9]+ \\(current\\)"),
                              "schema$1version N (current)");
    // libcurl's connect error names the port and the time taken.
    text =
        std::regex_replace(text, std::regex("port [0-9]+ after [0-9]+ ms"), "port PORT after N ms");
    size_t at;
    while ((at = text.find(h_.dir())) != std::string::npos) {
      text.replace(at, h_.dir().size(), "<dir>");
    }
    const std::string version = "vmray-connector " + std::string(kVersion);
    if ((at = text.find(version)) != std::string::npos) {
      text.replace(at, version.size(), "vmray-connector <version>");
    }
    return text;
  }

  static std::string Unwrapped(std::string text) {
    return std::regex_replace(text, std::regex("\n {40}"), " ");
  }

  void ExpectGolden(const std::string& name) {
    EXPECT_THAT(output_, Not(HasSubstr("DO-NOT-LOG"))) << "a secret reached the output";
    const std::filesystem::path path =
        std::filesystem::path(VC_SOURCE_DIR) / "tests/golden/doctor" / (name + ".txt");
    const std::string actual = Normalised();
    if (const char* update = std::getenv("VC_UPDATE_GOLDEN"); update && *update == '1') {
      std::ofstream(path, std::ios::binary) << actual;
      return;
    }
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing; run with VC_UPDATE_GOLDEN=1 to create it\n"
        << actual;
    // Wrapping depends on the length of the normalised parts (a 4- or 5-digit port), so the
    // comparison joins continuation lines; the words and their order must match exactly.
    EXPECT_EQ(Unwrapped(actual), Unwrapped(ReadFile(path)))
        << "doctor output changed; if intended, rerun with VC_UPDATE_GOLDEN=1 and review the "
           "diff\n"
        << actual;
  }

  const CheckRow& Row(const DoctorResult& r, const std::string& check) {
    for (const auto& row : r.rows) {
      if (row.check == check) return row;
    }
    static const CheckRow kMissing{"(missing)", CheckOutcome::kSkipped, "", ""};
    ADD_FAILURE() << "no row " << check << "\n" << output_;
    return kMissing;
  }

  int Problems(const DoctorResult& r) {
    int n = 0;
    for (const auto& row : r.rows) n += row.outcome == CheckOutcome::kProblem;
    return n;
  }

  std::string output_;
};

TEST_F(DoctorGolden, EverythingGranted) {
  auto r = Run();
  EXPECT_EQ(r.exit_code, 0) << output_;
  EXPECT_EQ(Problems(r), 0) << output_;
  for (const auto& check :
       {"configuration", "store", "entra: token for MDE", "mde: Alert.ReadWrite.All",
        "mde: Machine.Read.All", "mde: Machine.LiveResponse", "mde: Library.Manage",
        "mde: GET /api/alerts", "mde: GET /api/machines", "mde: GET /api/libraryfiles",
        "vmray: URL and API key", "vmray: sample lookup", "vmray: API key quota"}) {
    EXPECT_EQ(Row(r, check).outcome, CheckOutcome::kOk) << check << "\n" << output_;
  }
  EXPECT_EQ(Row(r, "mde: Live Response settings").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(Row(r, "smtp").outcome, CheckOutcome::kSkipped);
  // Read-only: nothing was submitted, commented or uploaded.
  EXPECT_EQ(h_.emulators().vmray().CountCalls("POST", ".*"), 0u);
  EXPECT_EQ(h_.emulators().mde().CountCalls("POST", ".*"), 0u);
  EXPECT_EQ(h_.emulators().mde().CountCalls("PATCH", ".*"), 0u);
  EXPECT_TRUE(h_.emulators().AssertionFailures().empty());
  ExpectGolden("all_granted");
}

struct MissingRole {
  const char* role;
  const char* golden;
  const char* probe;  // the probe that must answer 403, or ""
};

class DoctorMissingRole : public DoctorGolden, public ::testing::WithParamInterface<MissingRole> {};

TEST_P(DoctorMissingRole, NamesThePermissionAndWhereToGrantIt) {
  std::vector<std::string> roles;
  for (const auto& r : kAllRoles) {
    if (r != GetParam().role) roles.push_back(r);
  }
  GrantOnly(roles);
  auto r = Run();
  EXPECT_EQ(r.exit_code, 1) << output_;
  const CheckRow& row = Row(r, std::string("mde: ") + GetParam().role);
  EXPECT_EQ(row.outcome, CheckOutcome::kProblem) << output_;
  EXPECT_THAT(row.fix, HasSubstr(std::string("add ") + GetParam().role));
  EXPECT_THAT(row.fix, HasSubstr("Grant admin consent"));
  if (*GetParam().probe) {
    const CheckRow& probe = Row(r, GetParam().probe);
    EXPECT_EQ(probe.outcome, CheckOutcome::kProblem) << output_;
    EXPECT_THAT(probe.detail, HasSubstr("403"));
  }
  ExpectGolden(GetParam().golden);
}

INSTANTIATE_TEST_SUITE_P(
    EachPermission, DoctorMissingRole,
    ::testing::Values(
        MissingRole{"Alert.ReadWrite.All", "missing_alert_readwrite", "mde: GET /api/alerts"},
        MissingRole{"Machine.Read.All", "missing_machine_read", "mde: GET /api/machines"},
        MissingRole{"Machine.LiveResponse", "missing_machine_liveresponse", ""},
        MissingRole{"Library.Manage", "missing_library_manage", "mde: GET /api/libraryfiles"},
        MissingRole{"Ti.ReadWrite.All", "missing_ti_readwrite", ""}),
    [](const auto& info) { return std::string(info.param.golden); });

TEST_F(DoctorGolden, AlertReadOnlyIsAProblemForTheComment) {
  GrantOnly({"Alert.Read.All", "Machine.Read.All", "Machine.LiveResponse", "Library.Manage"});
  auto r = Run();
  EXPECT_EQ(r.exit_code, 1);
  const CheckRow& row = Row(r, "mde: Alert.ReadWrite.All");
  EXPECT_EQ(row.outcome, CheckOutcome::kProblem);
  EXPECT_THAT(row.detail, HasSubstr("only Alert.Read.All"));
  EXPECT_EQ(Row(r, "mde: GET /api/alerts").outcome, CheckOutcome::kOk) << "reading works";
  ExpectGolden("alert_read_only");
}

TEST_F(DoctorGolden, LibraryNotNeededWhenQuarantineFetchIsOff) {
  GrantOnly(
      {"Alert.ReadWrite.All", "Machine.Read.All", "Machine.LiveResponse", "Ti.ReadWrite.All"});
  auto r = Run({{"VMRAY_CONNECTOR_DEFENDER_FETCH_QUARANTINED_FILES", "false"}});
  EXPECT_EQ(r.exit_code, 0) << output_;
  EXPECT_EQ(Row(r, "mde: Library.Manage").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(Row(r, "mde: GET /api/libraryfiles").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(h_.emulators().mde().CountCalls("GET", ".*libraryfiles.*"), 0u);
}

TEST_F(DoctorGolden, IndicatorsAndResponseActionsNeedTheirRolesOnlyWhenOn) {
  // Off: not needed, and a token without them is fine.
  GrantOnly({"Alert.ReadWrite.All", "Machine.Read.All", "Machine.LiveResponse", "Library.Manage"});
  auto off = Run({{"CreateIndicatorsInDefender", "false"}});
  EXPECT_EQ(off.exit_code, 0) << output_;
  for (const char* role : {"Ti.ReadWrite.All", "Machine.Isolate", "Machine.Scan",
                           "Machine.StopAndQuarantine", "Machine.CollectForensics"}) {
    EXPECT_EQ(Row(off, std::string("mde: ") + role).outcome, CheckOutcome::kSkipped) << role;
  }
  // Isolation on without Machine.Isolate: a problem naming the permission; the scan stays off.
  auto on = Run({{"CreateIndicatorsInDefender", "false"},
                 {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"}});
  EXPECT_EQ(on.exit_code, 1) << output_;
  const CheckRow& isolate = Row(on, "mde: Machine.Isolate");
  EXPECT_EQ(isolate.outcome, CheckOutcome::kProblem) << output_;
  EXPECT_THAT(isolate.fix, HasSubstr("add Machine.Isolate"));
  EXPECT_EQ(Row(on, "mde: Machine.Scan").outcome, CheckOutcome::kSkipped);
  // Granted: fine.
  GrantOnly({"Alert.ReadWrite.All", "Machine.Read.All", "Machine.LiveResponse", "Library.Manage",
             "Machine.Isolate"});
  auto granted = Run({{"CreateIndicatorsInDefender", "false"},
                      {"VMRAY_CONNECTOR_DEFENDER_RESPONSE_ACTIONS_ISOLATE", "true"}});
  EXPECT_EQ(granted.exit_code, 0) << output_;
  EXPECT_EQ(Row(granted, "mde: Machine.Isolate").outcome, CheckOutcome::kOk);
}

TEST_F(DoctorGolden, GraphPermissionsFollowTheGraphFeatures) {
  // Incident tags are on by default: SecurityIncident.ReadWrite.All is needed, Mail.Send not.
  auto r = Run();
  EXPECT_EQ(Row(r, "graph: incidents").outcome, CheckOutcome::kOk) << output_;
  EXPECT_EQ(Row(r, "graph: Mail.Send").outcome, CheckOutcome::kSkipped);
  // Mail through Graph without Mail.Send granted: a problem naming the permission.
  h_.Seed({{"entra", {{"graph_granted_roles", {"SecurityIncident.ReadWrite.All"}}}}});
  auto mail = Run({{"VMRAY_CONNECTOR_MAIL_ENABLED", "true"},
                   {"VMRAY_CONNECTOR_MAIL_TRANSPORT", "graph"},
                   {"VMRAY_CONNECTOR_MAIL_GRAPH_SENDER", "soc-bot@contoso.com"},
                   {"VMRAY_CONNECTOR_MAIL_FROM", "soc-bot@contoso.com"},
                   {"VMRAY_CONNECTOR_MAIL_TO", "soc@example.com"}});
  EXPECT_EQ(mail.exit_code, 1) << output_;
  const CheckRow& send = Row(mail, "graph: Mail.Send");
  EXPECT_EQ(send.outcome, CheckOutcome::kProblem) << output_;
  EXPECT_THAT(send.fix, HasSubstr("Microsoft Graph > Application permissions, add Mail.Send"));
  EXPECT_EQ(Row(mail, "graph: incidents").outcome, CheckOutcome::kOk);
  // Nothing on Graph needed: one skipped row, no Graph token asked for.
  const auto before =
      h_.emulators().entra().StateJson()["tokens_issued"].value("https://graph.microsoft.com", 0);
  auto none = Run({{"AddTagsToIncident", "false"}, {"AddCommentsToIncident", "false"}});
  EXPECT_EQ(Row(none, "graph: permissions").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(
      h_.emulators().entra().StateJson()["tokens_issued"].value("https://graph.microsoft.com", 0),
      before);
}

TEST_F(DoctorGolden, SentinelFeedGetsItsTokenAndNamesTheWorkspaceRole) {
  auto off = Run();
  EXPECT_EQ(Row(off, "sentinel: TI feed token").outcome, CheckOutcome::kSkipped);
  auto on = Run({{"VMRAY_CONNECTOR_FEED_ENABLED", "true"},
                 {"VMRAY_CONNECTOR_FEED_WORKSPACE_ID", "6f1b2c3d-0000-4000-8000-00000000ab01"}});
  EXPECT_EQ(on.exit_code, 0) << output_;
  EXPECT_EQ(Row(on, "sentinel: TI feed token").outcome, CheckOutcome::kOk) << output_;
  const CheckRow& role = Row(on, "sentinel: workspace role");
  EXPECT_EQ(role.outcome, CheckOutcome::kSkipped);
  EXPECT_THAT(role.detail, HasSubstr("6f1b2c3d-0000-4000-8000-00000000ab01"));
  EXPECT_THAT(role.fix, HasSubstr("Microsoft Sentinel Contributor"));
  EXPECT_EQ(
      h_.emulators().entra().StateJson()["tokens_issued"].value("https://management.azure.com", 0),
      1)
      << h_.emulators().entra().StateJson().dump();
  auto bad = Run({{"VMRAY_CONNECTOR_FEED_ENABLED", "true"},
                  {"VMRAY_CONNECTOR_FEED_WORKSPACE_ID", "6f1b2c3d-0000-4000-8000-00000000ab01"},
                  {"VMRAY_CONNECTOR_FEED_RESOURCE", "https://unknown.example.com"}});
  EXPECT_EQ(bad.exit_code, 1) << output_;
  EXPECT_EQ(Row(bad, "sentinel: TI feed token").outcome, CheckOutcome::kProblem) << output_;
}

TEST_F(DoctorGolden, WrongSecret) {
  auto r = Run({{"AzureClientSecret", "wrong-secret-DO-NOT-LOG"}});
  EXPECT_EQ(r.exit_code, 1);
  const CheckRow& row = Row(r, "entra: token for MDE");
  EXPECT_EQ(row.outcome, CheckOutcome::kProblem);
  EXPECT_THAT(row.detail, HasSubstr("rejected the client secret"));
  EXPECT_THAT(row.fix, HasSubstr("AzureClientSecret"));
  EXPECT_EQ(Row(r, "mde: permissions").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(Row(r, "vmray: URL and API key").outcome, CheckOutcome::kOk) << "VMRay is separate";
  ExpectGolden("wrong_secret");
}

TEST_F(DoctorGolden, WrongTenantAndClientAreNamed) {
  auto tenant = Run({{"AzureTenantID", "00000000-0000-4000-8000-000000000bad"}});
  EXPECT_EQ(tenant.exit_code, 1);
  EXPECT_THAT(Row(tenant, "entra: token for MDE").fix, HasSubstr("AzureTenantID"));
  auto client = Run({{"AzureClientID", "00000000-0000-4000-8000-000000000bad"}});
  EXPECT_EQ(client.exit_code, 1);
  EXPECT_THAT(Row(client, "entra: token for MDE").fix, HasSubstr("AzureClientID"));
  ExpectGolden("wrong_client_id");
}

TEST_F(DoctorGolden, WrongVmrayKey) {
  auto r = Run({{"VmrayAPIKey", "wrong-key-DO-NOT-LOG"}});
  EXPECT_EQ(r.exit_code, 1);
  const CheckRow& row = Row(r, "vmray: URL and API key");
  EXPECT_EQ(row.outcome, CheckOutcome::kProblem);
  EXPECT_THAT(row.detail, HasSubstr("401"));
  EXPECT_THAT(row.fix, HasSubstr("VmrayAPIKey"));
  EXPECT_EQ(Row(r, "vmray: sample lookup").outcome, CheckOutcome::kSkipped);
  EXPECT_EQ(Row(r, "mde: GET /api/alerts").outcome, CheckOutcome::kOk) << "MDE is separate";
  ExpectGolden("wrong_vmray_key");
}

TEST_F(DoctorGolden, VmrayDown) {
  // A port that was free a moment ago: nothing listens there.
  std::string url;
  {
    emu::EmulatorSet other;
    other.Start();
    url = other.vmray().BaseUrl();
    other.Stop();
  }
  auto r = Run({{"VmrayBaseURL", url}});
  EXPECT_EQ(r.exit_code, 1);
  const CheckRow& row = Row(r, "vmray: URL and API key");
  EXPECT_EQ(row.outcome, CheckOutcome::kProblem);
  EXPECT_THAT(row.detail, HasSubstr("cannot reach VMRay"));
  EXPECT_THAT(row.fix, HasSubstr("VmrayBaseURL"));
  ExpectGolden("vmray_down");
}

TEST_F(DoctorGolden, Mde403WithTheRoleInTheToken) {
  // The token claims the role but the API refuses: consent or licence, not the app registration.
  h_.Seed({{"mde", {{"denied_permissions", Json::array({"Machine.Read.All"})}}}});
  auto r = Run();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Row(r, "mde: Machine.Read.All").outcome, CheckOutcome::kOk);
  const CheckRow& probe = Row(r, "mde: GET /api/machines");
  EXPECT_EQ(probe.outcome, CheckOutcome::kProblem);
  EXPECT_THAT(probe.detail, HasSubstr("403"));
  EXPECT_THAT(probe.fix, HasSubstr("admin consent may be missing"));
  ExpectGolden("mde_403");
}

TEST(DoctorQuota, UsedUpQuotaIsAProblem) {
  emu::EmulatorSetOptions options;
  options.vmray.quota_limit = 1;
  ManualClock clock{std::chrono::system_clock::now()};
  Harness h(clock, options);
  DoctorOptions o;
  o.load.environment = h.Environment();
  o.clock = &clock;
  std::ostringstream first;
  EXPECT_EQ(RunDoctor(o, first).exit_code, 0) << first.str();
  EXPECT_THAT(first.str(), HasSubstr("0 of 1 used"));

  // One submission uses the quota up.
  const std::string file = h.dir() + "/sample.bin";
  std::ofstream(file, std::ios::binary) << "MZ quota";
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(app::RunCli({"submit", file}, h.Environment(), out, err, clock), 0) << err.str();

  std::ostringstream second;
  auto after = RunDoctor(o, second);
  EXPECT_EQ(after.exit_code, 1) << second.str();
  EXPECT_THAT(second.str(), HasSubstr("the quota is used up: 1 of 1"));
}

TEST_F(DoctorGolden, InvalidConfigurationIsExit2) {
  auto r = Run({{"VmrayAPIMaxRetry", "many"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.config_invalid);
  ASSERT_EQ(r.rows.size(), 1u) << "nothing else is checked";
  EXPECT_EQ(r.rows[0].outcome, CheckOutcome::kProblem);
  EXPECT_THAT(r.rows[0].detail, HasSubstr("vmray.api_max_retry"));
  ExpectGolden("invalid_config");
}

TEST_F(DoctorGolden, CommandLineExitCodeFollowsTheTable) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(app::RunCli({"doctor"}, h_.Environment(), out, err, clock_), 0) << out.str();
  GrantOnly({"Alert.ReadWrite.All"});
  EXPECT_EQ(app::RunCli({"doctor"}, h_.Environment(), out, err, clock_), 1);
  EXPECT_EQ(app::RunCli({"doctor"}, h_.Environment({{"VmrayAPIMaxRetry", "x"}}), out, err, clock_),
            2);
  EXPECT_THAT(out.str(), Not(HasSubstr("DO-NOT-LOG")));
  EXPECT_THAT(err.str(), Not(HasSubstr("DO-NOT-LOG")));
}

}  // namespace
}  // namespace vc::testing
