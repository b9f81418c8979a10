#include "logs_ingestion_emulator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/time.hpp"

namespace vc::emu {
namespace {

const std::set<std::string>& KnownTypes() {
  static const std::set<std::string> kTypes = {"string",  "int",      "long",    "real", "bool",
                                               "boolean", "datetime", "dynamic", "guid"};
  return kTypes;
}

std::vector<std::string> StringList(const Json& value, const std::string& what) {
  if (!value.is_array()) throw std::invalid_argument(what + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : value) {
    if (!v.is_string()) throw std::invalid_argument(what + " must hold strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Whether a JSON value can be stored in a column of this Log Analytics type. Null fits all.
bool Fits(const Json& v, const std::string& type) {
  if (v.is_null() || type == "dynamic") return true;
  if (type == "string") return v.is_string();
  if (type == "int" || type == "long") return v.is_number_integer();
  if (type == "real") return v.is_number();
  if (type == "bool" || type == "boolean") return v.is_boolean();
  if (type == "datetime") return v.is_string() && ParseIso8601(v.get<std::string>()).has_value();
  if (type == "guid") return v.is_string() && v.get<std::string>().size() == 36;
  return false;
}

}  // namespace

std::map<std::string, std::string> LogsIngestionEmulator::VmraySubmissionsColumns() {
  std::map<std::string, std::string> c;
  for (const char* s :
       {"SubmissionStatus", "SampleFileName", "SampleVerdict", "SampleWebifUrl",
        "SampleVerdictReasonCode", "SampleVerdictReasonDescription", "SampleSha256", "SampleMd5",
        "SampleSha1", "AttachmentName", "EmailSubject", "EmailSender", "EmailRecipients"}) {
    c[s] = "string";
  }
  c["TimeGenerated"] = "datetime";
  c["SubmissionId"] = "int";
  c["SampleId"] = "int";
  c["SampleVtiScore"] = "real";
  c["SampleClassifications"] = "dynamic";
  c["SampleThreatNames"] = "dynamic";
  return c;
}

LogsIngestionEmulator::Options LogsIngestionEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (!j.is_object()) throw std::invalid_argument("logs_ingestion options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "audiences") {
      o.audiences = StringList(value, "logs_ingestion.audiences");
    } else if (key == "dcr_immutable_id" || key == "stream") {
      if (!value.is_string() || value.get<std::string>().empty())
        throw std::invalid_argument("logs_ingestion." + key + " must be a non-empty string");
      (key == "stream" ? o.stream : o.dcr_immutable_id) = value.get<std::string>();
    } else if (key == "columns") {
      if (!value.is_object() || value.empty())
        throw std::invalid_argument("logs_ingestion.columns must be an object {name: type}");
      o.columns.clear();
      for (const auto& [name, type] : value.items()) {
        if (!type.is_string() || !KnownTypes().count(type.get<std::string>()))
          throw std::invalid_argument("logs_ingestion.columns." + name +
                                      " must be a Log Analytics type (string, int, long, real, "
                                      "bool, datetime, dynamic, guid)");
        o.columns[name] = type.get<std::string>();
      }
    } else if (key == "max_body_bytes") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1)
        throw std::invalid_argument("logs_ingestion.max_body_bytes must be a positive integer");
      o.max_body_bytes = value.get<int64_t>();
    } else if (key == "publishers") {
      o.publishers = StringList(value, "logs_ingestion.publishers");
    } else {
      throw std::invalid_argument("unknown logs_ingestion option '" + key +
                                  "' (known: audiences, dcr_immutable_id, stream, columns, "
                                  "max_body_bytes, publishers)");
    }
  }
  return o;
}

LogsIngestionEmulator::LogsIngestionEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("logs_ingestion", clock),
      options_(std::move(options)),
      tokens_(tokens),
      publishers_(options_.publishers) {}

void LogsIngestionEmulator::RegisterRoutes() {
  auto upload = [this](const httplib::Request& req, httplib::Response& res) { Upload(req, res); };
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    On(method, R"(/dataCollectionRules/[^/]+/streams/[^/]+)", upload);
  }
}

void LogsIngestionEmulator::SendError(httplib::Response& res, int status, const std::string& code,
                                      const std::string& message) {
  res.status = status;
  res.set_header("x-ms-error-code", code);
  res.set_content(Json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                  "application/json");
}

std::string LogsIngestionEmulator::FaultBody(int status) const {
  const std::string code = status == 429   ? "TooManyRequests"
                           : status == 503 ? "ServiceUnavailable"
                           : status >= 500 ? "InternalServerError"
                                           : "BadRequest";
  return Json{{"error", {{"code", code}, {"message", fmt::format("injected {}", status)}}}}.dump();
}

std::string LogsIngestionEmulator::RowProblem(const Json& row) const {
  if (!row.is_object()) return "is not a JSON object";
  for (const auto& [name, value] : row.items()) {
    auto it = options_.columns.find(name);
    if (it == options_.columns.end()) {
      return fmt::format("has the column '{}', which stream '{}' does not declare", name,
                         options_.stream);
    }
    if (!Fits(value, it->second)) {
      return fmt::format("has {} in column '{}' of type {}", value.dump().substr(0, 80), name,
                         it->second);
    }
  }
  return "";
}

void LogsIngestionEmulator::Upload(const httplib::Request& req, httplib::Response& res) {
  constexpr std::string_view kPrefix = "/dataCollectionRules/";
  const std::string rest = req.path.substr(kPrefix.size());
  const std::string dcr = rest.substr(0, rest.find('/'));
  const std::string stream = rest.substr(rest.rfind('/') + 1);
  if (req.method != "POST") {
    return AssertionFailed(
        req, res,
        fmt::format("method {} is not allowed on {} (allowed: POST)", req.method, req.path));
  }
  for (const auto& [k, v] : req.params) {
    if (k != "api-version") {
      return AssertionFailed(req, res, "unexpected query parameter '" + k + "' (only api-version)");
    }
  }
  if (req.get_param_value("api-version") != kApiVersion) {
    return AssertionFailed(req, res,
                           fmt::format("api-version must be {}, was '{}'", kApiVersion,
                                       req.get_param_value("api-version")));
  }
  const std::string type = HeaderOr(req, "Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    return AssertionFailed(req, res, "Content-Type must be application/json, was '" + type + "'");
  }
  const std::string encoding = HeaderOr(req, "Content-Encoding");
  if (!encoding.empty() && !IEquals(encoding, "gzip")) {
    return AssertionFailed(req, res, "Content-Encoding must be gzip or absent, was " + encoding);
  }

  std::lock_guard lock(state_mutex());
  // The token first: an anonymous caller learns nothing about the DCR.
  const std::string token = BearerToken(HeaderOr(req, "Authorization"));
  const auto check = token.empty() ? TokenRegistry::Check::kUnknown
                                   : tokens_.Validate(token, options_.audiences, clock().Now());
  if (check != TokenRegistry::Check::kValid) {
    ++rejected_;
    res.set_header("WWW-Authenticate", "Bearer");
    const std::string why =
        check == TokenRegistry::Check::kExpired ? "The token is expired."
        : check == TokenRegistry::Check::kWrongAudience
            ? fmt::format("The audience of the token is not {}.", options_.audiences.front())
            : "The access token is missing or invalid.";
    return SendError(res, 401, "InvalidToken", why);
  }
  // The limit holds for the body as sent and, when gzip, as decompressed (the server has
  // already inflated req.body; Content-Length is the size on the wire).
  int64_t wire = static_cast<int64_t>(req.body.size());
  if (auto cl = HeaderOr(req, "Content-Length"); !cl.empty()) wire = std::stoll(cl);
  const int64_t provided = std::max<int64_t>(wire, static_cast<int64_t>(req.body.size()));
  if (provided > options_.max_body_bytes) {
    ++rejected_;
    return SendError(res, 413, "ContentLengthLimitExceeded",
                     fmt::format("Maximum allowed content length: {} bytes (1 MB). Provided "
                                 "content length: {} bytes.",
                                 options_.max_body_bytes, provided));
  }
  if (dcr != options_.dcr_immutable_id) {
    ++rejected_;
    return SendError(res, 404, "NotFound",
                     fmt::format("Data collection rule with immutable Id '{}' not found.", dcr));
  }
  if (stream != options_.stream) {
    ++rejected_;
    return SendError(
        res, 400, "InvalidStream",
        fmt::format("Stream '{}' is not declared in data collection rule '{}'.", stream, dcr));
  }
  if (!publishers_.empty()) {
    std::string appid;
    if (auto claims = tokens_.ClaimsOf(token)) appid = claims->value("appid", "");
    if (std::find(publishers_.begin(), publishers_.end(), appid) == publishers_.end()) {
      ++rejected_;
      return SendError(
          res, 403, "OperationFailed",
          fmt::format("The authentication token provided does not have access to ingest data "
                      "for the data collection rule with immutable Id '{}'.",
                      dcr));
    }
  }
  Json rows;
  try {
    rows = Json::parse(req.body);
  } catch (const Json::exception&) {
    ++rejected_;
    return SendError(res, 400, "InvalidPayload", "The request body is not valid JSON.");
  }
  if (!rows.is_array()) {
    return AssertionFailed(req, res,
                           "the body must be a JSON array of rows (the service answers 204 to a "
                           "single object and stores nothing)");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (auto problem = RowProblem(rows[i]); !problem.empty()) {
      ++rejected_;
      return SendError(res, 400, "InvalidPayload", fmt::format("Row {} {}.", i, problem));
    }
  }
  for (auto& r : rows) rows_.push_back(r);
  uploads_.push_back({{"dcr", dcr},
                      {"stream", stream},
                      {"rows", rows.size()},
                      {"bytes", wire},
                      {"gzip", !encoding.empty()},
                      {"at", FormatIso8601(clock().Now())}});
  res.status = 204;
}

Json LogsIngestionEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  return {
      {"rows", rows_}, {"uploads", uploads_}, {"rejected", rejected_}, {"publishers", publishers_}};
}

std::optional<std::string> LogsIngestionEmulator::Seed(const Json& seed) {
  if (!seed.is_object()) return "logs_ingestion seed must be a JSON object";
  std::optional<std::vector<std::string>> publishers;
  Json rows = Json::array();
  for (const auto& [key, value] : seed.items()) {
    if (key == "publishers") {
      try {
        publishers = StringList(value, "logs_ingestion.publishers");
      } catch (const std::invalid_argument& e) {
        return std::string(e.what());
      }
    } else if (key == "rows") {
      if (!value.is_array()) return "logs_ingestion.rows must be an array";
      for (const auto& r : value) {
        if (auto problem = RowProblem(r); !problem.empty()) return "a seeded row " + problem;
        rows.push_back(r);
      }
    } else {
      return "unknown logs_ingestion seed key '" + key + "' (known: publishers, rows)";
    }
  }
  std::lock_guard lock(state_mutex());
  if (publishers) publishers_ = std::move(*publishers);
  for (auto& r : rows) rows_.push_back(std::move(r));
  return std::nullopt;
}

void LogsIngestionEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  publishers_ = options_.publishers;
  rows_ = Json::array();
  uploads_ = Json::array();
  rejected_ = 0;
}

}  // namespace vc::emu
