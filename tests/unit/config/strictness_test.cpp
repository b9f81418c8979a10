// Unknown keys, near-miss environment names and original settings that are not supported yet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace vc::config {
namespace {

using test_util::Dump;
using test_util::FindProblem;
using test_util::LoadEnv;
using test_util::LoadToml;
using test_util::RequiredEnv;
using test_util::TempFile;
using test_util::With;
using ::testing::HasSubstr;

TEST(ConfigStrict, UnknownTomlKeyNamesPathAndClosestKey) {
  TempFile file("[defender]\npage_size = 100\npoll_intervall_seconds = 30\n");
  auto result = LoadConfig({file.path(), RequiredEnv()});
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "defender.poll_intervall_seconds");
  EXPECT_EQ(result.problems[0].source, file.path() + ":3");
  EXPECT_EQ(result.problems[0].message,
            "unknown key defender.poll_intervall_seconds; did you mean "
            "defender.poll_interval_seconds?");
}

TEST(ConfigStrict, UnknownSectionIsReportedOnceWithSuggestion) {
  auto result = LoadToml("[vmary]\nbase_url = \"https://x\"\napi_key = \"k\"\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmary");
  EXPECT_EQ(result.problems[0].message, "unknown section vmary; did you mean vmray?");
}

TEST(ConfigStrict, UnknownNestedSectionIsSuggested) {
  auto result = LoadToml("[defender.live_respons]\ngive_up_after_hours = 2\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("did you mean defender.live_response?"));
}

TEST(ConfigStrict, KeyInTheWrongSectionPointsToItsSection) {
  auto result = LoadToml("[vmray]\npage_size = 10\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].message,
            "unknown key vmray.page_size; did you mean defender.page_size (in section "
            "[defender])?");
}

TEST(ConfigStrict, TopLevelKeyWithoutSectionIsUnknown) {
  auto result = LoadToml("workers = 4\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("did you mean daemon.workers"));
}

TEST(ConfigStrict, UnrelatedKeyHasNoSuggestionButPointsToTheDocs) {
  auto result = LoadToml("[log]\ncolour = true\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].message,
            "unknown key log.colour; docs/configuration.md lists every valid key");
}

TEST(ConfigStrict, SectionWrittenAsValueIsAProblem) {
  auto result = LoadToml("log = \"debug\"\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "log");
  EXPECT_THAT(result.problems[0].message, HasSubstr("write it as [log]"));
}

TEST(ConfigStrict, DottedKeysAndInlineTablesAreUnderstood) {
  auto result = LoadToml(
      "defender.live_response = { poll_interval_seconds = 5 }\n"
      "vmray.api_max_retry = 1\n");
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->defender.live_response.poll_interval_seconds, 5);
  EXPECT_EQ(result.config->vmray.api_max_retry, 1);
}

TEST(ConfigStrict, WrongCaseOfAnOriginalNameIsAProblemNamingTheIntendedVariable) {
  // The original Function read VmrayApiMaxRetry while its template set VmrayAPIMaxRetry.
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayApiMaxRetry", "5"}}));
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmray.api_max_retry");
  EXPECT_EQ(result.problems[0].source, "env VmrayApiMaxRetry");
  EXPECT_THAT(result.problems[0].message, HasSubstr("case-sensitive"));
  EXPECT_THAT(result.problems[0].message, HasSubstr("did you mean VmrayAPIMaxRetry?"));
}

TEST(ConfigStrict, WrongCaseOfASystematicNameIsAProblem) {
  auto result = LoadEnv(With(RequiredEnv(), {{"vmray_connector_daemon_workers", "4"}}));
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "daemon.workers");
  EXPECT_THAT(result.problems[0].message,
              HasSubstr("did you mean VMRAY_CONNECTOR_DAEMON_WORKERS?"));
}

TEST(ConfigStrict, TypoOfAnOriginalNameIsAProblem) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayAPIMaxRety", "5"},
                                             {"MachineAvailabiltyTimeout", "5"},
                                             {"FetchQuarantineFiles", "true"}}));
  ASSERT_EQ(result.problems.size(), 3u) << Dump(result);
  EXPECT_THAT(FindProblem(result, "vmray.api_max_retry")->message,
              HasSubstr("VmrayAPIMaxRety is not a known setting; did you mean VmrayAPIMaxRetry?"));
  EXPECT_THAT(FindProblem(result, "defender.machine_availability_timeout_minutes")->message,
              HasSubstr("did you mean MachineAvailabilityTimeout?"));
  EXPECT_THAT(FindProblem(result, "defender.fetch_quarantined_files")->message,
              HasSubstr("did you mean FetchQuarantinedFiles?"));
}

TEST(ConfigStrict, TypoOfASystematicNameIsAProblem) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_DAEMON_WORKER", "4"}}));
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "daemon.workers");
  EXPECT_THAT(result.problems[0].message,
              HasSubstr("did you mean VMRAY_CONNECTOR_DAEMON_WORKERS?"));
}

TEST(ConfigStrict, FarUnknownSystematicNameIsOnlyAWarning) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_SOMETHING_ELSE", "1"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("VMRAY_CONNECTOR_SOMETHING_ELSE"));
}

TEST(ConfigStrict, ConfigFileVariableIsKnownAndItsTyposAreCaught) {
  auto known = LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_CONFIG", "/etc/vc.toml"}}));
  ASSERT_TRUE(known.config) << Dump(known);
  EXPECT_TRUE(known.warnings.empty()) << Dump(known);
  auto typo = LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_CONFG", "/etc/vc.toml"}}));
  ASSERT_EQ(typo.problems.size(), 1u) << Dump(typo);
  EXPECT_EQ(typo.problems[0].path, "");
  EXPECT_THAT(typo.problems[0].message, HasSubstr("did you mean VMRAY_CONNECTOR_CONFIG?"));
}

TEST(ConfigStrict, CommonVariablesAreNeverFlagged) {
  auto result = LoadEnv(With(RequiredEnv(), {{"AZURE_CLIENT_ID", "x"},
                                             {"AZURE_TENANT_ID", "x"},
                                             {"AZURE_CLIENT_SECRET", "x"},
                                             {"HOME", "/root"},
                                             {"PATH", "/usr/bin"},
                                             {"HOSTNAME", "box"},
                                             {"VMRAY_API_KEY", "x"},
                                             {"LANG", "C.UTF-8"},
                                             {"http_proxy", "http://proxy:3128"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
}

TEST(ConfigStrict, UnsupportedOriginalSettingsGiveWarningsNotProblems) {
  auto result = LoadEnv(With(RequiredEnv(), {{"DefenderIndicatorAction", "Audit"},
                                             {"StorageAccount", "account"},
                                             {"VmrayResubmit", "True"},
                                             {"LogLevel", "DEBUG"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  ASSERT_EQ(result.warnings.size(), 4u) << Dump(result);
  for (const auto& warning : result.warnings) {
    EXPECT_THAT(warning, HasSubstr("recognises but does not support yet; it is ignored"));
  }
  EXPECT_THAT(Dump(result), HasSubstr("env DefenderIndicatorAction:"));
  EXPECT_THAT(Dump(result), HasSubstr("DefenderIndicatorActionForMaliciousFile"));
  EXPECT_EQ(result.config->log.level, "info");  // LogLevel really is ignored
}

TEST(ConfigStrict, OriginalFeedSettingsApply) {
  auto result =
      LoadEnv(With(RequiredEnv(), {{"AzureWorkspaceID", "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"},
                                   {"Polling", "*/10 * * * *"},
                                   {"VmrayInitialFetchDate", "30"},
                                   {"VMRAY_CONNECTOR_FEED_ENABLED", "true"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
  EXPECT_TRUE(result.config->feed.enabled);
  EXPECT_EQ(result.config->feed.workspace_id, "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b");
  EXPECT_EQ(result.config->feed.polling, "*/10 * * * *");
  EXPECT_EQ(result.config->feed.initial_fetch_days, 30);
}

TEST(ConfigStrict, FeedNeedsAWorkspaceAndAnIntervalSchedule) {
  auto result = LoadEnv(
      With(RequiredEnv(), {{"Polling", "30 2 * * 1"}, {"VMRAY_CONNECTOR_FEED_ENABLED", "true"}}));
  ASSERT_FALSE(result.config);
  EXPECT_THAT(Dump(result), HasSubstr("feed.workspace_id"));
  EXPECT_THAT(Dump(result), HasSubstr("AzureWorkspaceID"));
  EXPECT_THAT(Dump(result), HasSubstr("'30 2 * * 1' is no interval schedule"));
}

TEST(ConfigStrict, OriginalIndicatorSettingsApply) {
  auto result =
      LoadEnv(With(RequiredEnv(), {{"CreateIndicatorsInDefender", "False"},
                                   {"DefenderIndicatorActionForMaliciousFile", "BlockAndRemediate"},
                                   {"DefenderIndicatorActionForSuspiciousIPAddressURL", "warn"},
                                   {"DefenderIndicatorAlert", "True"},
                                   {"IndicatorExpirationInDays", "90"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
  const auto& ind = result.config->defender.indicators;
  EXPECT_FALSE(ind.enabled);
  EXPECT_EQ(ind.action_malicious_file, "BlockAndRemediate");
  EXPECT_EQ(ind.action_suspicious_network, "Warn");
  EXPECT_EQ(ind.action_malicious_network, "Block");
  EXPECT_EQ(ind.action_suspicious_file, "Audit");
  EXPECT_TRUE(ind.generate_alert);
  EXPECT_EQ(ind.expiration_days, 90);
  EXPECT_EQ(ind.budget, 10000);
}

TEST(ConfigStrict, BlockAndRemediateForNetworkIndicatorsAndAnOversizedBudgetAreProblems) {
  auto result = LoadEnv(
      With(RequiredEnv(), {{"DefenderIndicatorActionForMaliciousIPAddressURL", "BlockAndRemediate"},
                           {"VMRAY_CONNECTOR_DEFENDER_INDICATORS_BUDGET", "15001"}}));
  ASSERT_FALSE(result.config);
  const std::string dump = Dump(result);
  EXPECT_THAT(dump, HasSubstr("defender.indicators.action_malicious_network"));
  EXPECT_THAT(dump, HasSubstr(R"(one of "Allowed", "Audit", "Block", "Warn")"));
  EXPECT_THAT(dump, HasSubstr(R"(got "BlockAndRemediate")"));
  EXPECT_THAT(dump, HasSubstr("defender.indicators.budget"));
}

TEST(ConfigStrict, LegacyResubmitPointsToResubmitAfter) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayResubmit", "True"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("VmrayResubmitAfter"));
  EXPECT_EQ(result.config->vmray.resubmit_after_days, 7);
}

TEST(ConfigStrict, NearMissOfAnUnsupportedSettingIsAWarning) {
  auto result = LoadEnv(
      With(RequiredEnv(), {{"StorageAcount", "account"}, {"defenderindicatoraction", "Audit"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  ASSERT_EQ(result.warnings.size(), 2u) << Dump(result);
  EXPECT_THAT(Dump(result), HasSubstr("it looks like StorageAccount"));
  EXPECT_THAT(Dump(result), HasSubstr("it looks like DefenderIndicatorAction"));
}

TEST(ConfigStrict, EmptyUnknownVariablesAreIgnored) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayApiMaxRetry", ""}, {"StorageAccount", ""}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
}

}  // namespace
}  // namespace vc::config
