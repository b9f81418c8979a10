#include "clients/defender/indicators.hpp"

#include <fmt/format.h>

#include "core/time.hpp"
#include "http/curl_transport.hpp"

namespace vc::mde {
namespace {

// Pages followed at most: 15,000 indicators at MDE's smallest page sizes and then some, so a
// service that keeps answering with a next link cannot hold the worker forever.
constexpr int kMaxPages = 200;

}  // namespace

Result<Indicator> ParseIndicator(const Json& j, const std::string& path) {
  if (!j.is_object()) return MakeError(ErrorCode::kProtocol, path + " is not an object");
  JsonReader r(j, path);
  Indicator out;
  out.id = r.Str("id");
  out.value = r.Str("indicatorValue");
  out.type = r.Str("indicatorType");
  out.action = r.OptStr("action").value_or("");
  out.application = r.OptStr("application").value_or("");
  out.severity = r.OptStr("severity").value_or("");
  out.title = r.OptStr("title").value_or("");
  out.created_by = r.OptStr("createdBy").value_or("");
  out.generate_alert = r.OptBool("generateAlert").value_or(false);
  if (auto t = r.OptStr("creationTimeDateTimeUtc")) out.created = ParseIso8601(*t);
  if (auto t = r.OptStr("expirationTime")) out.expiration = ParseIso8601(*t);
  if (!r.ok()) return r.status().error();
  return out;
}

Result<std::vector<Indicator>> IndicatorApi::List(const std::string& filter) {
  std::string path = "/api/indicators";
  if (!filter.empty()) path += "?" + http::EncodeQuery({{"$filter", filter}});
  http::Request request = client_.Make(http::Method::kGet, path, "indicators.list");
  std::vector<Indicator> out;
  for (int page = 0;; ++page) {
    if (page >= kMaxPages) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("MDE kept answering the indicator list with a next link "
                                   "after {} pages; giving up",
                                   kMaxPages));
    }
    auto body = client_.Call(request, "list indicators");
    if (!body) return body.error();
    JsonReader r(*body, "indicators");
    const Json& value = r.Array("value");
    auto next = r.OptStr("@odata.nextLink");
    if (!r.ok()) return r.status().error();
    for (size_t i = 0; i < value.size(); ++i) {
      auto indicator = ParseIndicator(value[i], fmt::format("indicators.value[{}]", i));
      if (!indicator) return indicator.error();
      out.push_back(std::move(*indicator));
    }
    if (!next || next->empty()) return out;
    const std::string& base = client_.base_url();
    if (next->rfind(base + "/", 0) != 0) {
      return MakeError(ErrorCode::kProtocol,
                       "MDE's next link for the indicator list points outside " + base +
                           "; not following it (the access token would go with it)");
    }
    request = client_.Make(http::Method::kGet, next->substr(base.size()), "indicators.list");
  }
}

Result<std::vector<ImportItemResult>> IndicatorApi::Import(const Json& indicators) {
  if (!indicators.is_array() || indicators.empty() || indicators.size() > kMaxIndicatorsPerImport) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("an indicator import takes 1 to {} indicators", kMaxIndicatorsPerImport));
  }
  http::Request r =
      client_.Make(http::Method::kPost, "/api/indicators/import", "indicators.import");
  r.headers.Set("Content-Type", "application/json");
  r.body = Json{{"Indicators", indicators}}.dump();
  // The same value and type update the indicator in place: a repeat adds nothing.
  r.idempotent = true;
  auto body = client_.Call(std::move(r), fmt::format("import {} indicators", indicators.size()));
  if (!body) return body.error();
  JsonReader reader(*body, "indicators import");
  const Json& value = reader.Array("value");
  if (!reader.ok()) return reader.status().error();
  std::vector<ImportItemResult> out;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string where = fmt::format("indicators import.value[{}]", i);
    if (!value[i].is_object()) return MakeError(ErrorCode::kProtocol, where + " is not an object");
    JsonReader item(value[i], where);
    ImportItemResult result;
    result.id = item.OptStr("id").value_or("");
    result.indicator = item.OptStr("indicator").value_or("");
    result.failed = item.OptBool("isFailed").value_or(false);
    result.failure_reason = item.OptStr("failureReason").value_or("");
    if (!item.ok()) return item.status().error();
    out.push_back(std::move(result));
  }
  return out;
}

Status IndicatorApi::BatchDelete(const std::vector<std::string>& ids) {
  if (ids.empty() || ids.size() > kMaxIndicatorIdsPerDelete) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("BatchDelete takes 1 to {} indicator ids", kMaxIndicatorIdsPerDelete));
  }
  http::Request r =
      client_.Make(http::Method::kPost, "/api/indicators/BatchDelete", "indicators.batchdelete");
  r.headers.Set("Content-Type", "application/json");
  r.body = Json{{"IndicatorIds", ids}}.dump();
  // Deleting what is gone is a 404 the caller handles; nothing is created twice.
  r.idempotent = true;
  auto body = client_.Call(std::move(r), fmt::format("delete {} indicators", ids.size()));
  if (!body) return body.error();
  return Ok();
}

Status IndicatorApi::Delete(const std::string& id) {
  auto body =
      client_.Call(client_.Make(http::Method::kDelete, "/api/indicators/" + http::UrlEncode(id),
                                "indicators.delete"),
                   "delete indicator " + id);
  if (!body && body.error().code != ErrorCode::kNotFound) return body.error();
  return Ok();
}

}  // namespace vc::mde
