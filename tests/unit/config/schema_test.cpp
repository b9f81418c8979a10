#include "config/schema.hpp"

#include <gtest/gtest.h>

#include <set>

#include "config/sources.hpp"
#include "config/values.hpp"

namespace vc::config {
namespace {

TEST(ConfigSchema, EveryDefaultParsesByItsOwnRules) {
  for (const auto& spec : Schema()) {
    auto value = ValueFromText(spec, spec.default_text);
    EXPECT_TRUE(value.has_value()) << spec.path << ": " << value.error().message;
  }
}

// The table's defaults and the struct's initialisers are two spellings of one fact.
TEST(ConfigSchema, DefaultsMatchTheStructInitialisers) {
  Config initialised;
  for (const auto& spec : Schema()) {
    Value from_table = ValueFromText(spec, spec.default_text).value();
    EXPECT_EQ(LoadValue(spec, initialised), from_table) << spec.path;
  }
}

TEST(ConfigSchema, BindingPointsAtTheMemberNamedByThePath) {
  // Storing a distinctive value through one key must change exactly that key.
  for (const auto& spec : Schema()) {
    Config config;
    Value before = LoadValue(spec, config);
    Value changed = before;
    if (auto* text = std::get_if<std::string>(&changed)) {
      *text += "x";
    } else if (auto* flag = std::get_if<bool>(&changed)) {
      *flag = !*flag;
    } else if (auto* number = std::get_if<int64_t>(&changed)) {
      *number += 1;
    } else {
      std::get<std::vector<std::string>>(changed).push_back("x");
    }
    StoreValue(spec, changed, config);
    EXPECT_EQ(LoadValue(spec, config), changed) << spec.path;
    for (const auto& other : Schema()) {
      if (other.path == spec.path) continue;
      Config fresh;
      EXPECT_EQ(LoadValue(other, config), LoadValue(other, fresh))
          << "storing " << spec.path << " changed " << other.path;
    }
  }
}

TEST(ConfigSchema, PathsAndEnvironmentNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& spec : Schema()) {
    EXPECT_TRUE(names.insert(std::string(spec.path)).second) << spec.path;
    EXPECT_TRUE(names.insert(SystematicEnvName(spec.path)).second) << spec.path;
    if (!spec.original_name.empty()) {
      EXPECT_TRUE(names.insert(std::string(spec.original_name)).second) << spec.original_name;
    }
  }
  for (const auto& setting : UnsupportedSettings()) {
    EXPECT_TRUE(names.insert(std::string(setting.name)).second) << setting.name;
  }
}

TEST(ConfigSchema, SystematicNameIsPrefixedUpperCasePath) {
  EXPECT_EQ(SystematicEnvName("vmray.api_retry_timeout_minutes"),
            "VMRAY_CONNECTOR_VMRAY_API_RETRY_TIMEOUT_MINUTES");
  EXPECT_EQ(SystematicEnvName("defender.live_response.give_up_after_hours"),
            "VMRAY_CONNECTOR_DEFENDER_LIVE_RESPONSE_GIVE_UP_AFTER_HOURS");
}

TEST(ConfigSchema, OriginalNamesAreTheDocumentedOnes) {
  std::set<std::string> expected = {"AzureTenantID",
                                    "AzureClientID",
                                    "AzureClientSecret",
                                    "VmrayBaseURL",
                                    "VmrayAPIKey",
                                    "VmrayResubmitAfter",
                                    "VmrayAPIRetryTimeout",
                                    "VmrayAPIMaxRetry",
                                    "VmrayAnalysisJobTimeout",
                                    "VmraySampleVerdict",
                                    "DefenderApiRetryTimeout",
                                    "DefenderApiMaxRetry",
                                    "MachineAvailabilityTimeout",
                                    "MachineAvailabilityRetry",
                                    "FetchQuarantinedFiles",
                                    "FilterAlertTitleWith",
                                    "DefenderAlertSeverity",
                                    "DefenderAlertStatus",
                                    "AzureStorageConnectionString",
                                    "AzureStorageAccountKey",
                                    "CreateIndicatorsInDefender",
                                    "DefenderIndicatorActionForMaliciousFile",
                                    "DefenderIndicatorActionForSuspiciousFile",
                                    "DefenderIndicatorActionForMaliciousIPAddressURL",
                                    "DefenderIndicatorActionForSuspiciousIPAddressURL",
                                    "DefenderIndicatorAlert",
                                    "IndicatorExpirationInDays",
                                    "AddTagsToIncident",
                                    "AddCommentsToIncident",
                                    "AddAlertIdTags",
                                    "AzureWorkspaceID",
                                    "Polling",
                                    "VmrayInitialFetchDate",
                                    "Resubmit"};
  std::set<std::string> actual;
  for (const auto& spec : Schema()) {
    if (!spec.original_name.empty()) actual.emplace(spec.original_name);
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(FindKey("vmray.api_max_retry")->original_name, "VmrayAPIMaxRetry");
}

TEST(ConfigSchema, DescriptionsAreOneLineAndRangesSane) {
  for (const auto& spec : Schema()) {
    EXPECT_FALSE(spec.description.empty()) << spec.path;
    EXPECT_EQ(spec.description.find('\n'), std::string_view::npos) << spec.path;
    if (spec.type == KeyType::kInt) {
      EXPECT_LT(spec.min, spec.max) << spec.path;
    }
    if (spec.type == KeyType::kEnum || spec.type == KeyType::kEnumList) {
      EXPECT_FALSE(spec.values.empty()) << spec.path;
    }
    if (!spec.required_when.empty()) {
      ASSERT_NE(FindKey(spec.required_when), nullptr) << spec.path;
      EXPECT_EQ(FindKey(spec.required_when)->type, KeyType::kBool) << spec.path;
    }
  }
}

TEST(ConfigSchema, SecretsAreTheCredentials) {
  std::set<std::string> secrets;
  for (const auto& spec : Schema()) {
    if (spec.type == KeyType::kSecret) secrets.emplace(spec.path);
  }
  EXPECT_EQ(secrets, (std::set<std::string>{"azure.client_secret", "vmray.api_key",
                                            "storage.connection_string", "storage.account_key",
                                            "mail.password", "enrichment.function_key"}));
}

TEST(ConfigSchema, SectionsListParentsBeforeChildren) {
  EXPECT_EQ(Sections(), (std::vector<std::string>{
                            "azure", "http", "vmray", "defender", "defender.live_response",
                            "defender.quarantine", "defender.indicators", "defender.incidents",
                            "defender.response_actions", "feed", "storage", "store", "daemon",
                            "ops", "enrichment", "mail", "log"}));
  EXPECT_EQ(SectionOf("defender.live_response.poll_interval_seconds"), "defender.live_response");
  EXPECT_EQ(LeafOf("defender.live_response.poll_interval_seconds"), "poll_interval_seconds");
}

TEST(ConfigSchema, DocumentedLimitsAreEnforced) {
  using Range = std::pair<int64_t, int64_t>;
  auto range = [](std::string_view path) {
    const KeySpec* spec = FindKey(path);
    return std::pair(spec->min, spec->max);
  };
  EXPECT_EQ(range("daemon.workers"), Range(1, 64));
  EXPECT_EQ(range("defender.page_size"), Range(1, 1000));  // memory bound, not MDE's 10,000
  EXPECT_EQ(range("defender.live_response.max_concurrent_sessions"), Range(1, 25));
  EXPECT_EQ(range("vmray.resubmit_after_days"), Range(0, 100));
  EXPECT_EQ(range("vmray.api_max_retry"), Range(0, 10));
  EXPECT_EQ(range("defender.api_max_retry"), Range(0, 10));
  EXPECT_GE(range("defender.poll_interval_seconds").first, 1);
  EXPECT_GE(range("vmray.analysis_poll_interval_seconds").first, 1);
  EXPECT_GE(range("defender.live_response.poll_interval_seconds").first, 1);
  EXPECT_EQ(FindKey("log.level")->values,
            (std::vector<std::string_view>{"trace", "debug", "info", "warn", "error", "critical",
                                           "off"}));
}

}  // namespace
}  // namespace vc::config
