// Rows into a Log Analytics custom table through the Azure Monitor Logs Ingestion API
// (api-version 2023-01-01): POST {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}
// with a JSON array of rows, answered 204. The 3.0.2 mail playbook writes one
// VMRaySubmissions_CL row per finished submission this way (original-sentinel-solution.md 6.2),
// so that a scheduled analytics rule raises Defender-visible incidents.
//
// Calls go through the shared pipeline with an Entra token for https://monitor.azure.com. The
// API refuses a request over 1 MB (413), so rows are sent in batches of at most `max_batch_bytes`
// of JSON; a single row over the limit is refused before anything is sent. POST is not
// idempotent: the retry policy resends only after 429 or a connection that never opened, so a
// row is not written twice by a retry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"

namespace vc::monitor {

inline constexpr std::string_view kLogsIngestionApiVersion = "2023-01-01";
inline constexpr std::string_view kMonitorResource = "https://monitor.azure.com";

struct LogsIngestionOptions {
  // The data collection endpoint's logs ingestion URL, e.g.
  // https://vmray-dce-abcd.westeurope-1.ingest.monitor.azure.com
  std::string endpoint;
  std::string dcr_immutable_id;  // "dcr-" + 32 hex digits, from the DCR's overview
  std::string stream = "Custom-VMRaySubmissions_CL";
  int64_t max_batch_bytes = 1024 * 1024;  // the API's limit per request
};

struct UploadSummary {
  size_t rows = 0;
  size_t requests = 0;
};

class LogsIngestionClient {
 public:
  LogsIngestionClient(LogsIngestionOptions options, std::shared_ptr<http::Pipeline> api);

  // Sends every row (each a JSON object with the stream's columns), in as few requests as the
  // size limit allows, in order. On an error the rows of the batches before it were ingested
  // and the error message says how many; the caller resends only the rest.
  Result<UploadSummary> Upload(const std::vector<Json>& rows);

  // Splits serialized rows into request bodies ("[row,row,...]") of at most `max_bytes` each;
  // kInvalidArgument when one row alone does not fit. Exposed for tests.
  static Result<std::vector<std::pair<std::string, size_t>>> Batches(const std::vector<Json>& rows,
                                                                     int64_t max_bytes);

 private:
  Status Post(const std::string& body);

  LogsIngestionOptions options_;
  std::shared_ptr<http::Pipeline> api_;
};

}  // namespace vc::monitor
