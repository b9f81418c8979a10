// Azure Monitor Logs Ingestion API emulator (api-version 2023-01-01), the data collection
// endpoint (DCE) the 3.0.2 mail playbook writes VMRaySubmissions_CL rows to
// (original-sentinel-solution.md 6.2):
//   POST /dataCollectionRules/{dcrImmutableId}/streams/{stream}?api-version=2023-01-01
// with a JSON array of rows (Content-Type application/json, optionally Content-Encoding gzip),
// answered 204 with no body. Rows are kept in the state for tests.
//
// Checks, in the order the service makes them: a token for https://monitor.azure.com (401
// otherwise), the 1 MB request limit on the body as sent and as decompressed (413
// ContentLengthLimitExceeded), the DCR immutable id (404) and its stream (400 InvalidStream), the
// Monitoring Metrics Publisher role of the calling app on the DCR (403 OperationFailed, the
// service's text) and the rows against the stream's columns (400 InvalidPayload). Errors are
// {"error": {"code", "message"}} with the code also in the x-ms-error-code header.
//
// Stricter than the service on purpose: the real API drops columns that the stream does not
// declare and values it cannot convert without saying so (rows vanish, 204 all the same); here
// an unknown column or a value of the wrong type is a 400 naming the row and column, so a
// client that writes what the table will not hold fails its test instead of losing data
// silently. A body that is not a JSON array (the service answers 204 and keeps nothing) is an
// assertion failure.
#pragma once

#include <map>

#include "emulator_server.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class LogsIngestionEmulator final : public EmulatorServer {
 public:
  static constexpr std::string_view kApiVersion = "2023-01-01";

  struct Options {
    std::vector<std::string> audiences = {"https://monitor.azure.com"};
    std::string dcr_immutable_id = "dcr-00000000000000000000000000000000";
    std::string stream = "Custom-VMRaySubmissions_CL";
    // Column name -> Log Analytics type (string, int, long, real, bool, datetime, dynamic,
    // guid); default: the VMRaySubmissions_CL table of the 3.0.2 solution.
    std::map<std::string, std::string> columns = VmraySubmissionsColumns();
    int64_t max_body_bytes = 1024 * 1024;
    // Client ids (the token's appid) that hold Monitoring Metrics Publisher on the DCR; empty:
    // every app with a valid token does.
    std::vector<std::string> publishers;
    // {"audiences", "dcr_immutable_id", "stream", "columns": {name: type}, "max_body_bytes",
    //  "publishers"}; unknown keys or wrong types throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };
  static std::map<std::string, std::string> VmraySubmissionsColumns();

  LogsIngestionEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // {"rows": [<accepted rows, oldest first>], "uploads": [{"dcr", "stream", "rows", "bytes",
  //  "gzip"}], "rejected": <refused requests>, "publishers": [...]}
  Json StateJson() const override;
  // {"publishers": [...]} replaces who holds the role (a role assignment added or removed);
  // {"rows": [...]} stores rows as if uploaded.
  std::optional<std::string> Seed(const Json& seed) override;
  void ResetState() override;
  const Options& options() const { return options_; }

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;

 private:
  void Upload(const httplib::Request& req, httplib::Response& res);
  void SendError(httplib::Response& res, int status, const std::string& code,
                 const std::string& message);
  // Empty when the row fits the stream's columns, else what is wrong.
  std::string RowProblem(const Json& row) const;

  Options options_;
  TokenRegistry& tokens_;
  // Under state_mutex().
  std::vector<std::string> publishers_;
  Json rows_ = Json::array();
  Json uploads_ = Json::array();
  int64_t rejected_ = 0;
};

}  // namespace vc::emu
