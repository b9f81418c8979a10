#include "config/schema.hpp"

#include <algorithm>
#include <cctype>

namespace vc::config {
namespace {

// The TOML path is the Config member path, so both come from one token and cannot drift apart.
#define VC_KEY(member) .path = #member, .bind = [](Config& c) -> FieldRef { return &c.member; }

const std::vector<KeySpec>& BuildSchema() {
  static const std::vector<KeySpec> kSchema = {
      // [azure]
      {VC_KEY(azure.tenant_id), .type = KeyType::kString, .default_text = "",
       .description = "Entra ID tenant (directory) id of the app registration that calls the "
                      "Defender API.",
       .original_name = "AzureTenantID", .required_when = "defender.enabled"},
      {VC_KEY(azure.client_id), .type = KeyType::kString, .default_text = "",
       .description = "Application (client) id of that app registration.",
       .original_name = "AzureClientID", .required_when = "defender.enabled"},
      {VC_KEY(azure.client_secret), .type = KeyType::kSecret, .default_text = "",
       .description = "Client secret of that app registration; prefer the environment variable "
                      "to the file.",
       .original_name = "AzureClientSecret", .required_when = "defender.enabled"},
      {VC_KEY(azure.authority_host), .type = KeyType::kUrl,
       .default_text = "https://login.microsoftonline.com",
       .description = "Entra ID login endpoint; sovereign clouds use "
                      "https://login.microsoftonline.us or https://login.chinacloudapi.cn."},
      {VC_KEY(azure.token_version), .type = KeyType::kEnum, .default_text = "v2",
       .description = "Token endpoint version: v2 asks for scope <resource>/.default, v1 sends "
                      "resource=<resource>.",
       .values = {"v1", "v2"}},

      // [http]
      {VC_KEY(http.proxy), .type = KeyType::kString, .default_text = "",
       .description = "Proxy for all outbound HTTP(S), e.g. http://proxy.example:3128; empty "
                      "means no explicit proxy."},
      {VC_KEY(http.ca_file), .type = KeyType::kString, .default_text = "",
       .description = "PEM file of extra CA certificates to trust (TLS-inspecting proxy, "
                      "on-premises VMRay); empty uses the system store."},
      {VC_KEY(http.insecure_skip_tls_verify), .type = KeyType::kBool, .default_text = "false",
       .description = "Turns TLS certificate verification off; for tests only, never in "
                      "production."},
      {VC_KEY(http.connect_timeout_seconds), .type = KeyType::kInt, .default_text = "10",
       .description = "Time allowed to open one connection.", .min = 1, .max = 300},
      {VC_KEY(http.request_timeout_seconds), .type = KeyType::kInt, .default_text = "60",
       .description = "Time allowed for one whole request, upload and download included.", .min = 1,
       .max = 3600},

      // [vmray]
      {VC_KEY(vmray.base_url), .type = KeyType::kUrl, .default_text = "",
       .description = "VMRay console and API base URL, e.g. https://eu.cloud.vmray.com or your "
                      "on-premises server.",
       .original_name = "VmrayBaseURL", .enrichment_name = "vmrayBaseURL",
       .required_when = "defender.enabled"},
      {VC_KEY(vmray.api_key), .type = KeyType::kSecret, .default_text = "",
       .description = "VMRay API key (Settings > Analysis > API Keys); prefer the environment "
                      "variable to the file.",
       .original_name = "VmrayAPIKey", .enrichment_name = "vmrayAPIKey",
       .required_when = "defender.enabled"},
      {VC_KEY(vmray.resubmit_after_days), .type = KeyType::kInt, .default_text = "7",
       .description = "Resubmit a known sample when its last analysis is older than this many "
                      "days; 0 always resubmits.",
       .original_name = "VmrayResubmitAfter", .min = 0, .max = 100},
      {VC_KEY(vmray.api_retry_timeout_minutes), .type = KeyType::kInt, .default_text = "5",
       .description = "Total time budget for retrying one failed VMRay API call.",
       .original_name = "VmrayAPIRetryTimeout", .min = 0, .max = 120},
      {VC_KEY(vmray.api_max_retry), .type = KeyType::kInt, .default_text = "3",
       .description = "Most retries of one failed VMRay API call.",
       .original_name = "VmrayAPIMaxRetry", .min = 0, .max = 10},
      {VC_KEY(vmray.analysis_job_timeout_minutes), .type = KeyType::kInt, .default_text = "30",
       .description = "How long to wait for the analysis of a submission before giving up.",
       .original_name = "VmrayAnalysisJobTimeout", .min = 1, .max = 1440},
      {VC_KEY(vmray.analysis_poll_interval_seconds), .type = KeyType::kInt, .default_text = "30",
       .description = "Interval between checks whether a submission has finished.", .min = 1,
       .max = 3600},
      {VC_KEY(vmray.analysis_timeout_seconds), .type = KeyType::kInt, .default_text = "120",
       .description = "Analysis run time asked of VMRay, sent as user_config {\"timeout\": N}.",
       .min = 10, .max = 3600},
      {VC_KEY(vmray.sample_verdict), .type = KeyType::kEnum, .default_text = "Malicious",
       .description = "Sample verdicts that count as a detection for indicators and threat "
                      "intelligence.",
       .original_name = "VmraySampleVerdict",
       .values = {"Malicious", "Suspicious", "Malicious & Suspicious"}},
      {VC_KEY(vmray.max_file_size_bytes), .type = KeyType::kInt, .default_text = "209715200",
       .description = "Largest file the connector submits to VMRay, in bytes.", .min = 1,
       .max = 4LL * 1024 * 1024 * 1024},
      {VC_KEY(vmray.daily_submission_budget), .type = KeyType::kInt, .default_text = "0",
       .description = "Most files and URLs submitted to VMRay per day, counted from 00:00 UTC "
                      "to 00:00 UTC; 0 is unlimited. Reusing an existing analysis costs "
                      "nothing. An alert past the budget ends `skipped_budget` with a comment "
                      "and is not retried automatically.",
       .min = 0, .max = 1'000'000},
      {VC_KEY(vmray.max_concurrent_analyses), .type = KeyType::kInt, .default_text = "0",
       .description = "Most of the connector's own VMRay submissions analysed at the same "
                      "time; further submissions wait (`waiting_for_analysis_slot`) until one "
                      "finishes. 0 is unlimited, as in the original: VMRay queues submissions "
                      "itself, so set this only to leave room for other users of the account.",
       .min = 0, .max = 100'000},
      {VC_KEY(vmray.submission_comment), .type = KeyType::kString,
       .default_text = "Sample from VMRay Analyzer - Microsoft Defender for Endpoint Connector",
       .description = "Comment attached to every VMRay submission."},

      // [defender]
      {VC_KEY(defender.enabled), .type = KeyType::kBool, .default_text = "true",
       .description = "Runs the Defender for Endpoint alert enrichment job."},
      {VC_KEY(defender.api_base_url), .type = KeyType::kUrl,
       .default_text = "https://api.security.microsoft.com",
       .description = "Defender for Endpoint API base URL; change it for government clouds."},
      {VC_KEY(defender.resource), .type = KeyType::kUrl,
       .default_text = "https://api.securitycenter.microsoft.com",
       .description = "Token audience of the Defender API (v1 resource; v2 scope without "
                      "/.default)."},
      {VC_KEY(defender.api_retry_timeout_minutes), .type = KeyType::kInt, .default_text = "5",
       .description = "Total time budget for retrying one failed Defender API call.",
       .original_name = "DefenderApiRetryTimeout", .min = 0, .max = 120},
      {VC_KEY(defender.api_max_retry), .type = KeyType::kInt, .default_text = "3",
       .description = "Most retries of one failed Defender API call.",
       .original_name = "DefenderApiMaxRetry", .min = 0, .max = 10},
      {VC_KEY(defender.poll_interval_seconds), .type = KeyType::kInt, .default_text = "60",
       .description = "Interval between polls for new and updated alerts.", .min = 1, .max = 86400},
      {VC_KEY(defender.initial_lookback_minutes), .type = KeyType::kInt, .default_text = "60",
       .description = "On the very first poll, fetch alerts updated this many minutes back.",
       .min = 0, .max = 259200},
      {VC_KEY(defender.page_size), .type = KeyType::kInt, .default_text = "500",
       .description = "Alerts fetched per API page ($top). Memory grows with it (a page is held "
                      "as text, JSON and models at once): 500 keeps the process near 34 MiB.",
       .min = 1, .max = 1000},
      {VC_KEY(defender.alert_severities), .type = KeyType::kEnumList,
       .default_text = "UnSpecified,Informational,Low,Medium,High",
       .description = "Alert severities that are enriched.",
       .original_name = "DefenderAlertSeverity",
       .values = {"UnSpecified", "Informational", "Low", "Medium", "High"}},
      {VC_KEY(defender.alert_statuses), .type = KeyType::kEnumList,
       .default_text = "New,InProgress", .description = "Alert statuses that are enriched.",
       .original_name = "DefenderAlertStatus",
       .values = {"Unknown", "New", "InProgress", "Resolved"}},
      {VC_KEY(defender.detection_sources), .type = KeyType::kEnumList,
       .default_text = "WindowsDefenderAtp,WindowsDefenderAv",
       .description = "Alert detection sources whose file evidence is collected (EDR: "
                      "WindowsDefenderAtp, antivirus: WindowsDefenderAv).",
       .values = {"WindowsDefenderAtp", "WindowsDefenderAv"}},
      {VC_KEY(defender.title_filters), .type = KeyType::kStringList, .default_text = "",
       .description = "Only alerts whose title contains one of these texts are enriched; empty "
                      "means every alert.",
       .original_name = "FilterAlertTitleWith"},
      {VC_KEY(defender.fetch_quarantined_files), .type = KeyType::kBool, .default_text = "true",
       .description = "Collects the files of antivirus alerts from quarantine with a Live "
                      "Response script.",
       .original_name = "FetchQuarantinedFiles"},
      {VC_KEY(defender.add_alert_id_tags), .type = KeyType::kBool, .default_text = "false",
       .description = "Adds the alert id to the tags of the VMRay submission (needs VMRay "
                      "2026.2 or later, which accepts the characters of alert ids in tags).",
       .original_name = "AddAlertIdTags"},
      {VC_KEY(defender.machine_availability_timeout_minutes), .type = KeyType::kInt,
       .default_text = "10",
       .description = "How long to wait for a device to accept a Live Response session.",
       .original_name = "MachineAvailabilityTimeout", .min = 1, .max = 1440},
      {VC_KEY(defender.machine_availability_retry), .type = KeyType::kInt, .default_text = "5",
       .description = "How many times the device is tried within that time.",
       .original_name = "MachineAvailabilityRetry", .min = 1, .max = 100},
      {VC_KEY(defender.live_response.poll_interval_seconds), .type = KeyType::kInt,
       .default_text = "30",
       .description = "Interval between checks of a running Live Response action.", .min = 1,
       .max = 3600},
      {VC_KEY(defender.live_response.give_up_after_hours), .type = KeyType::kInt,
       .default_text = "24",
       .description = "Stop waiting for a queued Live Response session after this many hours "
                      "(MDE keeps it up to 3 days).",
       .min = 1, .max = 72},
      {VC_KEY(defender.live_response.max_concurrent_sessions), .type = KeyType::kInt,
       .default_text = "25",
       .description = "Live Response sessions the connector holds open at once (MDE allows 25 "
                      "per tenant; lower it to leave sessions for analysts and other tools).",
       .min = 1, .max = 25},
      {VC_KEY(defender.live_response.max_files_per_session), .type = KeyType::kInt,
       .default_text = "5",
       .description = "Files of one device collected in one Live Response session: the job that "
                      "gets the device takes the other files waiting for it along (one session "
                      "and one runliveresponse call instead of several). A failed command stops "
                      "the rest of a session, and those files are asked for again; 1 turns "
                      "sharing off.",
       .min = 1, .max = 20},
      {VC_KEY(defender.quarantine.mode), .type = KeyType::kEnum, .default_text = "encrypted",
       .description = "How the Live Response script hands over a quarantined file: encrypted "
                      "uploads Defender's still-encrypted quarantine resource file and the "
                      "connector decrypts it (nothing is restored on the device); restore "
                      "restores it into a private folder with a temporary Defender exclusion "
                      "that is always removed.",
       .values = {"encrypted", "restore"}},
      {VC_KEY(defender.quarantine.upload_window_minutes), .type = KeyType::kInt,
       .default_text = "30",
       .description = "Lifetime of the write-only upload link (SAS) given to the device. A "
                      "collection the device has not run by then is cancelled and requested "
                      "again with a fresh link, so no long-lived link ever exists.",
       .min = 5, .max = 1440},
      {VC_KEY(defender.enforce_rate_limits), .type = KeyType::kBool, .default_text = "true",
       .description = "Paces calls to the documented MDE limits so that no request is "
                      "throttled."},
      {VC_KEY(defender.indicators.enabled), .type = KeyType::kBool, .default_text = "true",
       .description = "Imports the IOCs of samples whose verdict is in VmraySampleVerdict "
                      "(vmray.sample_verdict) as MDE custom indicators (file hashes, IP "
                      "addresses, domains).",
       .original_name = "CreateIndicatorsInDefender"},
      {VC_KEY(defender.indicators.action_malicious_file), .type = KeyType::kEnum,
       .default_text = "Block",
       .description = "Indicator action for file hashes of a malicious sample.",
       .original_name = "DefenderIndicatorActionForMaliciousFile",
       .values = {"Allowed", "Audit", "Block", "BlockAndRemediate", "Warn"}},
      {VC_KEY(defender.indicators.action_suspicious_file), .type = KeyType::kEnum,
       .default_text = "Audit",
       .description = "Indicator action for file hashes of a suspicious sample.",
       .original_name = "DefenderIndicatorActionForSuspiciousFile",
       .values = {"Allowed", "Audit", "Block", "BlockAndRemediate", "Warn"}},
      {VC_KEY(defender.indicators.action_malicious_network), .type = KeyType::kEnum,
       .default_text = "Block",
       .description = "Indicator action for IP addresses, domains and URLs of a malicious "
                      "sample (BlockAndRemediate is for files only: MDE refuses it here).",
       .original_name = "DefenderIndicatorActionForMaliciousIPAddressURL",
       .values = {"Allowed", "Audit", "Block", "Warn"}},
      {VC_KEY(defender.indicators.action_suspicious_network), .type = KeyType::kEnum,
       .default_text = "Audit",
       .description = "Indicator action for IP addresses, domains and URLs of a suspicious "
                      "sample (BlockAndRemediate is for files only: MDE refuses it here).",
       .original_name = "DefenderIndicatorActionForSuspiciousIPAddressURL",
       .values = {"Allowed", "Audit", "Block", "Warn"}},
      {VC_KEY(defender.indicators.generate_alert), .type = KeyType::kBool, .default_text = "false",
       .description = "Asks MDE to raise an alert when an indicator matches; always on for "
                      "Audit, which MDE accepts only with an alert.",
       .original_name = "DefenderIndicatorAlert"},
      {VC_KEY(defender.indicators.expiration_days), .type = KeyType::kInt, .default_text = "30",
       .description = "Days until an indicator expires in MDE.",
       .original_name = "IndicatorExpirationInDays", .min = 1, .max = 3650},
      {VC_KEY(defender.indicators.budget), .type = KeyType::kInt, .default_text = "10000",
       .description = "Most indicators the connector keeps in the tenant (MDE allows 15,000 "
                      "per tenant, shared with everything else); past it the lowest-severity, "
                      "oldest of ours are deleted first.",
       .min = 1, .max = 15000},
      {VC_KEY(defender.indicators.url_indicators), .type = KeyType::kBool, .default_text = "false",
       .description = "Also imports full http(s) URLs as Url indicators; the original imported "
                      "only their hosts (always done)."},
      {VC_KEY(defender.indicators.allow_list), .type = KeyType::kStringList, .default_text = "",
       .description = "Values never imported, on top of the built-in list of benign "
                      "infrastructure and private/reserved ranges: domain suffixes "
                      "(contoso.com also covers www.contoso.com; * matches within one label), "
                      "IP addresses and CIDR ranges."},

      {VC_KEY(defender.incidents.tags), .type = KeyType::kBool, .default_text = "true",
       .description = "Tags the alert's parent incident (Microsoft Graph) with the most severe "
                      "VMRay verdict of its files and one tag per threat name; tags set by "
                      "others are kept. Needs the Graph application permission "
                      "SecurityIncident.ReadWrite.All.",
       .original_name = "AddTagsToIncident"},
      {VC_KEY(defender.incidents.comments), .type = KeyType::kBool, .default_text = "false",
       .description = "Also posts the alert comment on the parent incident, once per incident "
                      "(the first analysed alert's), through Microsoft Graph.",
       .original_name = "AddCommentsToIncident"},
      {VC_KEY(defender.incidents.graph_base_url), .type = KeyType::kUrl,
       .default_text = "https://graph.microsoft.com",
       .description = "Microsoft Graph base URL for the incident calls; change it for "
                      "government clouds (e.g. https://graph.microsoft.us)."},
      {VC_KEY(defender.incidents.graph_resource), .type = KeyType::kUrl,
       .default_text = "https://graph.microsoft.com",
       .description = "Token audience of Microsoft Graph (v1 resource; v2 scope without "
                      "/.default)."},

      // [defender.response_actions]
      {VC_KEY(defender.response_actions.investigation_package), .type = KeyType::kBool,
       .default_text = "false",
       .description = "Collects an investigation package from the alert's device when the "
                      "file's verdict is in investigation_package_verdicts (first of the "
                      "actions; needs the WindowsDefenderATP permission "
                      "Machine.CollectForensics)."},
      {VC_KEY(defender.response_actions.investigation_package_verdicts), .type = KeyType::kEnumList,
       .default_text = "suspicious,malicious",
       .description = "VMRay verdicts that collect an investigation package.",
       .values = {"malicious", "suspicious", "clean"}},
      {VC_KEY(defender.response_actions.investigation_package_comment), .type = KeyType::kString,
       .default_text = "Collect investigation package based on VMRay Analyzer Report",
       .description = "First words of the action's comment in MDE; the verdict, the file's "
                      "SHA-256 and the VMRay report link follow."},
      {VC_KEY(defender.response_actions.antivirus_scan), .type = KeyType::kBool,
       .default_text = "false",
       .description = "Runs a Microsoft Defender Antivirus scan on the alert's device when the "
                      "verdict is in antivirus_scan_verdicts (needs Machine.Scan)."},
      {VC_KEY(defender.response_actions.antivirus_scan_verdicts), .type = KeyType::kEnumList,
       .default_text = "suspicious,malicious",
       .description = "VMRay verdicts that start an antivirus scan.",
       .values = {"malicious", "suspicious", "clean"}},
      {VC_KEY(defender.response_actions.scan_type), .type = KeyType::kEnum, .default_text = "Full",
       .description = "ScanType of the antivirus scan.", .values = {"Full", "Quick"}},
      {VC_KEY(defender.response_actions.antivirus_scan_comment), .type = KeyType::kString,
       .default_text = "Run antivirus scan based on VMRay Analyzer Report",
       .description = "First words of the scan's comment in MDE; the verdict, the file's SHA-256 "
                      "and the VMRay report link follow."},
      {VC_KEY(defender.response_actions.stop_and_quarantine), .type = KeyType::kBool,
       .default_text = "false",
       .description = "Stops and quarantines the evidence file (by its SHA-1 from the alert) on "
                      "the alert's device when the verdict is in stop_and_quarantine_verdicts "
                      "(needs Machine.StopAndQuarantine). Evidence without a SHA-1 is skipped "
                      "with a log line."},
      {VC_KEY(defender.response_actions.stop_and_quarantine_verdicts), .type = KeyType::kEnumList,
       .default_text = "malicious",
       .description = "VMRay verdicts that stop and quarantine the file.",
       .values = {"malicious", "suspicious", "clean"}},
      {VC_KEY(defender.response_actions.stop_and_quarantine_comment), .type = KeyType::kString,
       .default_text = "Stop and quarantine file based on VMRay Analyzer Report",
       .description = "First words of the action's comment in MDE; the verdict, the file's "
                      "SHA-256 and the VMRay report link follow."},
      {VC_KEY(defender.response_actions.isolate), .type = KeyType::kBool, .default_text = "false",
       .description = "Isolates the alert's device when the verdict is in isolate_verdicts, "
                      "after the other actions (needs Machine.Isolate). An isolated device "
                      "reaches only the Defender service until an analyst releases it."},
      {VC_KEY(defender.response_actions.isolate_verdicts), .type = KeyType::kEnumList,
       .default_text = "malicious", .description = "VMRay verdicts that isolate the device.",
       .values = {"malicious", "suspicious", "clean"}},
      {VC_KEY(defender.response_actions.isolation_type), .type = KeyType::kEnum,
       .default_text = "Full",
       .description = "IsolationType: Full, or Selective (Outlook, Teams and Skype keep "
                      "working).",
       .values = {"Full", "Selective"}},
      {VC_KEY(defender.response_actions.isolate_comment), .type = KeyType::kString,
       .default_text = "Isolate machine based on VMRay Analyzer Report",
       .description = "First words of the isolation's comment in MDE; the verdict, the file's "
                      "SHA-256 and the VMRay report link follow."},

      // [feed]
      {VC_KEY(feed.enabled), .type = KeyType::kBool, .default_text = "false",
       .description = "Runs the Sentinel threat-intelligence feed: IOCs of finished VMRay "
                      "submissions with a verdict in VmraySampleVerdict become STIX indicators "
                      "in Sentinel (replaces the VMRayThreatIntelligence function app). Uses "
                      "the azure.* app registration, which needs the role Microsoft Sentinel "
                      "Contributor on the workspace."},
      {VC_KEY(feed.workspace_id), .type = KeyType::kString, .default_text = "",
       .description = "Log Analytics workspace id (a GUID, not the resource id) of the Sentinel "
                      "workspace the indicators go to.",
       .original_name = "AzureWorkspaceID", .required_when = "feed.enabled"},
      {VC_KEY(feed.polling), .type = KeyType::kString, .default_text = "0 */6 * * *",
       .description = "When the feed runs, UTC: the original's cron schedules (*/5 * * * *, "
                      "*/10 * * * *, 0 * * * *, 0 */6 * * *, 0 */12 * * *, 0 0 * * *) or an "
                      "interval such as 15m or 2h.",
       .original_name = "Polling"},
      {VC_KEY(feed.initial_fetch_days), .type = KeyType::kInt, .default_text = "90",
       .description = "How many days back the first run reads finished submissions (from "
                      "00:00 UTC that day); later runs continue from the checkpoint.",
       .original_name = "VmrayInitialFetchDate", .min = 1, .max = 3650},
      {VC_KEY(feed.api_base_url), .type = KeyType::kUrl,
       .default_text = "https://api.ti.sentinel.azure.com",
       .description = "Base URL of the Sentinel STIX objects upload API."},
      {VC_KEY(feed.resource), .type = KeyType::kUrl, .default_text = "https://management.azure.com",
       .description = "Token audience of the STIX upload API (v1 resource; v2 scope without "
                      "/.default)."},
      {VC_KEY(feed.source_system), .type = KeyType::kString,
       .default_text = "VMRayThreatIntelligence",
       .description = "The sourcesystem the indicators are uploaded under (shown as Source in "
                      "Sentinel); \"Microsoft Sentinel\" is reserved."},
      {VC_KEY(feed.window_hours), .type = KeyType::kInt, .default_text = "6",
       .description = "A backlog is read in windows of at most this many hours; the checkpoint "
                      "moves after each complete window, and memory holds one window.",
       .min = 1, .max = 168},
      {VC_KEY(feed.revoke_on_clean), .type = KeyType::kBool, .default_text = "true",
       .description = "When a later submission of a sample is clean, uploads the indicators "
                      "the feed took from that sample again with revoked: true."},
      {VC_KEY(feed.rate_limit_window_ms), .type = KeyType::kInt, .default_text = "60000",
       .description = "The window of Sentinel's limit of 100 STIX upload requests, in "
                      "milliseconds; the uploader paces itself to 100 requests per window. "
                      "Keep the real 60000 (100 per minute); a benchmark against the emulator "
                      "shortens it together with the emulator's window to scale time.",
       .min = 100, .max = 3'600'000},

      // [storage]
      {VC_KEY(storage.connection_string), .type = KeyType::kSecret, .default_text = "",
       .description = "Connection string of the Azure Storage account that receives the files "
                      "collected from quarantine (container vmray-defender-quarantine-files). "
                      "UseDevelopmentStorage=true selects a local Azurite. Empty: antivirus "
                      "alerts wait in waiting_for_quarantine_collection until it is set.",
       .original_name = "AzureStorageConnectionString"},
      {VC_KEY(storage.account_key), .type = KeyType::kSecret, .default_text = "",
       .description = "Account key, for a connection string that carries none (the original "
                      "solution kept it in a setting of its own); it signs the upload links.",
       .original_name = "AzureStorageAccountKey"},
      {VC_KEY(storage.status_records), .type = KeyType::kBool, .default_text = "true",
       .description = "Writes <alertId>.json with the outcome of each settled alert to the "
                      "container vmray-defender-functionapp-status, as the original did (its "
                      "SendEmailNotification Logic App reads them). Needs a storage account."},

      // [store]
      {VC_KEY(store.path), .type = KeyType::kString, .default_text = "vmray-connector.db",
       .description = "SQLite database file that holds jobs and state; must not be empty."},
      {VC_KEY(store.synchronous_full), .type = KeyType::kBool, .default_text = "true",
       .description = "SQLite synchronous=FULL survives power loss at some write cost; false "
                      "uses NORMAL."},

      // [daemon]
      {VC_KEY(daemon.workers), .type = KeyType::kInt, .default_text = "8",
       .description = "Worker threads that run job steps.", .min = 1, .max = 64},
      {VC_KEY(daemon.lease_seconds), .type = KeyType::kInt, .default_text = "300",
       .description = "How long a worker holds a job before another worker may take it over.",
       .min = 10, .max = 86400},
      {VC_KEY(daemon.dry_run), .type = KeyType::kBool, .default_text = "false",
       .description = "Runs every job but writes nothing back: each alert comment, status record "
                      "and mail is logged (\"dry run: would write ...\") instead. Collection, "
                      "submission and the clean-up of upload blobs still happen."},

      // [ops]
      {VC_KEY(ops.enabled), .type = KeyType::kBool, .default_text = "true",
       .description = "Serves /healthz, /readyz, /metrics (Prometheus) and the /status page on "
                      "ops.listen."},
      {VC_KEY(ops.listen), .type = KeyType::kString, .default_text = "127.0.0.1:9464",
       .description = "host:port of the ops listener; loopback by default, a non-loopback "
                      "address (0.0.0.0:9464) exposes the status page to that network."},

      // [enrichment]
      {VC_KEY(enrichment.enabled), .type = KeyType::kBool, .default_text = "false",
       .description = "Serves the enrichment HTTP API of the Sentinel solution's function app "
                      "(/api/UplaodURL, /api/GetVMRaySample, ... and /api/v1/...) on "
                      "enrichment.listen; see docs/enrichment-api.md."},
      {VC_KEY(enrichment.listen), .type = KeyType::kString, .default_text = "127.0.0.1:7071",
       .description = "host:port of the enrichment listener. It speaks plain HTTP: keep it on "
                      "loopback or put a TLS-terminating proxy in front of it."},
      {VC_KEY(enrichment.function_key), .type = KeyType::kSecret, .default_text = "",
       .description = "Function key callers send in the x-functions-key header or the code "
                      "query parameter, as with Azure Functions.",
       .required_when = "enrichment.enabled"},
      {VC_KEY(enrichment.workers), .type = KeyType::kInt, .default_text = "4",
       .description = "Requests the enrichment listener serves at the same time; more wait in "
                      "its queue.",
       .min = 1, .max = 64},
      {VC_KEY(enrichment.max_body_bytes), .type = KeyType::kInt, .default_text = "67108864",
       .description = "Largest request body accepted, in bytes (base64 makes a file a third "
                      "larger); bigger requests get HTTP 413.",
       .min = 1024, .max = 4LL * 1024 * 1024 * 1024},
      {VC_KEY(enrichment.resubmit), .type = KeyType::kBool, .default_text = "true",
       .description = "Submit a file again even when VMRay already knows its hash; false reuses "
                      "the existing sample. A request's own resubmit parameter wins.",
       .original_name = "Resubmit"},

      // [mail]
      {VC_KEY(mail.enabled), .type = KeyType::kBool, .default_text = "false",
       .description = "Sends one e-mail per settled alert with its verdict and report link "
                      "(replaces the original's SendEmailNotification Logic App)."},
      {VC_KEY(mail.transport), .type = KeyType::kEnum, .default_text = "smtp",
       .description = "How mails leave: smtp (mail.smtp_url) or graph (Microsoft Graph sendMail "
                      "from mail.graph_sender with the app registration of azure.*, which needs "
                      "the application permission Mail.Send).",
       .values = {"smtp", "graph"}},
      {VC_KEY(mail.smtp_url), .type = KeyType::kString, .default_text = "",
       .description = "SMTP server, smtp://host:587 (STARTTLS) or smtps://host:465; needed when "
                      "mail.transport = smtp."},
      {VC_KEY(mail.graph_sender), .type = KeyType::kString, .default_text = "",
       .description = "With mail.transport = graph: the mailbox that sends (user principal name "
                      "or object id). Graph's base URL and audience are "
                      "defender.incidents.graph_base_url and graph_resource."},
      {VC_KEY(mail.require_starttls), .type = KeyType::kBool, .default_text = "true",
       .description = "With smtp://, refuse to send unless the server upgrades to TLS; turn off "
                      "only for a relay on a trusted host."},
      {VC_KEY(mail.username), .type = KeyType::kString, .default_text = "",
       .description = "SMTP login; empty sends without AUTH."},
      {VC_KEY(mail.password), .type = KeyType::kSecret, .default_text = "",
       .description = "SMTP password for that login."},
      {VC_KEY(mail.from), .type = KeyType::kString, .default_text = "",
       .description = "Sender address (local@domain).", .required_when = "mail.enabled"},
      {VC_KEY(mail.to), .type = KeyType::kStringList, .default_text = "",
       .description = "Recipient addresses.", .required_when = "mail.enabled"},
      {VC_KEY(mail.subject), .type = KeyType::kString,
       .default_text = "VMRay Analysis for Defender Alert",
       .description = "Start of every subject: \"<subject> <alert id>: <verdict> - <title>\" for "
                      "one alert, \"<subject> - <n> alerts settled\" for a digest."},
      {VC_KEY(mail.digest_minutes), .type = KeyType::kInt, .default_text = "0",
       .description = "0 mails every alert once it has settled; N > 0 sends one digest per N "
                      "minutes (intervals aligned to UTC) listing the alerts that settled in "
                      "it, a short grace period (at most a minute) after the interval ends.",
       .min = 0, .max = 10080},

      // [log]
      {VC_KEY(log.format), .type = KeyType::kEnum, .default_text = "text",
       .description = "Log line format: text for people, json for log collectors.",
       .values = {"text", "json"}},
      {VC_KEY(log.level), .type = KeyType::kEnum, .default_text = "info",
       .description = "Least severe level that is logged.",
       .values = {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {VC_KEY(log.file), .type = KeyType::kString, .default_text = "",
       .description = "Log file; empty writes to standard error."},
  };
  return kSchema;
}

#undef VC_KEY

}  // namespace

const std::vector<KeySpec>& Schema() {
  return BuildSchema();
}

const KeySpec* FindKey(std::string_view path) {
  for (const auto& spec : Schema()) {
    if (spec.path == path) return &spec;
  }
  return nullptr;
}

std::string SystematicEnvName(std::string_view path) {
  std::string name(kEnvPrefix);
  for (char c : path) {
    name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

std::string_view SectionOf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

std::string_view LeafOf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

const std::vector<std::string>& Sections() {
  static const std::vector<std::string> kSections = [] {
    std::vector<std::string> sections;
    for (const auto& spec : Schema()) {
      // Parents first, so "defender" precedes "defender.live_response".
      std::string_view section = SectionOf(spec.path);
      std::vector<std::string> chain;
      for (std::string_view s = section; !s.empty(); s = SectionOf(s)) chain.emplace_back(s);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        if (std::find(sections.begin(), sections.end(), *it) == sections.end()) {
          sections.push_back(*it);
        }
      }
    }
    return sections;
  }();
  return kSections;
}

std::string_view TypeName(KeyType type) {
  switch (type) {
    case KeyType::kString:
      return "string";
    case KeyType::kSecret:
      return "secret";
    case KeyType::kBool:
      return "bool";
    case KeyType::kInt:
      return "int";
    case KeyType::kEnum:
      return "enum";
    case KeyType::kStringList:
      return "list of strings";
    case KeyType::kEnumList:
      return "list of enum";
    case KeyType::kUrl:
      return "url";
  }
  return "unknown";
}

bool IsListType(KeyType type) {
  return type == KeyType::kStringList || type == KeyType::kEnumList;
}

const std::vector<UnsupportedSetting>& UnsupportedSettings() {
  static constexpr std::string_view kIndicators =
      "this single action of version 1.0.0 was replaced by the four per-type actions, e.g. "
      "DefenderIndicatorActionForMaliciousFile";
  static constexpr std::string_view kStorage =
      "the account comes from storage.connection_string (AzureStorageConnectionString)";
  static const std::vector<UnsupportedSetting> kSettings = {
      {"DefenderIndicatorAction", kIndicators},
      {"StorageAccount", kStorage},
      {"LogLevel", "set log.level (VMRAY_CONNECTOR_LOG_LEVEL) instead"},
      {"VmrayResubmit",
       "this legacy boolean was replaced by VmrayResubmitAfter (days; 0 = always resubmit)"},
  };
  return kSettings;
}

}  // namespace vc::config
