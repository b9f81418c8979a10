// Microsoft Defender for Endpoint API emulator: alerts (OData $filter/$top/$skip/$expand/
// $orderby), alert updates and comments, machines, machine actions, live response (PutFile,
// RunScript, GetFile) with simulated progress and blob-like result downloads, the live response
// library, bearer-token and permission checks, and the documented per-endpoint quotas.
//
// Strict: a request a correct client would not send (unknown route or query parameter, wrong
// Content-Type, bearer token on a storage link) is an assertion failure. Realistic: everything a
// correct client can still get wrong (bad OData, wrong-case body keys, busy device, quota)
// answers the real status with the MDE envelope {"error":{"code","message","target"}}.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "emulator_server.hpp"
#include "mde_odata.hpp"
#include "mde_rate_limits.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class MdeEmulator final : public EmulatorServer {
 public:
  struct Options {
    // Token audiences (resource, no trailing slash) the API accepts.
    std::vector<std::string> audiences = {
        "https://api.securitycenter.microsoft.com", "https://api.security.microsoft.com",
        "https://securitycenter.onmicrosoft.com/windowsatpservice"};
    // Documented quotas: 100/min and 1,500/h per endpoint, runliveresponse 10/min and 25
    // concurrent sessions. Off by default so functional tests are not paced.
    bool enforce_limits = false;
    // Online GETs of a live response action until it is final; the earlier ones see InProgress.
    int action_polls_to_complete = 1;
    int download_link_ttl_seconds = 1800;
    // Active custom indicators per tenant (documented: 15,000); imports past it fail per item.
    int indicator_cap = 15000;
    // Indicators per page of GET /api/indicators without $top; more come by @odata.nextLink.
    int indicator_page_size = 1000;

    // {"audiences": [...], "enforce_limits": bool, "action_polls_to_complete": n,
    //  "download_link_ttl_seconds": n}; unknown keys or wrong types throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };

  // What a RunScript command gives its script, and what the script gives back. The hook runs
  // under the emulator's state lock when the action completes: it must not call this emulator.
  struct ScriptRun {
    std::string action_id;
    std::string machine_id;
    std::string computer_dns_name;
    std::string script_name;
    std::optional<std::string> args;
    std::string script_content;                // the library file's bytes
    std::map<std::string, std::string> files;  // the device's files: path -> bytes
  };
  struct ScriptOutcome {
    int exit_code = 0;
    std::string script_output;
    std::string script_errors;
    // Set: the command fails with this error (and the action with it).
    std::optional<std::string> command_error;
  };
  using ScriptHook = std::function<ScriptOutcome(const ScriptRun&)>;
  // Who a token belongs to (the Entra app's client id); used as comment author and requestor.
  using TokenOwnerLookup = std::function<std::optional<std::string>(const std::string& token)>;

  MdeEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // Seed: {"alerts": [Alert...], "machines": [{"id", "computerDnsName", "healthStatus",
  // "osPlatform", ...any Machine field, "offline": bool, "files": {"C:\\p\\f.exe": "<base64>"},
  // "fail_next_action": "<error>", "busy": bool, "exclusion_blocked": bool,
  // "quarantine": [{"threat": "<name>", "file": "<base64>", "path": "C:\\p\\f.exe"}]}],
  // "denied_permissions": ["Machine.LiveResponse"]}
  // An id that exists already is updated (missing fields keep their value; "files" replaces the
  // device's files). The seed is checked completely before anything changes.
  std::optional<std::string> Seed(const Json& seed) override;
  // {"alerts", "machines", "machine_actions", "library", "denied_permissions",
  //  "limit_violations": n, "limit_violation_log": [{endpoint, quota, at}]}
  Json StateJson() const override;
  void ResetState() override;

  // Default: the collection script is modelled (RunCollectionScript); any other library script
  // gives an empty transcript with exit code 0. A hook replaces both.
  void SetScriptHook(ScriptHook hook);
  // Default: every caller is "connector".
  void SetTokenOwnerLookup(TokenOwnerLookup lookup);

  const Options& options() const { return options_; }

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;

 private:
  struct AlertRecord {
    Json doc;                       // the alert without evidence
    std::string evidence;           // serialized evidence array
    std::string dumped;             // doc.dump(), refreshed on every change
    std::vector<odata::Value> row;  // filterable fields in AlertFields() order
    TimePoint created{};
    TimePoint updated{};
    int64_t seq = 0;
  };
  struct MachineFile {
    std::string path;  // as seeded
    std::string bytes;
  };
  // An item Defender Antivirus quarantined on a device (for the collection script model).
  struct QuarantineItem {
    std::string threat;
    std::string path;
    std::string bytes;
    std::string sha256;
    std::string sha1;  // upper-case hex: the resource file's name under ResourceData
  };
  struct MachineRecord {
    Json doc;
    bool offline = false;
    std::map<std::string, MachineFile> files;  // key: lower-case path
    std::vector<QuarantineItem> quarantine;
    bool exclusion_blocked = false;  // a policy keeps the restore's temporary exclusion off
    std::optional<std::string> fail_next_action;
    int64_t seq = 0;
  };
  struct CommandResult {
    bool available = false;
    std::string bytes;  // gzip of a file, or a RunScript transcript
  };
  struct ActionRecord {
    Json doc;
    int polls = 0;         // online GETs seen
    bool foreign = false;  // another requestor's session (seeded "busy"): never advances here
    std::vector<CommandResult> results;
    int64_t seq = 0;
  };
  struct DownloadLink {
    std::string action_id;
    size_t index = 0;
    std::string sig;
    std::string expiry;  // the "se" value as issued
    TimePoint expires{};
  };
  struct LibraryFile {
    Json entry;
    std::string content;
  };
  // Everything a handler needs to know about the caller and the route.
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    std::vector<std::string> segments;  // after /api[/v1.0], as sent
    std::string caller;                 // requestor / comment author
    httplib::Params params;             // query, '+' decoded as space

    bool Has(const std::string& name) const { return odata::HasParam(params, name); }
    std::string Param(const std::string& name) const { return odata::ParamValue(params, name); }
  };
  using Handler = void (MdeEmulator::*)(Call&);

  void Dispatch(const httplib::Request& req, httplib::Response& res);
  bool Authenticate(Call& call);
  bool CheckQuota(Call& call, const std::string& endpoint, const std::vector<mde::Quota>& quotas);
  bool CheckPermission(Call& call, std::string_view permission);
  // Unknown query parameters are a contract violation.
  bool AllowOnlyParams(Call& call, std::initializer_list<std::string_view> allowed);
  void SendError(httplib::Response& res, int status, std::string_view code,
                 const std::string& message) const;
  void SendOData(httplib::Response& res, int status, const std::string& body) const;
  std::string Context(std::string_view entity) const;

  // Alerts (mde_alerts.cpp).
  void ListAlerts(Call& call);
  void GetAlert(Call& call);
  void UpdateAlert(Call& call);
  std::string AlertBody(const AlertRecord& alert, bool with_evidence) const;
  void RefreshAlert(AlertRecord& alert);
  static const std::vector<odata::FieldSpec>& AlertFields();

  // Machines and machine actions (mde_machines.cpp).
  void ListMachines(Call& call);
  void GetMachine(Call& call);
  void ListMachineActions(Call& call);
  void GetMachineAction(Call& call);
  void CancelMachineAction(Call& call);
  std::string NewActionId();
  ActionRecord* ActiveLiveResponse(const std::string& machine_id);

  // Live response (mde_live_response.cpp).
  void RunLiveResponse(Call& call);
  void GetResultDownloadLink(Call& call, size_t index);
  void Download(const httplib::Request& req, httplib::Response& res);
  void Advance(ActionRecord& action);
  // A session queued on an offline device for 3 days times out, as in MDE.
  void ApplyQueueTimeout(ActionRecord& action);
  void Finish(ActionRecord& action, std::string_view status);
  void Complete(ActionRecord& action, MachineRecord& machine);

  // The collection script (scripts/live-response/vmray-connector-collect.ps1), modelled
  // (mde_quarantine.cpp): checks the request as the script does, then restores or hands over
  // the encrypted resource file, PUTs it to the upload link and writes the one outcome line.
  ScriptOutcome RunCollectionScript(const ScriptRun& run, const MachineRecord& machine);
  std::optional<std::string> SeedQuarantine(const Json& m, MachineRecord& record) const;

  // Response actions: isolate, runAntiVirusScan, StopAndQuarantineFile,
  // collectInvestigationPackage (mde_response_actions.cpp).
  void RequestResponseAction(Call& call);
  void AdvanceResponseAction(ActionRecord& action);
  // The permission a response action route needs; empty for other segments.
  static std::string_view ResponseActionPermission(std::string_view segment);

  // Library (mde_library.cpp).
  void UploadLibraryFile(Call& call);
  void ListLibraryFiles(Call& call);
  void DeleteLibraryFile(Call& call);

  // Custom indicators (mde_indicators.cpp).
  struct IndicatorRecord {
    Json doc;
    int64_t seq = 0;
  };
  void ListIndicators(Call& call);
  void ImportIndicators(Call& call);
  void BatchDeleteIndicators(Call& call);
  void DeleteIndicator(Call& call);
  // One import item: the stored entity's id, or why it failed (the per-item failureReason).
  struct ImportOutcome {
    std::string id;
    std::string failure;  // empty: stored
  };
  ImportOutcome ImportIndicator(const Json& item, const std::string& caller);
  size_t ActiveIndicators() const;
  std::optional<std::string> SeedIndicators(const Json& seed);
  Json IndicatorsJson() const;

  // Applies one machine seed to `record` (a copy until the whole seed is valid); `busy` gets the
  // seed's "busy" flag when present.
  std::optional<std::string> SeedMachine(const Json& m, MachineRecord& record, bool is_new,
                                         std::optional<bool>& busy);
  void SetBusy(MachineRecord& machine, bool busy);
  Json ActionJson(const ActionRecord& action) const;

  Options options_;
  TokenRegistry& tokens_;
  ScriptHook script_hook_;
  bool custom_script_hook_ = false;   // false: the collection script is modelled
  Json script_runs_ = Json::array();  // what each modelled collection run was asked and did
  TokenOwnerLookup owner_lookup_;

  // All below under state_mutex().
  std::unordered_map<std::string, AlertRecord> alerts_;
  std::map<std::string, MachineRecord> machines_;
  std::map<std::string, ActionRecord> actions_;
  std::unordered_map<std::string, DownloadLink> links_;
  std::map<std::string, LibraryFile> library_;  // key: lower-case file name
  std::set<std::string> denied_permissions_;
  std::map<int64_t, IndicatorRecord> indicators_;      // by numeric id
  std::map<std::string, int64_t> indicator_by_value_;  // "<type>|<lower-case value>" -> id
  int64_t next_indicator_id_ = 2841;
  mde::CallQuotas quotas_;
  int64_t limit_violations_ = 0;
  Json limit_violation_log_ = Json::array();
  int64_t next_seq_ = 1;
};

}  // namespace vc::emu
