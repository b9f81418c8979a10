// MDE custom indicators (Ti.ReadWrite.All): list with @odata.nextLink paging, import in batches
// of at most 500 with per-item results, and delete. Kept apart from client.hpp because only the
// indicator writer needs them; the calls go through the same Client (token, limiters, retry):
// "indicators.import" and "indicators.batchdelete" have local limiters of their own (30/min;
// BatchDelete also 1,500/h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/defender/client.hpp"

namespace vc::mde {

inline constexpr size_t kMaxIndicatorsPerImport = 500;
inline constexpr size_t kMaxIndicatorIdsPerDelete = 500;
// Active indicators MDE keeps per tenant.
inline constexpr size_t kTenantIndicatorCap = 15'000;

struct Indicator {
  std::string id;
  std::string value;
  std::string type;  // FileSha256, IpAddress, DomainName, Url, ...
  std::string action;
  std::string application;
  std::string severity;
  std::string title;
  std::string created_by;
  bool generate_alert = false;
  std::optional<TimePoint> created;
  std::optional<TimePoint> expiration;
};

// One entry of the import answer: {"id", "indicator", "isFailed", "failureReason"}.
struct ImportItemResult {
  std::string id;
  std::string indicator;
  bool failed = false;
  std::string failure_reason;
};

class IndicatorApi {
 public:
  explicit IndicatorApi(Client& client) : client_(client) {}

  // GET /api/indicators[?$filter=...], following @odata.nextLink. A next link that leaves the
  // API's base URL is refused: the token must never go anywhere else.
  Result<std::vector<Indicator>> List(const std::string& filter = "");
  // POST /api/indicators/import with `indicators` (a JSON array of at most 500 bodies); the
  // answer's per-item results, in its order. Safe to repeat: MDE updates an indicator of the
  // same value and type instead of adding another.
  Result<std::vector<ImportItemResult>> Import(const Json& indicators);
  // POST /api/indicators/BatchDelete with at most 500 ids.
  Status BatchDelete(const std::vector<std::string>& ids);
  // DELETE /api/indicators/{id}; an indicator that is gone already counts as deleted.
  Status Delete(const std::string& id);

 private:
  Client& client_;
};

Result<Indicator> ParseIndicator(const Json& j, const std::string& path);

}  // namespace vc::mde
