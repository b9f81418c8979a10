// The connector's settings as typed values, and the one entry point that reads them: defaults,
// then a TOML file, then the environment (systematic VMRAY_CONNECTOR_* names and the original
// Azure app-setting names). Every key is described once in schema.cpp; loading, validation,
// docs/configuration.md and the example file are all derived from that table.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/secret.hpp"

namespace vc::config {

struct AzureConfig {
  std::string tenant_id;
  std::string client_id;
  Secret<> client_secret;
  // Sovereign clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn
  std::string authority_host = "https://login.microsoftonline.com";
  std::string token_version = "v2";  // v1: resource=<resource>; v2: scope=<resource>/.default
};

struct HttpConfig {
  std::string proxy;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
  int connect_timeout_seconds = 10;
  int request_timeout_seconds = 60;
};

struct VmrayConfig {
  std::string base_url;
  Secret<> api_key;
  int resubmit_after_days = 7;        // 0 = always resubmit
  int api_retry_timeout_minutes = 5;  // total back-off budget
  int api_max_retry = 3;
  int analysis_job_timeout_minutes = 30;
  int analysis_poll_interval_seconds = 30;
  int analysis_timeout_seconds = 120;        // sent as user_config {"timeout":N}
  std::string sample_verdict = "Malicious";  // Malicious | Suspicious | Malicious & Suspicious
  int64_t max_file_size_bytes = 200LL * 1024 * 1024;
  int64_t daily_submission_budget = 0;  // 0 = unlimited; counted per UTC day
  int64_t max_concurrent_analyses = 0;  // 0 = unlimited
  std::string submission_comment =
      "Sample from VMRay Analyzer - Microsoft Defender for Endpoint Connector";
};

struct LiveResponseConfig {
  int poll_interval_seconds = 30;
  int give_up_after_hours = 24;
  int max_concurrent_sessions = 25;
  int max_files_per_session = 5;
};

struct QuarantineConfig {
  std::string mode = "encrypted";  // encrypted | restore
  int upload_window_minutes = 30;
};

// MDE custom indicators from VMRay IOCs (pipelines/defender_alerts/indicator_writer.hpp).
struct IndicatorsConfig {
  bool enabled = true;
  std::string action_malicious_file = "Block";
  std::string action_suspicious_file = "Audit";
  std::string action_malicious_network = "Block";  // never BlockAndRemediate (files only)
  std::string action_suspicious_network = "Audit";
  bool generate_alert = false;  // forced on for Audit
  int expiration_days = 30;
  int budget = 10000;  // of the tenant's 15,000
  bool url_indicators = false;
  std::vector<std::string> allow_list;  // domain suffixes, IPs, CIDRs
};

// The alert's parent incident through Microsoft Graph
// (pipelines/defender_alerts/incident_writer.hpp).
struct IncidentsConfig {
  bool tags = true;
  bool comments = false;
  std::string graph_base_url = "https://graph.microsoft.com";
  std::string graph_resource = "https://graph.microsoft.com";  // token audience
};

// Automated response actions on the alert's device
// (pipelines/defender_alerts/response_actions.hpp), as the standalone connector <= 1.1 offered
// them: each off by default, each gated by its own verdict list (lower-case VMRay verdicts).
struct ResponseActionsConfig {
  bool isolate = false;
  std::vector<std::string> isolate_verdicts = {"malicious"};
  std::string isolation_type = "Full";  // Full | Selective
  std::string isolate_comment = "Isolate machine based on VMRay Analyzer Report";
  bool antivirus_scan = false;
  std::vector<std::string> antivirus_scan_verdicts = {"suspicious", "malicious"};
  std::string scan_type = "Full";  // Full | Quick
  std::string antivirus_scan_comment = "Run antivirus scan based on VMRay Analyzer Report";
  bool stop_and_quarantine = false;
  std::vector<std::string> stop_and_quarantine_verdicts = {"malicious"};
  std::string stop_and_quarantine_comment =
      "Stop and quarantine file based on VMRay Analyzer Report";
  bool investigation_package = false;
  std::vector<std::string> investigation_package_verdicts = {"suspicious", "malicious"};
  std::string investigation_package_comment =
      "Collect investigation package based on VMRay Analyzer Report";
};

struct DefenderConfig {
  bool enabled = true;
  std::string api_base_url = "https://api.security.microsoft.com";
  std::string resource = "https://api.securitycenter.microsoft.com";  // token audience
  int api_retry_timeout_minutes = 5;
  int api_max_retry = 3;
  int poll_interval_seconds = 60;
  int initial_lookback_minutes = 60;
  int page_size = 500;
  std::vector<std::string> alert_severities = {"UnSpecified", "Informational", "Low", "Medium",
                                               "High"};
  std::vector<std::string> alert_statuses = {"New", "InProgress"};
  std::vector<std::string> detection_sources = {"WindowsDefenderAtp", "WindowsDefenderAv"};
  std::vector<std::string> title_filters;  // substrings of the alert title; empty = all
  bool fetch_quarantined_files = true;
  int machine_availability_timeout_minutes = 10;
  int machine_availability_retry = 5;
  LiveResponseConfig live_response;
  QuarantineConfig quarantine;
  bool enforce_rate_limits = true;
  IndicatorsConfig indicators;
  IncidentsConfig incidents;
  ResponseActionsConfig response_actions;
  bool add_alert_id_tags = false;  // the alert id as a VMRay submission tag
};

struct StorageConfig {
  Secret<> connection_string;  // empty: no quarantine hand-off
  Secret<> account_key;        // overrides the connection string's AccountKey when set
  bool status_records = true;
};

struct StoreConfig {
  std::string path = "vmray-connector.db";
  bool synchronous_full = true;
};

struct DaemonConfig {
  int workers = 8;
  int lease_seconds = 300;
  bool dry_run = false;
};

// The ops listener: /healthz, /readyz, /metrics and the /status page.
struct OpsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";  // host:port; port 0 picks a free port (tests)
};

// The enrichment HTTP API (the Sentinel solution's function app): off unless enabled.
struct EnrichmentConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:7071";
  Secret<> function_key;
  int workers = 4;
  int64_t max_body_bytes = 64LL * 1024 * 1024;
  bool resubmit = true;
};

struct MailConfig {
  bool enabled = false;
  std::string transport = "smtp";  // smtp | graph
  std::string smtp_url;
  std::string graph_sender;
  bool require_starttls = true;
  std::string username;
  Secret<> password;
  std::string from;
  std::vector<std::string> to;
  std::string subject = "VMRay Analysis for Defender Alert";
  int digest_minutes = 0;  // 0: one mail per alert
};

// The Sentinel threat-intelligence feed (pipelines/sentinel_feed/feed_runner.hpp).
struct FeedConfig {
  bool enabled = false;
  std::string workspace_id;  // Log Analytics workspace GUID
  std::string polling = "0 */6 * * *";
  int initial_fetch_days = 90;
  std::string api_base_url = "https://api.ti.sentinel.azure.com";
  std::string resource = "https://management.azure.com";  // token audience
  std::string source_system = "VMRayThreatIntelligence";
  int window_hours = 6;
  bool revoke_on_clean = true;
  // The window of Sentinel's 100 uploads per minute; only a benchmark shortens it.
  int rate_limit_window_ms = 60'000;
};

struct LogConfig {
  std::string format = "text";  // text | json
  std::string level = "info";
  std::string file;
};

struct Config {
  AzureConfig azure;
  HttpConfig http;
  VmrayConfig vmray;
  DefenderConfig defender;
  FeedConfig feed;
  StorageConfig storage;
  StoreConfig store;
  DaemonConfig daemon;
  OpsConfig ops;
  EnrichmentConfig enrichment;
  MailConfig mail;
  LogConfig log;
};

// One thing wrong with the configuration. Never carries a secret's value.
struct ConfigProblem {
  std::string path;     // TOML path of the key ("vmray.api_max_retry"); empty for file-level
  std::string source;   // "env VmrayAPIMaxRetry", "/etc/vc.toml:12", ...
  std::string message;  // what is wrong and what is accepted
};

struct LoadOptions {
  std::string file;                                              // empty: no file
  std::vector<std::pair<std::string, std::string>> environment;  // a snapshot; tests pass their own
};

struct LoadResult {
  std::optional<Config> config;  // set only when problems is empty
  std::vector<ConfigProblem> problems;
  std::vector<std::string> warnings;
};

// Reads every source and collects every problem; never stops at the first one.
LoadResult LoadConfig(const LoadOptions& options);

// The process environment as a snapshot (from environ).
std::vector<std::pair<std::string, std::string>> CurrentEnvironment();

// "<path> (<source>): <message>", or "<source>: <message>" when the problem has no key.
std::string FormatProblem(const ConfigProblem& problem);

// docs/configuration.md
std::string RenderConfigMarkdown();
// deploy/vmray-connector.example.toml: every key with its default and description; secrets as ""
// with a note to prefer the environment.
std::string RenderExampleToml();

// `vmray-connector validate`: prints every problem and warning, then a summary. Returns 0 when
// the configuration is valid, 1 when not.
int RunValidate(const LoadOptions& options, std::ostream& out);

}  // namespace vc::config
