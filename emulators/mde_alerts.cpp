// Alert routes of the MDE emulator: list with OData options, get one, update (PATCH).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/time.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

using odata::kMaxTop;
using odata::ParseCount;

// Missing keys read as null (const operator[] must not be used on a missing key).
const Json& Field(const Json& doc, const char* key) {
  static const Json kNull;
  auto it = doc.find(key);
  return it == doc.end() ? kNull : *it;
}

odata::Value TextOrNull(const Json& v) {
  return v.is_string() ? odata::Value::Text(v.get<std::string>()) : odata::Value::Null();
}
odata::Value TimeOrNull(const Json& v) {
  if (!v.is_string()) return odata::Value::Null();
  auto t = ParseIso8601(v.get_ref<const std::string&>());
  return t ? odata::Value::Time(*t) : odata::Value::Null();
}
odata::Value NumberOrNull(const Json& v) {
  return v.is_number_integer() ? odata::Value::Number(v.get<int64_t>()) : odata::Value::Null();
}

}  // namespace

const std::vector<odata::FieldSpec>& MdeEmulator::AlertFields() {
  using odata::FieldType;
  static const std::vector<odata::FieldSpec> fields = {
      {"alertCreationTime", FieldType::kDateTime},
      {"lastUpdateTime", FieldType::kDateTime},
      {"incidentId", FieldType::kNumber},
      {"investigationId", FieldType::kNumber},
      {"InvestigationId", FieldType::kNumber},  // spelled so in the documentation's table
      {"id", FieldType::kString},
      {"assignedTo", FieldType::kString},
      {"detectionSource", FieldType::kString},
      {"lastEventTime", FieldType::kDateTime},
      {"status",
       FieldType::kEnum,
       {std::begin(mde::kAlertStatuses), std::end(mde::kAlertStatuses)}},
      {"severity",
       FieldType::kEnum,
       {std::begin(mde::kAlertSeverities), std::end(mde::kAlertSeverities)}},
      {"category", FieldType::kString},
  };
  return fields;
}

void MdeEmulator::RefreshAlert(AlertRecord& alert) {
  const Json& d = alert.doc;
  alert.dumped = d.dump();
  alert.row = {TimeOrNull(Field(d, "alertCreationTime")), TimeOrNull(Field(d, "lastUpdateTime")),
               NumberOrNull(Field(d, "incidentId")),      NumberOrNull(Field(d, "investigationId")),
               NumberOrNull(Field(d, "investigationId")), TextOrNull(Field(d, "id")),
               TextOrNull(Field(d, "assignedTo")),        TextOrNull(Field(d, "detectionSource")),
               TimeOrNull(Field(d, "lastEventTime")),     TextOrNull(Field(d, "status")),
               TextOrNull(Field(d, "severity")),          TextOrNull(Field(d, "category"))};
  alert.created = alert.row[0].time;
  alert.updated = alert.row[1].time;
}

std::string MdeEmulator::AlertBody(const AlertRecord& alert, bool with_evidence) const {
  if (!with_evidence) return alert.dumped;
  std::string out = alert.dumped;
  out.pop_back();  // the closing brace
  out += ",\"evidence\":";
  out += alert.evidence;
  out += '}';
  return out;
}

void MdeEmulator::ListAlerts(Call& call) {
  if (!AllowOnlyParams(call, {"$filter", "$top", "$skip", "$expand", "$orderby"})) return;
  odata::Filter filter;
  if (call.Has("$filter")) {
    auto parsed = odata::ParseFilter(call.Param("$filter"), AlertFields(), "Alert");
    if (auto* problem = std::get_if<std::string>(&parsed)) {
      return SendError(call.res, 400, "ODataError", *problem);
    }
    filter = std::get<odata::Filter>(std::move(parsed));
  }
  std::optional<int64_t> top;
  if (call.Has("$top")) {
    top = ParseCount(call.Param("$top"));
    if (!top || *top < 1 || *top > kMaxTop) {
      return SendError(call.res, 400, "ODataError",
                       fmt::format("Invalid $top '{}': the limit of '{}' for Top query has been "
                                   "exceeded or the value is not a positive integer; use 1 to {} "
                                   "and page with $skip.",
                                   call.Param("$top"), kMaxTop, kMaxTop));
    }
  }
  int64_t skip = 0;
  if (call.Has("$skip")) {
    auto parsed = ParseCount(call.Param("$skip"));
    if (!parsed || *parsed < 0) {
      return SendError(call.res, 400, "ODataError",
                       fmt::format("Invalid $skip '{}': it must be a non-negative integer.",
                                   call.Param("$skip")));
    }
    skip = *parsed;
  }
  bool expand = false;
  if (call.Has("$expand")) {
    if (call.Param("$expand") != "evidence") {
      return SendError(call.res, 400, "ODataError",
                       fmt::format("Could not find a navigation property named '{}' on type "
                                   "'Alert' for $expand; the only expandable property is "
                                   "'evidence'.",
                                   call.Param("$expand")));
    }
    expand = true;
  }
  bool by_update = false;
  bool descending = false;
  if (call.Has("$orderby")) {
    const std::string spec = call.Param("$orderby");
    const size_t space = spec.find(' ');
    const std::string field = spec.substr(0, space);
    const std::string direction = space == std::string::npos ? "asc" : spec.substr(space + 1);
    if ((field != "alertCreationTime" && field != "lastUpdateTime") ||
        (direction != "asc" && direction != "desc")) {
      return SendError(call.res, 400, "ODataError",
                       fmt::format("Invalid $orderby '{}': order by alertCreationTime or "
                                   "lastUpdateTime, optionally followed by asc or desc.",
                                   spec));
    }
    by_update = field == "lastUpdateTime";
    descending = direction == "desc";
  }

  std::vector<const AlertRecord*> hits;
  hits.reserve(alerts_.size());
  for (const auto& [_, a] : alerts_) {
    if (odata::Matches(filter, a.row)) hits.push_back(&a);
  }
  std::sort(hits.begin(), hits.end(), [&](const AlertRecord* a, const AlertRecord* b) {
    const TimePoint ta = by_update ? a->updated : a->created;
    const TimePoint tb = by_update ? b->updated : b->created;
    if (ta != tb) return descending ? ta > tb : ta < tb;
    return descending ? a->seq > b->seq : a->seq < b->seq;
  });
  const size_t begin = std::min(hits.size(), static_cast<size_t>(skip));
  const size_t page = static_cast<size_t>(top.value_or(kMaxTop));
  const size_t end = std::min(hits.size(), begin + page);

  std::string body =
      fmt::format("{{\"@odata.context\":{},\"value\":[", Json(Context("Alerts")).dump());
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) body += ',';
    body += AlertBody(*hits[i], expand);
  }
  body += ']';
  // Only without $top: the real service then pages by 10,000 with a $skip link.
  if (!top && end < hits.size()) {
    std::string query;
    for (const auto& [name, value] : call.params) {
      if (name == "$skip") continue;
      query += fmt::format("{}={}&", name, httplib::detail::encode_query_param(value));
    }
    query += fmt::format("$skip={}", end);
    body += fmt::format(",\"@odata.nextLink\":{}", Json(BaseUrl() + "/api/alerts?" + query).dump());
  }
  body += '}';
  SendOData(call.res, 200, body);
}

void MdeEmulator::GetAlert(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& id = call.segments[1];
  auto it = alerts_.find(id);
  if (it == alerts_.end()) {
    return SendError(call.res, 404, "ResourceNotFound", fmt::format("Alert {} was not found", id));
  }
  const std::string body = AlertBody(it->second, true);
  SendOData(call.res, 200,
            fmt::format("{{\"@odata.context\":{},{}", Json(Context("Alerts/$entity")).dump(),
                        body.substr(1)));
}

void MdeEmulator::UpdateAlert(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string content_type = HeaderOr(call.req, "Content-Type");
  if (ToLower(content_type).rfind("application/json", 0) != 0) {
    return AssertionFailed(
        call.req, call.res,
        "PATCH /api/alerts/{id} needs Content-Type: application/json, got '" + content_type + "'");
  }
  const std::string& id = call.segments[1];
  auto it = alerts_.find(id);
  if (it == alerts_.end()) {
    return SendError(call.res, 404, "ResourceNotFound", fmt::format("Alert {} was not found", id));
  }
  const Json body = Json::parse(call.req.body, nullptr, false);
  auto bad = [&](const std::string& why) {
    SendError(call.res, 400, "InvalidRequestBody", "Request body is incorrect: " + why);
  };
  if (body.is_discarded() || !body.is_object()) return bad("the body must be a JSON object");
  if (body.empty()) {
    return bad("give at least one of status, assignedTo, classification, determination, comment");
  }
  for (const auto& [key, value] : body.items()) {
    if (key == "status") {
      if (!value.is_string() || !mde::OneOf(value.get<std::string>(), mde::kAlertStatuses)) {
        return bad("status must be one of " + mde::JoinSet(mde::kAlertStatuses));
      }
    } else if (key == "classification") {
      if (!value.is_string() || !mde::OneOf(value.get<std::string>(), mde::kAlertClassifications)) {
        return bad("classification must be one of " + mde::JoinSet(mde::kAlertClassifications));
      }
    } else if (key == "determination") {
      if (!value.is_string() || !mde::OneOf(value.get<std::string>(), mde::kAlertDeterminations)) {
        return bad("determination must be one of " + mde::JoinSet(mde::kAlertDeterminations));
      }
    } else if (key == "assignedTo" || key == "comment") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        return bad(key + " must be a non-empty string");
      }
    } else {
      return bad(
          fmt::format("unknown property '{}'; property names are case-sensitive: status, "
                      "assignedTo, classification, determination, comment",
                      key));
    }
  }
  AlertRecord& alert = it->second;
  const std::string now = mde::FormatTime(clock().Now());
  Json& doc = alert.doc;
  if (body.contains("status")) {
    const bool resolved = body["status"] == "Resolved";
    if (resolved && doc["status"] != "Resolved") doc["resolvedTime"] = now;
    if (!resolved) doc["resolvedTime"] = nullptr;
    doc["status"] = body["status"];
  }
  for (auto key : {"assignedTo", "classification", "determination"}) {
    if (body.contains(key)) doc[key] = body[key];
  }
  if (body.contains("comment")) {
    doc["comments"].push_back(
        {{"comment", body["comment"]}, {"createdBy", call.caller}, {"createdTime", now}});
  }
  doc["lastUpdateTime"] = now;
  RefreshAlert(alert);
  SendOData(call.res, 200,
            fmt::format("{{\"@odata.context\":{},{}", Json(Context("Alerts/$entity")).dump(),
                        alert.dumped.substr(1)));
}

}  // namespace vc::emu
