#include "sentinel_emulator.hpp"

#include <fmt/format.h>

#include <cctype>
#include <regex>
#include <set>
#include <stdexcept>

#include "core/time.hpp"

namespace vc::emu {
namespace {

const std::set<std::string> kObjectTypes = {"indicator", "attack-pattern", "threat-actor",
                                            "identity", "relationship"};

std::string Missing(const std::string& property) {
  return fmt::format("Error for Property={}: Required property is missing. Actual value: NULL.",
                     property);
}

std::string Invalid(const std::string& property, const Json& value, std::string_view why) {
  std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
  if (shown.size() > 200) shown.resize(200);
  return fmt::format("Error for Property={}: {} Actual value: {}.", property, why, shown);
}

std::optional<TimePoint> StixTime(const Json& value) {
  static const std::regex kShape(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z)");
  if (!value.is_string() || !std::regex_match(value.get_ref<const std::string&>(), kShape))
    return std::nullopt;
  return ParseIso8601(value.get<std::string>());
}

// A tiny recursive-descent reader of STIX 2.1 patterns: observation expressions in brackets,
// comparisons of an object path with a constant, joined by AND/OR.
class PatternReader {
 public:
  explicit PatternReader(std::string_view text) : s_(text) {}

  std::string Problem() {
    if (!Observation()) return error_;
    for (;;) {
      Spaces();
      if (pos_ == s_.size()) return "";
      if (!Keyword("AND") && !Keyword("OR") && !Keyword("FOLLOWEDBY")) {
        Fail("expected AND, OR or the end after ']'");
        return error_;
      }
      Spaces();
      if (!Observation()) return error_;
    }
  }

 private:
  bool Observation() {
    Spaces();
    if (!Eat('[')) return Fail("expected '['");
    if (!Comparison()) return false;
    for (;;) {
      Spaces();
      if (Eat(']')) return true;
      if (!Keyword("AND") && !Keyword("OR")) return Fail("expected AND, OR or ']'");
      if (!Comparison()) return false;
    }
  }
  bool Comparison() {
    Spaces();
    // object type
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::islower(Uc()) || std::isdigit(Uc()) || s_[pos_] == '-'))
      ++pos_;
    if (pos_ == start || !Eat(':')) return Fail("expected '<object-type>:' in a comparison");
    if (!Property()) return false;
    while (Eat('.')) {
      if (!Property()) return false;
    }
    Spaces();
    static const char* kOps[] = {"!=", "<=", ">=", "=", "<", ">"};
    bool op = false;
    for (const char* o : kOps) {
      if (s_.substr(pos_, std::char_traits<char>::length(o)) == o) {
        pos_ += std::char_traits<char>::length(o);
        op = true;
        break;
      }
    }
    if (!op && !Keyword("LIKE") && !Keyword("MATCHES"))
      return Fail("expected a comparison operator");
    Spaces();
    return Constant();
  }
  bool Property() {
    if (pos_ < s_.size() && s_[pos_] == '\'') return String();
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(Uc()) || s_[pos_] == '_' || s_[pos_] == '-')) ++pos_;
    if (pos_ == start) return Fail("expected a property name");
    return true;
  }
  bool Constant() {
    if (pos_ < s_.size() && s_[pos_] == '\'') return String();
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isdigit(Uc()) || s_[pos_] == '-' || s_[pos_] == '.')) ++pos_;
    if (pos_ == start) return Fail("expected a quoted string or a number");
    return true;
  }
  // '...' where only \\ and \' are escapes (STIX 2.1 patterning, string constants).
  bool String() {
    ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '\'') return true;
      if (c == '\\') {
        if (pos_ >= s_.size() || (s_[pos_] != '\\' && s_[pos_] != '\''))
          return Fail("invalid escape in a string constant (only \\\\ and \\' are allowed)");
        ++pos_;
      }
    }
    return Fail("unterminated string constant");
  }
  bool Keyword(std::string_view word) {
    Spaces();
    if (s_.substr(pos_, word.size()) != word) return false;
    const size_t end = pos_ + word.size();
    if (end < s_.size() && !std::isspace(static_cast<unsigned char>(s_[end])) && s_[end] != '[')
      return false;
    pos_ = end;
    return true;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void Spaces() {
    while (pos_ < s_.size() && std::isspace(Uc())) ++pos_;
  }
  unsigned char Uc() const { return static_cast<unsigned char>(s_[pos_]); }
  bool Fail(std::string_view why) {
    if (error_.empty()) error_ = fmt::format("{} at offset {}", why, pos_);
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

SentinelEmulator::Options SentinelEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (!j.is_object()) throw std::invalid_argument("sentinel options must be a JSON object");
  auto strings = [](const Json& v, const std::string& key) {
    if (!v.is_array()) throw std::invalid_argument("sentinel." + key + " must be an array");
    std::vector<std::string> out;
    for (const auto& s : v) {
      if (!s.is_string()) throw std::invalid_argument("sentinel." + key + " must hold strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "audiences") {
      o.audiences = strings(value, key);
    } else if (key == "workspaces") {
      o.workspaces = strings(value, key);
    } else if (key == "max_objects" || key == "requests_per_window" || key == "window_ms") {
      if (!value.is_number_integer() || value.get<int64_t>() <= 0)
        throw std::invalid_argument("sentinel." + key + " must be a positive integer");
      if (key == "max_objects") o.max_objects = value.get<int>();
      if (key == "requests_per_window") o.requests_per_window = value.get<int>();
      if (key == "window_ms") o.window_ms = value.get<int64_t>();
    } else if (key == "subscription_id" || key == "resource_group" || key == "workspace_name") {
      if (!value.is_string() || value.get<std::string>().empty())
        throw std::invalid_argument("sentinel." + key + " must be a non-empty string");
      (key == "subscription_id"  ? o.subscription_id
       : key == "resource_group" ? o.resource_group
                                 : o.workspace_name) = value.get<std::string>();
    } else if (key == "page_size") {
      if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 1000)
        throw std::invalid_argument("sentinel.page_size must be an integer from 1 to 1000");
      o.page_size = value.get<int>();
    } else if (key == "keep_objects") {
      if (!value.is_boolean()) throw std::invalid_argument("sentinel.keep_objects must be a bool");
      o.keep_objects = value.get<bool>();
    } else {
      throw std::invalid_argument("unknown sentinel option '" + key +
                                  "' (known: audiences, workspaces, max_objects, "
                                  "requests_per_window, window_ms, keep_objects, "
                                  "subscription_id, resource_group, workspace_name, page_size)");
    }
  }
  return o;
}

SentinelEmulator::SentinelEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("sentinel", clock), options_(std::move(options)), tokens_(tokens) {}

void SentinelEmulator::RegisterRoutes() {
  On("POST", R"(/workspaces/([^/]+)/threat-intelligence-stix-objects:upload)",
     [this](const httplib::Request& req, httplib::Response& res) { Upload(req, res); });
  RegisterIncidentRoutes();
}

std::string SentinelEmulator::FaultBody(int status) const {
  if (status == 429) {
    return Json{{"statusCode", 429}, {"message", "Rate limit is exceeded. Try again in 1 seconds."}}
        .dump();
  }
  return Json{{"statusCode", status}, {"message", fmt::format("injected {}", status)}}.dump();
}

bool SentinelEmulator::Authenticate(const httplib::Request& req, httplib::Response& res) {
  const std::string token = BearerToken(HeaderOr(req, "Authorization"));
  std::string problem;
  if (token.empty()) {
    problem = "Missing bearer token.";
  } else {
    switch (tokens_.Validate(token, options_.audiences, clock().Now())) {
      case TokenRegistry::Check::kValid:
        return true;
      case TokenRegistry::Check::kUnknown:
        problem = "Invalid token.";
        break;
      case TokenRegistry::Check::kExpired:
        problem = "The token is expired.";
        break;
      case TokenRegistry::Check::kWrongAudience:
        problem = "Invalid audience: request the token for https://management.azure.com.";
        break;
    }
  }
  res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  SendJson(res, 401, {{"statusCode", 401}, {"message", problem}});
  return false;
}

int64_t SentinelEmulator::TakeRequestLocked(const std::string& client) {
  const int64_t now = ToUnixMillis(clock().Now());
  auto& times = requests_[client];
  while (!times.empty() && times.front() <= now - options_.window_ms) times.pop_front();
  if (static_cast<int>(times.size()) >= options_.requests_per_window) {
    const int64_t wait_ms = times.front() + options_.window_ms - now;
    return std::max<int64_t>(1, (wait_ms + 999) / 1000);
  }
  times.push_back(now);
  return 0;
}

void SentinelEmulator::Upload(const httplib::Request& req, httplib::Response& res) {
  if (req.get_param_value("api-version") != kApiVersion) {
    return AssertionFailed(req, res,
                           fmt::format("api-version must be {}, was '{}'", kApiVersion,
                                       req.get_param_value("api-version")));
  }
  const std::string type = HeaderOr(req, "Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    return AssertionFailed(req, res, "Content-Type must be application/json, was '" + type + "'");
  }
  const std::string workspace = req.matches[1].str();
  std::lock_guard lock(state_mutex());
  if (!Authenticate(req, res)) return;
  static const std::regex kGuid(
      "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  const bool known = options_.workspaces.empty()
                         ? std::regex_match(workspace, kGuid)
                         : std::find(options_.workspaces.begin(), options_.workspaces.end(),
                                     workspace) != options_.workspaces.end();
  if (!known) {
    return SendJson(res, 404,
                    {{"statusCode", 404},
                     {"message", fmt::format("Workspace '{}' was not found.", workspace)}});
  }
  std::string client = "anonymous";
  if (auto claims = tokens_.ClaimsOf(BearerToken(HeaderOr(req, "Authorization")))) {
    client = claims->value("appid", client);
  }
  if (const int64_t wait = TakeRequestLocked(client); wait > 0) {
    ++throttled_;
    res.set_header("Retry-After", std::to_string(wait));
    return SendJson(
        res, 429,
        {{"statusCode", 429},
         {"message", fmt::format("Rate limit is exceeded. Try again in {} seconds.", wait)}});
  }
  auto bad = [&](const std::string& message) {
    SendJson(res, 400, {{"statusCode", 400}, {"message", message}});
  };
  Json body;
  try {
    body = Json::parse(req.body);
  } catch (const Json::exception&) {
    return bad("The request body is not valid JSON.");
  }
  if (!body.is_object()) return bad("The request body must be a JSON object.");
  if (!body.contains("sourcesystem") || !body["sourcesystem"].is_string() ||
      body["sourcesystem"].get<std::string>().empty()) {
    return bad("sourcesystem is required.");
  }
  if (body["sourcesystem"] == "Microsoft Sentinel") {
    return bad("The source system 'Microsoft Sentinel' is reserved.");
  }
  if (!body.contains("stixobjects") || !body["stixobjects"].is_array() ||
      body["stixobjects"].empty()) {
    return bad("stixobjects must be a non-empty array.");
  }
  const Json& objects = body["stixobjects"];
  if (static_cast<int>(objects.size()) > options_.max_objects) {
    return bad(fmt::format("At most {} STIX objects can be uploaded in one request; got {}.",
                           options_.max_objects, objects.size()));
  }
  ++uploads_;
  const TimePoint now = clock().Now();
  if (!first_upload_) first_upload_ = now;
  last_upload_ = now;
  Json errors = Json::array();
  for (size_t i = 0; i < objects.size(); ++i) {
    auto problems = ValidateObject(objects[i]);
    if (!problems.empty()) {
      ++rejected_;
      errors.push_back({{"recordIndex", i}, {"errorMessages", problems}});
      continue;
    }
    const std::string id = objects[i]["id"].get<std::string>();
    if (options_.keep_objects) objects_[id] = objects[i];
    ++upload_counts_[id];
  }
  res.status = 200;
  if (!errors.empty()) {
    res.set_content(Json{{"errors", errors}}.dump(), "application/json");
  }
}

std::vector<std::string> SentinelEmulator::ValidateObject(const Json& o) {
  std::vector<std::string> out;
  if (!o.is_object()) return {Invalid("stixobject", o, "A STIX object must be a JSON object.")};
  auto str = [&](const char* key, bool required) -> const Json* {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      if (required) out.push_back(Missing(key));
      return nullptr;
    }
    if (!it->is_string()) {
      out.push_back(Invalid(key, *it, "Must be a string."));
      return nullptr;
    }
    return &*it;
  };
  const Json* type = str("type", true);
  if (type && !kObjectTypes.count(type->get<std::string>())) {
    out.push_back(Invalid("type", *type, "Unsupported STIX object type."));
  }
  if (const Json* id = str("id", true)) {
    static const std::regex kId(
        "([a-z-]+)--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    std::smatch m;
    const std::string& text = id->get_ref<const std::string&>();
    if (!std::regex_match(text, m, kId) || (type && m[1].str() != type->get<std::string>())) {
      out.push_back(Invalid("id", *id, "Must be '<type>--<UUID>'."));
    }
  }
  if (const Json* v = str("spec_version", false); v && *v != "2.1") {
    out.push_back(Invalid("spec_version", *v, "Only 2.1 is supported."));
  }
  std::optional<TimePoint> valid_from;
  for (const char* key : {"created", "modified", "valid_from", "valid_until"}) {
    const bool required = type && *type == "indicator" && std::string_view(key) != "valid_until";
    if (const Json* t = str(key, required)) {
      auto parsed = StixTime(*t);
      if (!parsed) {
        out.push_back(Invalid(key, *t, "Must be a timestamp YYYY-MM-DDTHH:MM:SS[.s]Z."));
      } else if (std::string_view(key) == "valid_from") {
        valid_from = parsed;
      } else if (std::string_view(key) == "valid_until" && valid_from && *parsed <= *valid_from) {
        out.push_back(Invalid(key, *t, "Must be later than valid_from."));
      }
    }
  }
  if (type && *type == "indicator") {
    const Json* pattern_type = str("pattern_type", true);
    if (const Json* pattern = str("pattern", true)) {
      if (pattern_type && *pattern_type == "stix") {
        const std::string problem = PatternProblem(pattern->get<std::string>());
        if (!problem.empty())
          out.push_back(Invalid("pattern", *pattern, "Invalid pattern: " + problem + "."));
      }
    }
  }
  if (auto it = o.find("confidence"); it != o.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100) {
      out.push_back(Invalid("confidence", *it, "Must be an integer from 0 to 100."));
    }
  }
  if (auto it = o.find("revoked"); it != o.end() && !it->is_boolean()) {
    out.push_back(Invalid("revoked", *it, "Must be a boolean."));
  }
  for (const char* key : {"labels", "indicator_types", "external_references"}) {
    if (auto it = o.find(key); it != o.end() && !it->is_array()) {
      out.push_back(Invalid(key, *it, "Must be an array."));
    }
  }
  return out;
}

std::string SentinelEmulator::PatternProblem(std::string_view pattern) {
  return PatternReader(pattern).Problem();
}

Json SentinelEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  Json objects = Json::array();
  for (const auto& [_, o] : objects_) objects.push_back(o);
  auto time = [](const std::optional<TimePoint>& t) {
    return t ? Json(FormatIso8601Millis(*t)) : Json(nullptr);
  };
  return {{"objects", objects},
          {"distinct_objects", upload_counts_.size()},
          {"uploads", uploads_},
          {"rejected", rejected_},
          {"throttled", throttled_},
          {"first_upload", time(first_upload_)},
          {"last_upload", time(last_upload_)},
          {"incidents", IncidentsStateLocked()}};
}

std::optional<std::string> SentinelEmulator::Seed(const Json& seed) {
  if (!seed.is_object()) return "sentinel seed must be a JSON object";
  for (const auto& [key, value] : seed.items()) {
    if (key == "incidents") continue;  // checked by SeedIncidentsLocked
    if (key != "objects")
      return "unknown sentinel seed key '" + key + "' (known: objects, incidents)";
    if (!value.is_array()) return "sentinel.objects must be an array";
    for (const auto& o : value) {
      auto problems = ValidateObject(o);
      if (!problems.empty()) return "sentinel seed object: " + problems.front();
    }
  }
  std::lock_guard lock(state_mutex());
  if (seed.contains("incidents")) {
    if (auto problem = SeedIncidentsLocked(seed["incidents"])) return problem;
  }
  if (seed.contains("objects")) {
    for (const auto& o : seed["objects"]) objects_[o["id"].get<std::string>()] = o;
  }
  return std::nullopt;
}

void SentinelEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  objects_.clear();
  upload_counts_.clear();
  requests_.clear();
  uploads_ = rejected_ = throttled_ = 0;
  first_upload_.reset();
  last_upload_.reset();
  incidents_.clear();
  next_incident_number_ = 1;
  next_etag_ = 1;
}

std::map<std::string, Json> SentinelEmulator::Objects() const {
  std::lock_guard lock(state_mutex());
  return objects_;
}

std::map<std::string, int> SentinelEmulator::UploadCounts() const {
  std::lock_guard lock(state_mutex());
  return upload_counts_;
}

int64_t SentinelEmulator::throttled() const {
  std::lock_guard lock(state_mutex());
  return throttled_;
}

}  // namespace vc::emu
