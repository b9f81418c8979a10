// MDE indicators from VMRay IOCs, end to end against the emulators on a ManualClock: a malicious
// file ends with its indicators in MDE (types, actions, severity, expiry, generateAlert), the
// reserved IP the emulator reports is left out with a counted reason, a second alert with the
// same file imports nothing, the budget evicts the least severe and oldest of ours first, a
// tenant at the cap ends with per-item failures that are not retried, a 429 is waited out, and
// an answer lost after MDE stored the batch (or a restart) never duplicates anything.
#include "core/metrics.hpp"
#include "pipeline_test_support.hpp"
#include "pipelines/defender_alerts/indicator_mapping.hpp"

namespace vc::testing {
namespace {

constexpr const char* kImportPath = "^/api/indicators/import$";
constexpr const char* kApplication = "VMRayDefenderFoEndpointConnectorApp";

class DefenderIndicators : public PipelineTest {
 protected:
  // A file VMRay already knows with this verdict, and one alert (or more) naming it.
  std::string SeedKnownFile(const std::string& label, const std::string& verdict,
                            const std::vector<std::string>& alerts = {"a1"}) {
    const std::string sha = Sha256Hex("MZ " + label);
    SeedVmraySample(sha, verdict, Hours(1));
    std::vector<Json> seeded;
    for (const auto& id : alerts) seeded.push_back(Alert(id, sha));
    SeedMde(seeded, Device({}));
    return sha;
  }
  Json Indicators() { return mde().StateJson()["indicators"]; }
  const Json* IndicatorOf(const Json& all, const std::string& value) {
    for (const auto& i : all) {
      if (i["indicatorValue"] == value) return &i;
    }
    return nullptr;
  }
  static std::string Domain(const std::string& sha) {
    return "c2-" + sha.substr(0, 8) + ".example.net";
  }
  std::optional<store::OutboxItem> IndicatorItem(app::Daemon& d, const std::string& sha) {
    auto items = d.store().ListOutbox(0);
    EXPECT_TRUE(items);
    for (const auto& i : *items) {
      if (i.idempotency_key == "mde-indicators:" + sha) return i;
    }
    return std::nullopt;
  }
  size_t ImportCalls() { return mde().CountCalls("POST", kImportPath); }
  static double Skipped(const std::string& reason) {
    return Metrics::Global().Value("vc_indicator_values_skipped_total", {{"reason", reason}});
  }
  Json OwnIndicator(const std::string& value, const std::string& severity) {
    return {{"indicatorValue", value}, {"indicatorType", "FileSha256"},
            {"action", "Block"},       {"application", kApplication},
            {"title", "older"},        {"description", "older"},
            {"severity", severity},    {"generateAlert", false}};
  }
};

TEST_F(DefenderIndicators, MaliciousFileEndsWithItsIndicatorsInMde) {
  const double reserved_before = Skipped("reserved_ip");
  const std::string sha = SeedKnownFile("indicators", "malicious");
  auto d = h().OpenDaemon();
  const TimePoint start = clock_.Now();
  ASSERT_TRUE(Run(*d));

  EXPECT_EQ(JobOf(*d, "mde:a1:" + sha).state, "done");
  EXPECT_EQ(Comments("a1").size(), 1u);
  const Json all = Indicators();
  ASSERT_EQ(all.size(), 2u) << all.dump(2);
  const Json* file = IndicatorOf(all, sha);
  ASSERT_NE(file, nullptr) << all.dump(2);
  EXPECT_EQ((*file)["indicatorType"], "FileSha256");
  EXPECT_EQ((*file)["action"], "Block");  // DefenderIndicatorActionForMaliciousFile default
  EXPECT_EQ((*file)["severity"], "High");
  EXPECT_EQ((*file)["generateAlert"], false);
  EXPECT_EQ((*file)["application"], kApplication);
  auto expires = ParseIso8601((*file)["expirationTime"].get<std::string>());
  ASSERT_TRUE(expires);
  const double days = std::chrono::duration<double>(*expires - start).count() / 86400.0;
  EXPECT_NEAR(days, 30.0, 0.1);
  const std::string description = (*file)["description"];
  EXPECT_NE(description.find("Alert ID: a1"), std::string::npos) << description;
  EXPECT_NE(description.find(sha), std::string::npos) << description;
  EXPECT_NE(description.find("/user/sample/view?id="), std::string::npos) << description;
  const Json* domain = IndicatorOf(all, Domain(sha));
  ASSERT_NE(domain, nullptr) << all.dump(2);
  EXPECT_EQ((*domain)["indicatorType"], "DomainName");
  EXPECT_EQ((*domain)["action"], "Block");
  // The emulator's IP is TEST-NET-2: reserved, never an indicator, counted.
  for (const auto& i : all) EXPECT_NE(i["indicatorType"], "IpAddress");
  EXPECT_EQ(Skipped("reserved_ip") - reserved_before, 1.0);

  auto item = IndicatorItem(*d, sha);
  ASSERT_TRUE(item);
  EXPECT_EQ(item->state, "done");
  EXPECT_NE(item->reason.find("2 imported"), std::string::npos) << item->reason;
  EXPECT_EQ(ImportCalls(), 1u);
  ExpectNoEmulatorAssertions();
}

TEST_F(DefenderIndicators, SuspiciousOptionsActionsAndAuditAlert) {
  const std::string sha = SeedKnownFile("suspicious", "suspicious");
  auto d = h().OpenDaemon({{"VmraySampleVerdict", "Malicious & Suspicious"},
                           {"DefenderIndicatorActionForSuspiciousFile", "Warn"},
                           {"IndicatorExpirationInDays", "3"}});
  const TimePoint start = clock_.Now();
  ASSERT_TRUE(Run(*d));
  const Json all = Indicators();
  const Json* file = IndicatorOf(all, sha);
  ASSERT_NE(file, nullptr) << all.dump(2);
  EXPECT_EQ((*file)["action"], "Warn");
  EXPECT_EQ((*file)["severity"], "Medium");
  EXPECT_EQ((*file)["expirationTime"].get<std::string>().substr(0, 10),
            FormatIso8601(start + Hours(72)).substr(0, 10));
  const Json* domain = IndicatorOf(all, Domain(sha));
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ((*domain)["action"], "Audit");  // ...ForSuspiciousIPAddressURL default
  EXPECT_EQ((*domain)["generateAlert"], true) << "MDE takes Audit only with an alert";
}

TEST_F(DefenderIndicators, VerdictOutsideTheSettingOrFeatureOffImportsNothing) {
  const std::string sha = SeedKnownFile("only suspicious", "suspicious");
  auto d = h().OpenDaemon();  // VmraySampleVerdict defaults to Malicious
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_FALSE(IndicatorItem(*d, sha));
  EXPECT_EQ(ImportCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("GET", "^/api/indicators$"), 0u);

  const std::string other = SeedKnownFile("feature off", "malicious", {"a2"});
  d.reset();
  auto d2 = h().OpenDaemon({{"CreateIndicatorsInDefender", "false"}});
  ASSERT_TRUE(Run(*d2));
  EXPECT_EQ(Comments("a2").size(), 1u);
  EXPECT_FALSE(IndicatorItem(*d2, other));
  EXPECT_EQ(ImportCalls(), 0u);
}

TEST_F(DefenderIndicators, ChildSamplesWithAWantedVerdictAddTheirIocs) {
  // A suspicious parent (not wanted with the default Malicious) drops a malicious payload and a
  // clean readme: the payload's IOCs are imported, named by the payload's own SHA-256.
  const std::string parent = Sha256Hex(std::string("MZ parent"));
  const std::string payload = Sha256Hex(std::string("child: payload"));
  const std::string readme = Sha256Hex(std::string("child: readme"));
  h().Seed({{"vmray",
             {{"samples", Json::array({{{"sha256", parent},
                                        {"verdict", "suspicious"},
                                        {"child_sample_ids", {payload, readme}}},
                                       {{"sha256", payload}, {"verdict", "malicious"}},
                                       {{"sha256", readme}, {"verdict", "clean"}}})}}}});
  SeedMde({Alert("a1", parent)}, Device({}));
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  const Json all = Indicators();
  EXPECT_EQ(all.size(), 2u) << all.dump(2);
  const Json* file = IndicatorOf(all, payload);
  ASSERT_NE(file, nullptr) << all.dump(2);
  EXPECT_EQ((*file)["severity"], "High");
  EXPECT_NE((*file)["description"].get<std::string>().find("Generated by sample: " + payload),
            std::string::npos);
  EXPECT_NE(IndicatorOf(all, Domain(payload)), nullptr);
  EXPECT_EQ(IndicatorOf(all, parent), nullptr) << "the suspicious parent is not wanted";
  EXPECT_EQ(IndicatorOf(all, readme), nullptr);
  EXPECT_TRUE(IndicatorItem(*d, parent));
}

TEST_F(DefenderIndicators, SecondAlertWithTheSameFileImportsNothingNew) {
  const std::string sha = SeedKnownFile("shared", "malicious", {"a1", "a2"});
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Comments("a1").size(), 1u);
  EXPECT_EQ(Comments("a2").size(), 1u);
  EXPECT_EQ(ImportCalls(), 1u);
  EXPECT_EQ(Indicators().size(), 2u);

  // Later, a third alert with the file: the key is taken, nothing is imported again.
  clock_.Advance(Minutes(5));
  h().Seed({{"mde", {{"alerts", Json::array({Alert("a3", sha)})}}}});
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Comments("a3").size(), 1u);
  EXPECT_EQ(ImportCalls(), 1u);
  EXPECT_EQ(Indicators().size(), 2u);
}

TEST_F(DefenderIndicators, ValuesAnotherToolAlreadyHasAreLeftAlone) {
  const std::string sha = Sha256Hex(std::string("MZ analyst"));
  // An analyst allowed this hash: the connector must not turn it into a Block.
  Json allowed = OwnIndicator(sha, "Informational");
  allowed["application"] = "analyst";
  allowed["action"] = "Allowed";
  h().Seed({{"mde", {{"indicators", Json::array({allowed})}}}});
  SeedKnownFile("analyst", "malicious");
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  const Json all = Indicators();
  ASSERT_EQ(all.size(), 2u) << all.dump(2);
  EXPECT_EQ((*IndicatorOf(all, sha))["action"], "Allowed");
  EXPECT_NE(IndicatorOf(all, Domain(sha)), nullptr);
  EXPECT_NE(IndicatorItem(*d, sha)->reason.find("1 already in MDE"), std::string::npos)
      << IndicatorItem(*d, sha)->reason;
}

TEST_F(DefenderIndicators, BudgetEvictsTheLeastSevereOldestOfOursFirst) {
  // Three of ours: a Medium (oldest), a High (older), a Medium (newest); and one of another tool.
  h().Seed(
      {{"mde", {{"indicators", Json::array({OwnIndicator(std::string(64, '1'), "Medium")})}}}});
  clock_.Advance(Minutes(1));
  h().Seed({{"mde", {{"indicators", Json::array({OwnIndicator(std::string(64, '2'), "High")})}}}});
  clock_.Advance(Minutes(1));
  h().Seed(
      {{"mde", {{"indicators", Json::array({OwnIndicator(std::string(64, '3'), "Medium")})}}}});
  Json foreign = OwnIndicator(std::string(64, '4'), "Informational");
  foreign["application"] = "another-tool";
  h().Seed({{"mde", {{"indicators", Json::array({foreign})}}}});
  clock_.Advance(Minutes(1));
  const double evicted_before = Metrics::Global().Value("vc_indicators_evicted_total");

  const std::string sha = SeedKnownFile("budget", "malicious");
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_INDICATORS_BUDGET", "3"}});
  ASSERT_TRUE(Run(*d));

  const Json all = Indicators();
  size_t ours = 0;
  for (const auto& i : all) ours += i["application"] == kApplication ? 1 : 0;
  EXPECT_EQ(ours, 3u) << all.dump(2);
  // Two Mediums went (the two new ones are High); the High and the other tool's stayed.
  EXPECT_EQ(IndicatorOf(all, std::string(64, '1')), nullptr);
  EXPECT_EQ(IndicatorOf(all, std::string(64, '3')), nullptr);
  EXPECT_NE(IndicatorOf(all, std::string(64, '2')), nullptr);
  EXPECT_NE(IndicatorOf(all, std::string(64, '4')), nullptr);
  EXPECT_NE(IndicatorOf(all, sha), nullptr);
  EXPECT_NE(IndicatorOf(all, Domain(sha)), nullptr);
  const auto deletes = CallsTo(mde(), "POST", "^/api/indicators/BatchDelete$");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(Json::parse(deletes[0].body)["IndicatorIds"].size(), 2u);
  EXPECT_EQ(Metrics::Global().Value("vc_indicators_evicted_total") - evicted_before, 2.0);
}

TEST_F(DefenderIndicators, MoreNewValuesThanTheBudgetKeepsTheFirstAndCountsTheRest) {
  const double over_before = Skipped("over_budget");
  const std::string sha = SeedKnownFile("tiny budget", "malicious");
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DEFENDER_INDICATORS_BUDGET", "1"}});
  ASSERT_TRUE(Run(*d));
  const Json all = Indicators();
  ASSERT_EQ(all.size(), 1u) << all.dump(2);
  EXPECT_EQ(all[0]["indicatorValue"], sha) << "files come first among equal severities";
  EXPECT_EQ(Skipped("over_budget") - over_before, 1.0);
  EXPECT_EQ(mde().CountCalls("POST", "^/api/indicators/BatchDelete$"), 0u);
  EXPECT_NE(IndicatorItem(*d, sha)->reason.find("1 imported"), std::string::npos);
}

TEST_F(DefenderIndicators, TenantAtTheCapEndsWithPerItemFailuresNotRetries) {
  emu::EmulatorSetOptions options;
  options.mde.indicator_cap = 20;
  UseEmulatorOptions(options);
  h().Seed({{"mde", {{"indicators", {{"fill", 20}}}}}});
  const double failed_before =
      Metrics::Global().Value("vc_indicator_imports_total", {{"outcome", "failed"}});
  const std::string sha = SeedKnownFile("cap", "malicious");
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(Comments("a1").size(), 1u) << "the comment does not wait for the indicators";
  EXPECT_EQ(Indicators().size(), 20u);
  auto item = IndicatorItem(*d, sha);
  ASSERT_TRUE(item);
  EXPECT_EQ(item->state, "done");
  EXPECT_NE(item->reason.find("0 imported, 2 refused by MDE"), std::string::npos) << item->reason;
  EXPECT_EQ(ImportCalls(), 1u) << "a refused item is logged and counted, not retried";
  EXPECT_EQ(Metrics::Global().Value("vc_indicator_imports_total", {{"outcome", "failed"}}) -
                failed_before,
            2.0);
}

TEST_F(DefenderIndicators, ThrottledImportIsWaitedOutAndCompletes) {
  const std::string sha = SeedKnownFile("throttled", "malicious");
  auto rule = Fault("POST", kImportPath, 429);
  rule.retry_after = "300";  // longer than a pipeline waits inline: the write-back waits
  mde().AddFault(rule);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(ImportCalls(), 2u);
  EXPECT_EQ(Indicators().size(), 2u);
  EXPECT_EQ(IndicatorItem(*d, sha)->state, "done");
}

TEST_F(DefenderIndicators, AnswerLostAfterMdeStoredTheBatchAndARestartDuplicateNothing) {
  const std::string sha = SeedKnownFile("lost answer", "malicious");
  // MDE stores every batch, the connector never hears back (its inline retries included).
  auto rule = Fault("POST", kImportPath, 200, /*times=*/-1);
  rule.cut_after_handling = true;
  mde().AddFault(rule);
  auto d = h().OpenDaemon();
  ASSERT_TRUE(d->PollAlerts());
  ASSERT_TRUE(StepUntil(*d, [&] {
    auto item = IndicatorItem(*d, sha);
    return item && item->attempts >= 1 && item->state == "pending" && ImportCalls() >= 1;
  }));
  EXPECT_EQ(Indicators().size(), 2u);
  EXPECT_EQ(IndicatorItem(*d, sha)->state, "pending");

  // A restart on the same store, MDE answering again.
  d.reset();
  mde().ClearFaults();
  const size_t imports_before = ImportCalls();
  auto again = h().OpenDaemon();
  ASSERT_TRUE(Run(*again, Hours(2), /*poll=*/false));
  const Json all = Indicators();
  EXPECT_EQ(all.size(), 2u) << all.dump(2);
  std::set<std::string> values;
  for (const auto& i : all) values.insert(i["indicatorValue"].get<std::string>());
  EXPECT_EQ(values.size(), all.size());
  EXPECT_EQ(IndicatorItem(*again, sha)->state, "done");
  EXPECT_NE(IndicatorItem(*again, sha)->reason.find("0 imported"), std::string::npos)
      << "the values are in MDE already: " << IndicatorItem(*again, sha)->reason;
  EXPECT_EQ(ImportCalls(), imports_before);
  EXPECT_EQ(Comments("a1").size(), 1u);
}

TEST_F(DefenderIndicators, DryRunImportsNothing) {
  const std::string sha = SeedKnownFile("dry run", "malicious");
  auto d = h().OpenDaemon({{"VMRAY_CONNECTOR_DAEMON_DRY_RUN", "true"}});
  ASSERT_TRUE(Run(*d));
  EXPECT_EQ(ImportCalls(), 0u);
  EXPECT_EQ(mde().CountCalls("POST", "^/api/indicators/BatchDelete$"), 0u);
  EXPECT_TRUE(Indicators().empty());
  EXPECT_EQ(IndicatorItem(*d, sha)->state, "done");
}

TEST_F(DefenderIndicators, BadAllowListEntryStopsTheStartWithItsName) {
  const std::string sha = SeedKnownFile("bad allow list", "malicious");
  config::Config c =
      h().Config({{"VMRAY_CONNECTOR_DEFENDER_INDICATORS_ALLOW_LIST", "10.0.0.0/99"}});
  app::Daemon d(c, clock_);
  auto opened = d.Open();
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("10.0.0.0/99"), std::string::npos)
      << opened.error().message;
  (void)sha;
}

}  // namespace
}  // namespace vc::testing
