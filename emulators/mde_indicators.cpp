// Custom indicator routes of the MDE emulator (api-reference 2.7): GET /api/indicators with
// $filter/$top/$skip and @odata.nextLink paging, POST /api/indicators/import with per-item
// results (the same value and type update the existing indicator), POST
// /api/indicators/BatchDelete, DELETE /api/indicators/{id}, and the per-tenant cap on active
// indicators (an import item past it fails on its own, the rest of the batch goes in).
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/time.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

constexpr size_t kMaxImportBatch = 500;
constexpr size_t kMaxDeleteBatch = 500;
using odata::kMaxTop;
using odata::ParseCount;

constexpr std::string_view kIndicatorTypes[] = {
    "FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url"};
constexpr std::string_view kIndicatorActions[] = {
    "Allowed", "Audit", "Block", "BlockAndRemediate", "Warn", "Alert", "AlertAndBlock"};
constexpr std::string_view kIndicatorSeverities[] = {"Informational", "Low", "Medium", "High"};
// Body parameters of one indicator; names are case-sensitive.
constexpr std::string_view kIndicatorFields[] = {
    "indicatorValue", "indicatorType",  "action",   "application",        "title",
    "description",    "expirationTime", "severity", "recommendedActions", "rbacGroupNames",
    "educateUrl",     "generateAlert"};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsHex(const std::string& s, size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsDomain(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.find('.') == std::string::npos) return false;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t dot = std::min(s.find('.', start), s.size());
    const std::string label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

bool IsUrl(const std::string& s) {
  const std::string lower = Lower(s.substr(0, 8));
  if (lower.rfind("http://", 0) != 0 && lower.rfind("https://", 0) != 0) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20) return false;
  }
  return s.size() > lower.find("//") + 2;
}

// Why MDE would refuse this value for this type, or "".
std::string ValueProblem(const std::string& type, const std::string& value) {
  if (type == "FileSha256" && !IsHex(value, 64))
    return "InvalidHashValue: a FileSha256 indicator needs 64 hexadecimal characters";
  if (type == "FileSha1" && !IsHex(value, 40))
    return "InvalidHashValue: a FileSha1 indicator needs 40 hexadecimal characters";
  if (type == "FileMd5" && !IsHex(value, 32))
    return "InvalidHashValue: a FileMd5 indicator needs 32 hexadecimal characters";
  if (type == "CertificateThumbprint" && !IsHex(value, 40))
    return "InvalidHashValue: a CertificateThumbprint indicator needs 40 hexadecimal characters";
  if (type == "IpAddress" && !IsIp(value))
    return "InvalidIpAddress: not an IPv4 or IPv6 address (CIDR notation is not supported)";
  if (type == "DomainName" && !IsDomain(value)) return "InvalidDomainName: not a domain name";
  if (type == "Url" && !IsUrl(value)) return "InvalidUrl: not an http(s) URL";
  return "";
}

bool IsFileType(const std::string& type) {
  return type == "FileSha1" || type == "FileSha256" || type == "FileMd5";
}

const std::vector<odata::FieldSpec>& IndicatorFields() {
  using odata::FieldType;
  static const std::vector<odata::FieldSpec> fields = {
      {"indicatorValue", FieldType::kString},
      {"indicatorType", FieldType::kEnum, {std::begin(kIndicatorTypes), std::end(kIndicatorTypes)}},
      {"creationTimeDateTimeUtc", FieldType::kDateTime},
      {"createdBy", FieldType::kString},
      {"severity",
       FieldType::kEnum,
       {std::begin(kIndicatorSeverities), std::end(kIndicatorSeverities)}},
      {"action", FieldType::kString},
  };
  return fields;
}

std::vector<odata::Value> IndicatorRow(const Json& d) {
  auto text = [&](const char* key) {
    auto it = d.find(key);
    return it != d.end() && it->is_string() ? odata::Value::Text(it->get<std::string>())
                                            : odata::Value::Null();
  };
  odata::Value created = odata::Value::Null();
  if (auto it = d.find("creationTimeDateTimeUtc"); it != d.end() && it->is_string()) {
    if (auto t = ParseIso8601(it->get<std::string>())) created = odata::Value::Time(*t);
  }
  return {text("indicatorValue"), text("indicatorType"), created,
          text("createdBy"),      text("severity"),      text("action")};
}

std::string IndexKey(const std::string& type, const std::string& value) {
  return type + "|" + Lower(value);
}

}  // namespace

size_t MdeEmulator::ActiveIndicators() const {
  // Only expired ones can make the active count differ from the total: skip the scan below the
  // cap, where the answer cannot change an import's outcome.
  if (indicators_.size() < static_cast<size_t>(options_.indicator_cap)) return indicators_.size();
  const TimePoint now = clock().Now();
  size_t n = 0;
  for (const auto& [_, r] : indicators_) {
    const Json& exp = r.doc["expirationTime"];
    if (exp.is_string()) {
      auto t = ParseIso8601(exp.get<std::string>());
      if (t && *t <= now) continue;
    }
    ++n;
  }
  return n;
}

void MdeEmulator::ListIndicators(Call& call) {
  if (!AllowOnlyParams(call, {"$filter", "$top", "$skip"})) return;
  auto paging = odata::ReadPaging(call.params, IndicatorFields(), "Indicator");
  if (auto* problem = std::get_if<std::string>(&paging)) {
    return SendError(call.res, 400, "ODataError", *problem);
  }
  const odata::Paging& p = std::get<odata::Paging>(paging);
  const odata::Filter& filter = p.filter;
  const std::optional<size_t> top = p.top;
  const size_t skip = p.skip;
  std::vector<const IndicatorRecord*> hits;
  for (const auto& [_, r] : indicators_) {
    if (odata::Matches(filter, IndicatorRow(r.doc))) hits.push_back(&r);
  }
  // An explicit $top is the whole answer; without it the service pages and links the rest.
  const size_t page = top ? *top : static_cast<size_t>(options_.indicator_page_size);
  Json value = Json::array();
  for (size_t i = skip; i < hits.size() && value.size() < page; ++i) value.push_back(hits[i]->doc);
  Json body{{"@odata.context", Context("Indicators")}, {"value", std::move(value)}};
  if (!top && skip + page < hits.size()) {
    httplib::Params next;
    if (call.Has("$filter")) next.emplace("$filter", call.Param("$filter"));
    next.emplace("$skip", std::to_string(skip + page));
    std::string query;
    for (const auto& [k, v] : next) {
      query += (query.empty() ? "" : "&") + httplib::detail::encode_query_param(k) + "=" +
               httplib::detail::encode_query_param(v);
    }
    body["@odata.nextLink"] = BaseUrl() + "/api/indicators?" + query;
  }
  SendOData(call.res, 200, body.dump());
}

MdeEmulator::ImportOutcome MdeEmulator::ImportIndicator(const Json& item,
                                                        const std::string& caller) {
  auto str = [&](const char* key) -> std::string {
    auto it = item.find(key);
    return it != item.end() && it->is_string() ? it->get<std::string>() : "";
  };
  for (const char* key : {"indicatorValue", "indicatorType", "action", "title", "description"}) {
    if (str(key).empty()) {
      return {"", fmt::format("MissingRequiredParameter: {} is required", key)};
    }
  }
  const std::string type = str("indicatorType");
  const std::string value = str("indicatorValue");
  const std::string action = str("action");
  if (!mde::OneOf(type, kIndicatorTypes)) {
    return {"", fmt::format("InvalidInput: indicatorType '{}' is not one of {}", type,
                            mde::JoinSet(kIndicatorTypes))};
  }
  if (!mde::OneOf(action, kIndicatorActions)) {
    return {"", fmt::format("InvalidInput: action '{}' is not one of {}", action,
                            mde::JoinSet(kIndicatorActions))};
  }
  if (auto problem = ValueProblem(type, value); !problem.empty()) return {"", problem};
  if (action == "BlockAndRemediate" && !IsFileType(type)) {
    return {"", fmt::format("InvalidInput: BlockAndRemediate applies to file indicators only, not "
                            "{}",
                            type)};
  }
  const bool generate_alert = item.contains("generateAlert") &&
                              item["generateAlert"].is_boolean() &&
                              item["generateAlert"].get<bool>();
  if (item.contains("generateAlert") && !item["generateAlert"].is_boolean())
    return {"", "InvalidInput: generateAlert must be true or false"};
  if (action == "Audit" && !generate_alert)
    return {"", "InvalidInput: the Audit action requires generateAlert: true"};
  const std::string severity = str("severity");
  if (item.contains("severity") && !mde::OneOf(severity, kIndicatorSeverities)) {
    return {"", fmt::format("InvalidInput: severity must be one of {}",
                            mde::JoinSet(kIndicatorSeverities))};
  }
  const TimePoint now = clock().Now();
  Json expiration = nullptr;
  if (item.contains("expirationTime") && !item["expirationTime"].is_null()) {
    auto t = item["expirationTime"].is_string()
                 ? ParseIso8601(item["expirationTime"].get<std::string>())
                 : std::nullopt;
    if (!t) return {"", "InvalidInput: expirationTime must be an ISO-8601 UTC time"};
    if (*t <= now) return {"", "InvalidInput: expirationTime is in the past"};
    expiration = mde::FormatTime(*t);
  }

  const std::string key = IndexKey(type, value);
  const std::string stamp = mde::FormatTime(now);
  if (auto it = indicator_by_value_.find(key); it != indicator_by_value_.end()) {
    // Same value and type: the existing indicator is updated (application stays as created).
    Json& d = indicators_[it->second].doc;
    d["action"] = action;
    d["title"] = str("title");
    d["description"] = str("description");
    d["severity"] = item.contains("severity") ? Json(severity) : d["severity"];
    d["expirationTime"] = expiration;
    d["generateAlert"] = generate_alert;
    d["recommendedActions"] = item.value("recommendedActions", Json(nullptr));
    d["lastUpdateTime"] = stamp;
    d["lastUpdatedBy"] = caller;
    return {d["id"].get<std::string>(), ""};
  }
  if (ActiveIndicators() >= static_cast<size_t>(options_.indicator_cap)) {
    return {"", fmt::format("The tenant has reached the maximum of {} active indicators; delete "
                            "indicators before adding more",
                            options_.indicator_cap)};
  }
  const int64_t id = next_indicator_id_++;
  Json d{{"id", std::to_string(id)},
         {"indicatorValue", value},
         {"indicatorType", type},
         {"action", action},
         {"application", item.value("application", Json(nullptr))},
         {"source", caller},
         {"sourceType", "AadApp"},
         {"createdBy", caller},
         {"createdBySource", "PublicApi"},
         {"severity", item.contains("severity") ? Json(severity) : Json("Informational")},
         {"title", str("title")},
         {"description", str("description")},
         {"recommendedActions", item.value("recommendedActions", Json(nullptr))},
         {"creationTimeDateTimeUtc", stamp},
         {"expirationTime", expiration},
         {"lastUpdateTime", stamp},
         {"lastUpdatedBy", nullptr},
         {"rbacGroupNames", item.value("rbacGroupNames", Json::array())},
         {"rbacGroupIds", Json::array()},
         {"generateAlert", generate_alert},
         {"externalID", nullptr}};
  indicators_[id] = {std::move(d), next_seq_++};
  indicator_by_value_[key] = id;
  return {std::to_string(id), ""};
}

void MdeEmulator::ImportIndicators(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(call.req, call.res,
                           "POST /api/indicators/import needs Content-Type: application/json, "
                           "got '" +
                               content_type + "'");
  }
  Json body = Json::parse(call.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("Indicators") ||
      !body["Indicators"].is_array() || body.size() != 1) {
    return SendError(call.res, 400, "InvalidRequestBody",
                     "Request body is incorrect: expected {\"Indicators\": [ ... ]}");
  }
  const Json& items = body["Indicators"];
  if (items.empty()) {
    return SendError(call.res, 400, "InvalidRequestBody",
                     "Request body is incorrect: Indicators is empty");
  }
  if (items.size() > kMaxImportBatch) {
    return SendError(call.res, 400, "MaximumBatchSizeExceeded",
                     fmt::format("An import takes at most {} indicators; this one has {}",
                                 kMaxImportBatch, items.size()));
  }
  // A misspelt key is refused for the whole request, as MDE does for case-sensitive names.
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) {
      return SendError(
          call.res, 400, "InvalidRequestBody",
          fmt::format("Request body is incorrect: Indicators[{}] is not an object", i));
    }
    for (const auto& [k, _] : items[i].items()) {
      if (!mde::OneOf(k, kIndicatorFields)) {
        return SendError(call.res, 400, "InvalidRequestBody",
                         fmt::format("Request body is incorrect: unknown parameter '{}' in "
                                     "Indicators[{}] (names are case-sensitive)",
                                     k, i));
      }
    }
  }
  Json value = Json::array();
  for (const Json& item : items) {
    ImportOutcome outcome = ImportIndicator(item, call.caller);
    const Json indicator = item.contains("indicatorValue") ? item["indicatorValue"] : Json(nullptr);
    if (outcome.failure.empty()) {
      value.push_back({{"id", outcome.id},
                       {"indicator", indicator},
                       {"isFailed", false},
                       {"failureReason", nullptr}});
    } else {
      value.push_back({{"id", nullptr},
                       {"indicator", indicator},
                       {"isFailed", true},
                       {"failureReason", outcome.failure}});
    }
  }
  SendOData(call.res, 200,
            Json{{"@odata.context", Context("Collection(microsoft.windowsDefenderATP.api."
                                            "ImportIndicatorResult)")},
                 {"value", std::move(value)}}
                .dump());
}

void MdeEmulator::BatchDeleteIndicators(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(call.req, call.res,
                           "POST /api/indicators/BatchDelete needs Content-Type: "
                           "application/json, got '" +
                               content_type + "'");
  }
  Json body = Json::parse(call.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("IndicatorIds") ||
      !body["IndicatorIds"].is_array() || body.size() != 1) {
    return SendError(call.res, 400, "InvalidRequestBody",
                     "Request body is incorrect: expected {\"IndicatorIds\": [\"1\", ...]}");
  }
  const Json& ids = body["IndicatorIds"];
  if (ids.empty() || ids.size() > kMaxDeleteBatch) {
    return SendError(
        call.res, 400, "InvalidInput",
        fmt::format("IndicatorIds must hold 1 to {} ids; it has {}", kMaxDeleteBatch, ids.size()));
  }
  std::vector<int64_t> found;
  for (const Json& id : ids) {
    const std::string text = id.is_string() ? id.get<std::string>() : "";
    auto n = ParseCount(text);
    if (!n) {
      return SendError(call.res, 400, "InvalidInput",
                       fmt::format("'{}' is not a valid indicator id", id.dump()));
    }
    if (!indicators_.count(*n)) {
      return SendError(call.res, 404, "NotFound", fmt::format("Indicator {} was not found", text));
    }
    found.push_back(*n);
  }
  for (int64_t n : found) {
    auto it = indicators_.find(n);
    if (it == indicators_.end()) continue;  // listed twice
    indicator_by_value_.erase(IndexKey(it->second.doc["indicatorType"].get<std::string>(),
                                       it->second.doc["indicatorValue"].get<std::string>()));
    indicators_.erase(it);
  }
  call.res.status = 204;
}

void MdeEmulator::DeleteIndicator(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& text = call.segments[1];
  auto n = ParseCount(text);
  auto it = n ? indicators_.find(*n) : indicators_.end();
  if (it == indicators_.end()) {
    return SendError(call.res, 404, "NotFound", fmt::format("Indicator {} was not found", text));
  }
  indicator_by_value_.erase(IndexKey(it->second.doc["indicatorType"].get<std::string>(),
                                     it->second.doc["indicatorValue"].get<std::string>()));
  indicators_.erase(it);
  call.res.status = 204;
}

// Seed "indicators": [{"indicatorValue", "indicatorType", "action", "title", "description", ...}]
// (import bodies, as another tool would have created them) or {"fill": n} for n placeholder
// FileSha256 indicators of another application (a tenant near its cap).
std::optional<std::string> MdeEmulator::SeedIndicators(const Json& seed) {
  std::vector<Json> items;
  if (seed.is_object() && seed.size() == 1 && seed.contains("fill") &&
      seed["fill"].is_number_integer() && seed["fill"].get<int64_t>() >= 0 &&
      seed["fill"].get<int64_t>() <= 100000) {
    const int64_t n = seed["fill"].get<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      items.push_back(
          {{"indicatorValue", fmt::format("{:064x}", next_indicator_id_ + i + (1LL << 40))},
           {"indicatorType", "FileSha256"},
           {"action", "Allowed"},
           {"application", "another-tool"},
           {"title", "seeded"},
           {"description", "seeded"},
           {"severity", "Informational"}});
    }
  } else if (seed.is_array()) {
    for (const Json& i : seed) items.push_back(i);
  } else {
    return "indicators must be an array of indicator bodies or {\"fill\": n}";
  }
  // All or nothing, like the rest of the seed.
  auto saved = indicators_;
  auto saved_index = indicator_by_value_;
  const int64_t saved_next = next_indicator_id_;
  auto fail = [&](std::string problem) -> std::optional<std::string> {
    indicators_ = std::move(saved);
    indicator_by_value_ = std::move(saved_index);
    next_indicator_id_ = saved_next;
    return problem;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) return fail(fmt::format("indicators[{}] is not an object", i));
    for (const auto& [k, _] : items[i].items()) {
      if (!mde::OneOf(k, kIndicatorFields))
        return fail(fmt::format("indicators[{}]: unknown field '{}'", i, k));
    }
    // Checked like an import, cap included: a seed past the cap is a test mistake to name.
    ImportOutcome outcome = ImportIndicator(items[i], "seed");
    if (!outcome.failure.empty())
      return fail(fmt::format("indicators[{}]: {}", i, outcome.failure));
  }
  return std::nullopt;
}

Json MdeEmulator::IndicatorsJson() const {
  std::vector<const IndicatorRecord*> ordered;
  for (const auto& [_, r] : indicators_) ordered.push_back(&r);
  std::sort(ordered.begin(), ordered.end(),
            [](const IndicatorRecord* a, const IndicatorRecord* b) { return a->seq < b->seq; });
  Json out = Json::array();
  for (const auto* r : ordered) out.push_back(r->doc);
  return out;
}

}  // namespace vc::emu
