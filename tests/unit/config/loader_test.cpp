#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace vc::config {
namespace {

using test_util::Dump;
using test_util::Env;
using test_util::FindProblem;
using test_util::LoadEnv;
using test_util::LoadToml;
using test_util::RequiredEnv;
using test_util::TempFile;
using test_util::With;
using ::testing::HasSubstr;

TEST(ConfigLoad, DefaultsWithOnlyTheRequiredSettings) {
  auto result = LoadEnv(RequiredEnv());
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.problems.empty());
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.azure.tenant_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(c.azure.client_secret.Reveal(), test_util::kClientSecret);
  EXPECT_EQ(c.azure.authority_host, "https://login.microsoftonline.com");
  EXPECT_EQ(c.azure.token_version, "v2");
  EXPECT_EQ(c.vmray.base_url, "https://eu.cloud.vmray.com");
  EXPECT_EQ(c.vmray.api_key.Reveal(), test_util::kApiKey);
  EXPECT_EQ(c.vmray.resubmit_after_days, 7);
  EXPECT_EQ(c.vmray.api_retry_timeout_minutes, 5);
  EXPECT_EQ(c.vmray.api_max_retry, 3);
  EXPECT_EQ(c.vmray.analysis_job_timeout_minutes, 30);
  EXPECT_EQ(c.vmray.sample_verdict, "Malicious");
  EXPECT_EQ(c.vmray.max_file_size_bytes, 200LL * 1024 * 1024);
  EXPECT_TRUE(c.defender.enabled);
  EXPECT_EQ(c.defender.page_size, 500);
  EXPECT_EQ(c.defender.alert_statuses, (std::vector<std::string>{"New", "InProgress"}));
  EXPECT_EQ(c.defender.alert_severities.size(), 5u);
  EXPECT_TRUE(c.defender.title_filters.empty());
  EXPECT_EQ(c.defender.machine_availability_timeout_minutes, 10);
  EXPECT_EQ(c.defender.machine_availability_retry, 5);
  EXPECT_EQ(c.defender.live_response.give_up_after_hours, 24);
  EXPECT_EQ(c.store.path, "vmray-connector.db");
  EXPECT_EQ(c.daemon.workers, 8);
  EXPECT_EQ(c.log.level, "info");
}

TEST(ConfigLoad, NothingIsRequiredWhenDefenderIsDisabled) {
  auto result = LoadEnv({{"VMRAY_CONNECTOR_DEFENDER_ENABLED", "false"}});
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_FALSE(result.config->defender.enabled);
  EXPECT_TRUE(result.config->azure.client_secret.empty());
}

TEST(ConfigLoad, TomlOverridesDefaults) {
  auto result = LoadToml(R"(
[vmray]
api_max_retry = 7
sample_verdict = "Malicious & Suspicious"

[defender]
page_size = 1000
alert_statuses = ["New", "InProgress", "Resolved"]
title_filters = ["Ransomware", "Trojan"]
enforce_rate_limits = false

[defender.live_response]
give_up_after_hours = 48

[daemon]
workers = 2

[log]
format = "json"
)");
  ASSERT_TRUE(result.config) << Dump(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.vmray.api_max_retry, 7);
  EXPECT_EQ(c.vmray.sample_verdict, "Malicious & Suspicious");
  EXPECT_EQ(c.defender.page_size, 1000);
  EXPECT_EQ(c.defender.alert_statuses, (std::vector<std::string>{"New", "InProgress", "Resolved"}));
  EXPECT_EQ(c.defender.title_filters, (std::vector<std::string>{"Ransomware", "Trojan"}));
  EXPECT_FALSE(c.defender.enforce_rate_limits);
  EXPECT_EQ(c.defender.live_response.give_up_after_hours, 48);
  EXPECT_EQ(c.daemon.workers, 2);
  EXPECT_EQ(c.log.format, "json");
  EXPECT_EQ(c.vmray.api_retry_timeout_minutes, 5);  // untouched keys keep their defaults
}

TEST(ConfigLoad, EnvironmentOverridesToml) {
  auto result = LoadToml(
      "[vmray]\napi_max_retry = 7\n[daemon]\nworkers = 2\n",
      With(RequiredEnv(), {{"VmrayAPIMaxRetry", "9"}, {"VMRAY_CONNECTOR_DAEMON_WORKERS", "16"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.api_max_retry, 9);
  EXPECT_EQ(result.config->daemon.workers, 16);
}

TEST(ConfigLoad, EveryOriginalNameSetsItsKey) {
  Env env = {{"AzureTenantID", "t"},
             {"AzureClientID", "c"},
             {"AzureClientSecret", "DO-NOT-LOG-s1"},
             {"VmrayBaseURL", "https://us.cloud.vmray.com/"},
             {"VmrayAPIKey", "DO-NOT-LOG-k1"},
             {"VmrayResubmitAfter", "0"},
             {"VmrayAPIRetryTimeout", "10"},
             {"VmrayAPIMaxRetry", "4"},
             {"VmrayAnalysisJobTimeout", "45"},
             {"VmraySampleVerdict", "Suspicious"},
             {"DefenderApiRetryTimeout", "6"},
             {"DefenderApiMaxRetry", "2"},
             {"MachineAvailabilityTimeout", "20"},
             {"MachineAvailabilityRetry", "8"},
             {"FetchQuarantinedFiles", "False"},
             {"FilterAlertTitleWith", "Emotet, Qakbot"},
             {"DefenderAlertSeverity", R"(["Medium","High"])"},
             {"DefenderAlertStatus", "New"}};
  auto result = LoadEnv(env);
  ASSERT_TRUE(result.config) << Dump(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.azure.tenant_id, "t");
  EXPECT_EQ(c.azure.client_id, "c");
  EXPECT_EQ(c.azure.client_secret.Reveal(), "DO-NOT-LOG-s1");
  EXPECT_EQ(c.vmray.base_url, "https://us.cloud.vmray.com");
  EXPECT_EQ(c.vmray.api_key.Reveal(), "DO-NOT-LOG-k1");
  EXPECT_EQ(c.vmray.resubmit_after_days, 0);
  EXPECT_EQ(c.vmray.api_retry_timeout_minutes, 10);
  EXPECT_EQ(c.vmray.api_max_retry, 4);
  EXPECT_EQ(c.vmray.analysis_job_timeout_minutes, 45);
  EXPECT_EQ(c.vmray.sample_verdict, "Suspicious");
  EXPECT_EQ(c.defender.api_retry_timeout_minutes, 6);
  EXPECT_EQ(c.defender.api_max_retry, 2);
  EXPECT_EQ(c.defender.machine_availability_timeout_minutes, 20);
  EXPECT_EQ(c.defender.machine_availability_retry, 8);
  EXPECT_FALSE(c.defender.fetch_quarantined_files);
  EXPECT_EQ(c.defender.title_filters, (std::vector<std::string>{"Emotet", "Qakbot"}));
  EXPECT_EQ(c.defender.alert_severities, (std::vector<std::string>{"Medium", "High"}));
  EXPECT_EQ(c.defender.alert_statuses, (std::vector<std::string>{"New"}));
}

TEST(ConfigLoad, BothNamesWithTheSameValueAreFine) {
  auto result = LoadEnv(With(
      RequiredEnv(), {{"VMRAY_CONNECTOR_VMRAY_API_MAX_RETRY", "6"}, {"VmrayAPIMaxRetry", "6"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.api_max_retry, 6);
}

TEST(ConfigLoad, BothNamesWithDifferentValuesIsAProblem) {
  auto result = LoadEnv(With(
      RequiredEnv(), {{"VMRAY_CONNECTOR_VMRAY_API_MAX_RETRY", "6"}, {"VmrayAPIMaxRetry", "2"}}));
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmray.api_max_retry");
  EXPECT_THAT(result.problems[0].message,
              HasSubstr("set only one of VMRAY_CONNECTOR_VMRAY_API_MAX_RETRY or VmrayAPIMaxRetry"));
}

// The Enrichment Function App spelt two settings differently (vmrayBaseURL, vmrayAPIKey); its
// app settings work as they are, and a third spelling with another value is caught like two.
TEST(ConfigLoad, EnrichmentAppSpellingsSetTheVmrayKeys) {
  Env env = {{"AzureTenantID", "t"},
             {"AzureClientID", "c"},
             {"AzureClientSecret", "DO-NOT-LOG-s1"},
             {"vmrayBaseURL", "https://eu.cloud.vmray.com/"},
             {"vmrayAPIKey", "DO-NOT-LOG-k2"}};
  auto result = LoadEnv(env);
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.base_url, "https://eu.cloud.vmray.com");
  EXPECT_EQ(result.config->vmray.api_key.Reveal(), "DO-NOT-LOG-k2");
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);

  env.push_back({"VmrayBaseURL", "https://eu.cloud.vmray.com/"});
  env.push_back({"VmrayAPIKey", "DO-NOT-LOG-k3"});
  result = LoadEnv(env);
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmray.api_key");
  EXPECT_THAT(result.problems[0].message, HasSubstr("set only one of VmrayAPIKey or vmrayAPIKey"));
  EXPECT_EQ(result.problems[0].message.find("DO-NOT-LOG"), std::string::npos);
}

TEST(ConfigLoad, EmptyEnvironmentVariableCountsAsUnset) {
  auto result = LoadToml(
      "[vmray]\napi_max_retry = 7\n",
      With(RequiredEnv(), {{"VmrayAPIMaxRetry", ""}, {"VMRAY_CONNECTOR_VMRAY_API_MAX_RETRY", ""}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.api_max_retry, 7);
}

TEST(ConfigLoad, TomlTypeErrorsNameKeyFileLineValueAndAcceptedValues) {
  TempFile file(R"([vmray]
api_max_retry = "3"
[defender]
enabled = "yes"
alert_statuses = "New"
page_size = 1.5
[log]
level = 3
)");
  auto result = LoadConfig({file.path(), RequiredEnv()});
  ASSERT_EQ(result.problems.size(), 5u) << Dump(result);
  const auto& retry = result.problems[0];
  EXPECT_EQ(retry.path, "vmray.api_max_retry");
  EXPECT_EQ(retry.source, file.path() + ":2");
  EXPECT_THAT(retry.message, HasSubstr("an integer from 0 to 10"));
  EXPECT_THAT(retry.message, HasSubstr("a string \"3\""));
  EXPECT_EQ(result.problems[1].path, "defender.enabled");
  EXPECT_THAT(result.problems[1].message, HasSubstr("true or false"));
  EXPECT_EQ(result.problems[2].path, "defender.alert_statuses");
  EXPECT_THAT(result.problems[2].message, HasSubstr("\"InProgress\""));
  EXPECT_EQ(result.problems[3].path, "defender.page_size");
  EXPECT_THAT(result.problems[3].message, HasSubstr("a float 1.5"));
  EXPECT_EQ(result.problems[4].path, "log.level");
  EXPECT_THAT(result.problems[4].message, HasSubstr("\"critical\""));
  EXPECT_EQ(result.problems[4].source, file.path() + ":8");
}

TEST(ConfigLoad, TomlListElementsMustBeStrings) {
  auto result = LoadToml("[defender]\ntitle_filters = [\"a\", 2]\n");
  ASSERT_NE(FindProblem(result, "defender.title_filters"), nullptr) << Dump(result);
  EXPECT_THAT(FindProblem(result, "defender.title_filters")->message,
              HasSubstr("an array holding an integer 2"));
}

TEST(ConfigLoad, EnvironmentTypeErrorsNameTheVariableAndValue) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayAPIMaxRetry", "three"},
                                             {"FetchQuarantinedFiles", "maybe"},
                                             {"VMRAY_CONNECTOR_LOG_FORMAT", "xml"}}));
  ASSERT_EQ(result.problems.size(), 3u) << Dump(result);
  auto* retry = FindProblem(result, "vmray.api_max_retry");
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->source, "env VmrayAPIMaxRetry");
  EXPECT_THAT(retry->message, HasSubstr("\"three\""));
  EXPECT_THAT(retry->message, HasSubstr("0 to 10"));
  auto* fetch = FindProblem(result, "defender.fetch_quarantined_files");
  ASSERT_NE(fetch, nullptr);
  EXPECT_EQ(fetch->source, "env FetchQuarantinedFiles");
  EXPECT_THAT(fetch->message, HasSubstr("\"maybe\""));
  auto* format = FindProblem(result, "log.format");
  ASSERT_NE(format, nullptr);
  EXPECT_EQ(format->source, "env VMRAY_CONNECTOR_LOG_FORMAT");
  EXPECT_THAT(format->message, HasSubstr("\"text\", \"json\""));
}

TEST(ConfigLoad, OutOfRangeNumbersAreProblemsFromBothSources) {
  auto result = LoadToml("[daemon]\nworkers = 0\n[defender]\npage_size = 1001\n",
                         With(RequiredEnv(), {{"VmrayResubmitAfter", "101"}}));
  ASSERT_EQ(result.problems.size(), 3u) << Dump(result);
  EXPECT_THAT(FindProblem(result, "daemon.workers")->message,
              HasSubstr("0 is out of range: expected an integer from 1 to 64"));
  EXPECT_THAT(FindProblem(result, "defender.page_size")->message,
              HasSubstr("1001 is out of range: expected an integer from 1 to 1000"));
  EXPECT_THAT(FindProblem(result, "vmray.resubmit_after_days")->message,
              HasSubstr("101 is out of range: expected an integer from 0 to 100"));
}

TEST(ConfigLoad, RangeLimitsThemselvesAreAccepted) {
  auto result = LoadEnv(With(RequiredEnv(), {{"VmrayResubmitAfter", "100"},
                                             {"VMRAY_CONNECTOR_DAEMON_WORKERS", "64"},
                                             {"VMRAY_CONNECTOR_DEFENDER_PAGE_SIZE", "1"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.resubmit_after_days, 100);
  EXPECT_EQ(result.config->daemon.workers, 64);
  EXPECT_EQ(result.config->defender.page_size, 1);
}

TEST(ConfigLoad, EnumsAreNormalisedToTheirCanonicalSpelling) {
  auto result = LoadToml("[azure]\ntoken_version = \"V1\"\n[log]\nlevel = \"WARN\"\n",
                         With(RequiredEnv(), {{"VmraySampleVerdict", "malicious & SUSPICIOUS"},
                                              {"DefenderAlertStatus", "new,inprogress,NEW"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->azure.token_version, "v1");
  EXPECT_EQ(result.config->log.level, "warn");
  EXPECT_EQ(result.config->vmray.sample_verdict, "Malicious & Suspicious");
  EXPECT_EQ(result.config->defender.alert_statuses,
            (std::vector<std::string>{"New", "InProgress"}));
}

TEST(ConfigLoad, UnknownEnumListValuesAreAllNamed) {
  auto result = LoadEnv(With(RequiredEnv(), {{"DefenderAlertSeverity", "High,Critical,Severe"}}));
  auto* problem = FindProblem(result, "defender.alert_severities");
  ASSERT_NE(problem, nullptr) << Dump(result);
  EXPECT_THAT(problem->message, HasSubstr("\"Critical\", \"Severe\""));
  EXPECT_THAT(problem->message, HasSubstr("\"UnSpecified\""));
}

TEST(ConfigLoad, EnumListMustNotBeEmpty) {
  auto result = LoadToml("[defender]\nalert_statuses = []\n");
  auto* problem = FindProblem(result, "defender.alert_statuses");
  ASSERT_NE(problem, nullptr) << Dump(result);
  EXPECT_THAT(problem->message, HasSubstr("got an empty list"));
}

TEST(ConfigLoad, ListsFromCommaTextAndJsonArray) {
  auto comma = LoadEnv(With(RequiredEnv(), {{"FilterAlertTitleWith", " Emotet ,, Qakbot ,"}}));
  ASSERT_TRUE(comma.config) << Dump(comma);
  EXPECT_EQ(comma.config->defender.title_filters, (std::vector<std::string>{"Emotet", "Qakbot"}));
  auto json = LoadEnv(With(RequiredEnv(), {{"DefenderAlertStatus", R"(["New","InProgress"])"},
                                           {"FilterAlertTitleWith", R"(["a, b", "c"])"}}));
  ASSERT_TRUE(json.config) << Dump(json);
  EXPECT_EQ(json.config->defender.alert_statuses, (std::vector<std::string>{"New", "InProgress"}));
  EXPECT_EQ(json.config->defender.title_filters, (std::vector<std::string>{"a, b", "c"}));
}

TEST(ConfigLoad, BrokenJsonListInEnvironmentIsAProblem) {
  auto result = LoadEnv(With(RequiredEnv(), {{"DefenderAlertStatus", R"(["New",)"}}));
  auto* problem = FindProblem(result, "defender.alert_statuses");
  ASSERT_NE(problem, nullptr) << Dump(result);
  EXPECT_EQ(problem->source, "env DefenderAlertStatus");
  EXPECT_THAT(problem->message, HasSubstr("JSON array"));
}

TEST(ConfigLoad, PlainHttpIsRefusedForARemoteHost) {
  auto result = LoadEnv({{"AzureTenantID", "t"},
                         {"AzureClientID", "c"},
                         {"AzureClientSecret", test_util::kClientSecret},
                         {"VmrayBaseURL", "http://vmray.example.com"},
                         {"VmrayAPIKey", test_util::kApiKey}});
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmray.base_url");
  EXPECT_EQ(result.problems[0].source, "env VmrayBaseURL");
  EXPECT_THAT(result.problems[0].message, HasSubstr("only for loopback hosts"));
  EXPECT_THAT(result.problems[0].message, HasSubstr("clear text"));
}

TEST(ConfigLoad, PlainHttpIsAcceptedForLoopback) {
  auto result = LoadToml(R"([defender]
api_base_url = "http://127.0.0.1:18080"
[azure]
authority_host = "http://localhost:18081/"
)",
                         {{"AzureTenantID", "t"},
                          {"AzureClientID", "c"},
                          {"AzureClientSecret", test_util::kClientSecret},
                          {"VmrayBaseURL", "http://127.0.0.1:18082"},
                          {"VmrayAPIKey", test_util::kApiKey}});
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.base_url, "http://127.0.0.1:18082");
  EXPECT_EQ(result.config->defender.api_base_url, "http://127.0.0.1:18080");
  EXPECT_EQ(result.config->azure.authority_host, "http://localhost:18081");
}

TEST(ConfigLoad, RequiredKeysWhenDefenderIsEnabledNameBothVariables) {
  auto result = LoadEnv({});
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.problems.size(), 5u) << Dump(result);
  struct Expected {
    const char* path;
    const char* systematic;
    const char* original;
  };
  for (const Expected& e :
       {Expected{"azure.tenant_id", "VMRAY_CONNECTOR_AZURE_TENANT_ID", "AzureTenantID"},
        Expected{"azure.client_id", "VMRAY_CONNECTOR_AZURE_CLIENT_ID", "AzureClientID"},
        Expected{"azure.client_secret", "VMRAY_CONNECTOR_AZURE_CLIENT_SECRET", "AzureClientSecret"},
        Expected{"vmray.base_url", "VMRAY_CONNECTOR_VMRAY_BASE_URL", "VmrayBaseURL"},
        Expected{"vmray.api_key", "VMRAY_CONNECTOR_VMRAY_API_KEY", "VmrayAPIKey"}}) {
    auto* problem = FindProblem(result, e.path);
    ASSERT_NE(problem, nullptr) << e.path;
    EXPECT_THAT(problem->message, HasSubstr(e.systematic));
    EXPECT_THAT(problem->message, HasSubstr(e.original));
    EXPECT_THAT(problem->source, HasSubstr("defender.enabled"));
  }
}

TEST(ConfigLoad, RequiredKeyWithABadValueIsReportedOnceNotAsMissing) {
  Env env = RequiredEnv();
  env[3] = {"VmrayBaseURL", "ftp://vmray.example"};
  auto result = LoadEnv(env);
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("https://"));
  EXPECT_THAT(result.problems[0].message, ::testing::Not(HasSubstr("missing")));
}

TEST(ConfigLoad, EmptyRequiredValueInTomlIsMissing) {
  auto result = LoadToml("[azure]\ntenant_id = \"\"\n", {{"AzureClientID", "c"},
                                                         {"AzureClientSecret", "s-secret"},
                                                         {"VmrayBaseURL", "https://x.example"},
                                                         {"VmrayAPIKey", "k-secret"}});
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "azure.tenant_id");
  EXPECT_THAT(result.problems[0].message, HasSubstr("missing"));
}

TEST(ConfigLoad, TomlSyntaxErrorGivesLineAndColumn) {
  TempFile file("[vmray]\napi_max_retry = 3\nbase_url = \"https://x\n[log]\n");
  auto result = LoadConfig({file.path(), RequiredEnv()});
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "");
  EXPECT_THAT(result.problems[0].source, HasSubstr(file.path() + ":3:"));
  EXPECT_THAT(result.problems[0].message, HasSubstr("not valid TOML (line 3, column"));
}

TEST(ConfigLoad, UnparsableFileDoesNotClaimItsKeysAreMissing) {
  // The file may well hold the required keys; saying they are missing would mislead.
  auto result =
      LoadToml("[azure]\ntenant_id = \"t\"\nclient_id = \"c\n", {{"VmrayAPIMaxRetry", "11"}});
  ASSERT_EQ(result.problems.size(), 2u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("not valid TOML (line 3"));
  EXPECT_EQ(result.problems[1].path, "vmray.api_max_retry");  // other sources are still checked
}

TEST(ConfigLoad, RequiredProblemSaysWhereTheConditionCameFrom) {
  auto by_default = LoadEnv({});
  EXPECT_EQ(FindProblem(by_default, "azure.tenant_id")->source,
            "required because defender.enabled is true by default");
  auto by_env = LoadEnv({{"VMRAY_CONNECTOR_DEFENDER_ENABLED", "1"}});
  EXPECT_EQ(FindProblem(by_env, "azure.tenant_id")->source,
            "required because defender.enabled is true (env VMRAY_CONNECTOR_DEFENDER_ENABLED)");
}

TEST(ConfigLoad, MissingFileIsAProblemThatSaysWhatToDo) {
  auto result = LoadConfig({"/nonexistent/vmray-connector.toml", {}});
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_EQ(result.problems[0].source, "/nonexistent/vmray-connector.toml");
  EXPECT_THAT(result.problems[0].message, HasSubstr("No such file or directory"));
  EXPECT_THAT(result.problems[0].message, HasSubstr("check the path"));
}

TEST(ConfigLoad, EveryProblemIsCollected) {
  auto result = LoadToml(R"([vmray]
api_max_retry = 99
[defender]
poll_intervall_seconds = 5
[log]
format = "xml"
)");
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.problems.size(), 3u) << Dump(result);
  EXPECT_EQ(result.problems[0].path, "vmray.api_max_retry");
  EXPECT_EQ(result.problems[1].path, "defender.poll_intervall_seconds");
  EXPECT_EQ(result.problems[2].path, "log.format");
}

TEST(ConfigLoad, ProblemsFromFileEnvironmentAndRulesComeTogether) {
  auto result =
      LoadToml("[daemon]\nworkers = 100\n", {{"VmrayAPIMaxRetry", "x"}, {"VmrayApiMaxRetry", "5"}});
  // workers, VmrayAPIMaxRetry, the VmrayApiMaxRetry near miss and five missing keys.
  EXPECT_EQ(result.problems.size(), 8u) << Dump(result);
}

TEST(ConfigLoad, ConnectTimeoutMustNotExceedRequestTimeout) {
  auto result = LoadToml("[http]\nconnect_timeout_seconds = 90\nrequest_timeout_seconds = 30\n");
  auto* problem = FindProblem(result, "http.connect_timeout_seconds");
  ASSERT_NE(problem, nullptr) << Dump(result);
  EXPECT_THAT(problem->message, HasSubstr("http.request_timeout_seconds"));
}

TEST(ConfigLoad, UnreadableCaFileIsAProblem) {
  auto result =
      LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_HTTP_CA_FILE", "/nonexistent/ca.pem"}}));
  auto* problem = FindProblem(result, "http.ca_file");
  ASSERT_NE(problem, nullptr) << Dump(result);
  EXPECT_EQ(problem->source, "env VMRAY_CONNECTOR_HTTP_CA_FILE");
  TempFile ca("-----BEGIN CERTIFICATE-----\n", ".pem");
  auto ok = LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_HTTP_CA_FILE", ca.path()}}));
  ASSERT_TRUE(ok.config) << Dump(ok);
  EXPECT_EQ(ok.config->http.ca_file, ca.path());
}

TEST(ConfigLoad, EmptyStorePathIsAProblem) {
  auto result = LoadToml("[store]\npath = \"\"\n");
  ASSERT_NE(FindProblem(result, "store.path"), nullptr) << Dump(result);
}

TEST(ConfigLoad, InsecureTlsGivesAWarningNotAProblem) {
  auto result =
      LoadEnv(With(RequiredEnv(), {{"VMRAY_CONNECTOR_HTTP_INSECURE_SKIP_TLS_VERIFY", "yes"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.config->http.insecure_skip_tls_verify);
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("not verified"));
}

TEST(ConfigLoad, LaterDuplicateInTheSnapshotWins) {
  auto result =
      LoadEnv(With(RequiredEnv(), {{"VmrayAPIMaxRetry", "1"}, {"VmrayAPIMaxRetry", "2"}}));
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_EQ(result.config->vmray.api_max_retry, 2);
}

TEST(ConfigLoad, CurrentEnvironmentReadsTheProcessEnvironment) {
  ASSERT_EQ(::setenv("VC_CONFIG_TEST_MARKER", "a=b", 1), 0);
  auto env = CurrentEnvironment();
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::pair<std::string, std::string>("VC_CONFIG_TEST_MARKER", "a=b")),
            env.end());
  ::unsetenv("VC_CONFIG_TEST_MARKER");
}

}  // namespace
}  // namespace vc::config
