#include "vmray_emulator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "core/time.hpp"
#include "vmray_digest.hpp"
#include "vmray_documents.hpp"
#include "vmray_fixtures.hpp"
#include "vmray_seed.hpp"
#include "vmray_submit_form.hpp"

namespace vc::emu {

using vmray::Outcome;
using vmray::Sample;
using vmray::Submission;
using vmray::Verdict;

namespace {

// Separate ranges per kind, so a client that mixes up a sample id and a submission id gets
// "No such element" instead of an unrelated object.
constexpr int64_t kFirstSampleId = 100001;
constexpr int64_t kFirstSubmissionId = 500001;
constexpr int64_t kFirstJobId = 900001;
constexpr size_t kMaxContinuations = 10000;

constexpr std::string_view kEicarMarker = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE";
constexpr std::string_view kSuspiciousMarker = "VC-SUSPICIOUS";

void SendOk(httplib::Response& res, Json data) {
  res.status = 200;
  res.set_content(Json{{"result", "ok"}, {"data", std::move(data)}}.dump(), "application/json");
}

void SendError(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(Json{{"result", "error"}, {"error_msg", message}}.dump(), "application/json");
}

void SendNoSuchElement(httplib::Response& res) {
  SendError(res, 404, "No such element");
}

std::optional<int64_t> ParseId(std::string_view text) {
  int64_t value = 0;
  if (text.empty() || text.size() > 18) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint FloorToSeconds(TimePoint t) {
  return TimePoint{std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())};
}

std::string GuessFileType(std::string_view content) {
  if (content.rfind("MZ", 0) == 0) return "Windows Exe (x86-32)";
  if (content.rfind("%PDF", 0) == 0) return "PDF document";
  if (content.rfind("PK\x03\x04", 0) == 0) return "ZIP archive";
  const bool text = std::all_of(content.begin(), content.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || u == '\n' || u == '\r' || u == '\t';
  });
  return text ? "ASCII text" : "Data";
}

Verdict ContentVerdict(std::string_view content, bool is_url) {
  if (is_url) {
    if (content.find("malicious") != std::string_view::npos) return Verdict::kMalicious;
    if (content.find("suspicious") != std::string_view::npos) return Verdict::kSuspicious;
    return Verdict::kClean;
  }
  if (content.find(kEicarMarker) != std::string_view::npos) return Verdict::kMalicious;
  if (content.find(kSuspiciousMarker) != std::string_view::npos) return Verdict::kSuspicious;
  return Verdict::kClean;
}

// _limit, _order, _last_id, _min_id: the list controls every VMRay list endpoint shares.
struct ListQuery {
  std::optional<int64_t> limit, last_id, min_id;
  bool descending = false;
};

Result<ListQuery> ReadListQuery(const httplib::Request& req) {
  ListQuery q;
  for (auto [name, target] : {std::pair{"_limit", &q.limit}, std::pair{"_last_id", &q.last_id},
                              std::pair{"_min_id", &q.min_id}}) {
    if (!req.has_param(name)) continue;
    const std::string text = req.get_param_value(name);
    *target = ParseId(text);
    if (!*target || (std::string_view(name) == "_limit" && **target == 0)) {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("query parameter {}='{}' must be a non-negative integer{}", name,
                                   text, std::string_view(name) == "_limit" ? " above 0" : ""));
    }
  }
  if (req.has_param("_order")) {
    const std::string order = req.get_param_value("_order");
    if (order != "asc" && order != "desc") {
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("query parameter _order='{}' must be asc or desc", order));
    }
    q.descending = order == "desc";
  }
  return q;
}

Result<std::optional<int64_t>> ReadIdParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::optional<int64_t>{};
  auto id = ParseId(req.get_param_value(name));
  if (!id) {
    return MakeError(ErrorCode::kProtocol,
                     fmt::format("query parameter {}='{}' must be a numeric id", name,
                                 req.get_param_value(name)));
  }
  return std::optional<int64_t>{id};
}

// Applies the list controls to ids in ascending order.
std::vector<int64_t> ApplyListQuery(std::vector<int64_t> ids, const ListQuery& q) {
  std::erase_if(ids, [&](int64_t id) {
    return (q.last_id && id <= *q.last_id) || (q.min_id && id < *q.min_id);
  });
  if (q.descending) std::reverse(ids.begin(), ids.end());
  if (q.limit && ids.size() > static_cast<size_t>(*q.limit)) ids.resize(*q.limit);
  return ids;
}

int IntOption(const Json& j, const char* key, int64_t min, int64_t max, int64_t fallback) {
  if (!j.contains(key)) return static_cast<int>(fallback);
  const Json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    throw std::invalid_argument(
        fmt::format("vmray emulator option '{}' must be an integer in [{}, {}]", key, min, max));
  }
  return static_cast<int>(v.get<int64_t>());
}

int64_t Int64Option(const Json& j, const char* key, int64_t min, int64_t fallback) {
  if (!j.contains(key)) return fallback;
  const Json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min) {
    throw std::invalid_argument(
        fmt::format("vmray emulator option '{}' must be an integer >= {}", key, min));
  }
  return v.get<int64_t>();
}

}  // namespace

VmrayEmulator::Options VmrayEmulator::Options::FromJson(const Json& j) {
  Options o;
  if (j.is_null()) return o;
  if (!j.is_object()) throw std::invalid_argument("vmray emulator options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    static const std::set<std::string> kKeys = {
        "api_key",        "finish_after_polls", "analysis_ms", "page_size",
        "webif_base_url", "max_upload_size",    "quota_limit"};
    if (!kKeys.count(key)) {
      throw std::invalid_argument(fmt::format(
          "unknown vmray emulator option '{}' (known: api_key, finish_after_polls, analysis_ms, "
          "page_size, webif_base_url, max_upload_size, quota_limit)",
          key));
    }
  }
  if (j.contains("api_key")) {
    if (!j["api_key"].is_string() || j["api_key"].get<std::string>().empty()) {
      throw std::invalid_argument("vmray emulator option 'api_key' must be a non-empty string");
    }
    o.api_key = Secret<std::string>(j["api_key"].get<std::string>());
  }
  o.finish_after_polls = IntOption(j, "finish_after_polls", 1, 1'000'000, o.finish_after_polls);
  o.analysis_ms = Int64Option(j, "analysis_ms", 0, o.analysis_ms);
  // VMRay's max_api_items is 1000; a bigger page would be a page VMRay never sends.
  o.page_size = IntOption(j, "page_size", 1, 1000, o.page_size);
  o.max_upload_size = Int64Option(j, "max_upload_size", 1, o.max_upload_size);
  o.quota_limit = Int64Option(j, "quota_limit", 0, o.quota_limit);
  if (j.contains("webif_base_url")) {
    const Json& v = j["webif_base_url"];
    std::string url = v.is_string() ? v.get<std::string>() : "";
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      throw std::invalid_argument(
          "vmray emulator option 'webif_base_url' must be an http:// or https:// URL");
    }
    while (url.size() > 8 && url.back() == '/') url.pop_back();
    o.webif_base_url = url;
  }
  return o;
}

VmrayEmulator::VmrayEmulator(Options options, Clock& clock, TokenRegistry& tokens)
    : EmulatorServer("vmray", clock), options_(std::move(options)), tokens_(tokens) {
  vmray::FixtureJson("system_info.json");  // parse the templates now, not on the first request
  ClearLocked();
}

// The server threads use this object's state: stop them before the members go away.
VmrayEmulator::~VmrayEmulator() {
  Stop();
}

std::string VmrayEmulator::WebifBaseUrl() const {
  return options_.webif_base_url.empty() ? BaseUrl() : options_.webif_base_url;
}

std::string VmrayEmulator::FaultBody(int status) const {
  std::string message;
  switch (status) {
    case 401:
      message = "Invalid authentication";
      break;
    case 403:
      message = "Permission denied";
      break;
    case 404:
      message = "No such element";
      break;
    case 405:
      message = "Method not allowed";
      break;
    case 429:
      message = "Too many requests";
      break;
    case 500:
      message = "Internal server error";
      break;
    case 503:
      message = "Service unavailable";
      break;
    default:
      message = fmt::format("Injected error {}", status);
  }
  return Json{{"result", "error"}, {"error_msg", message}}.dump();
}

// ---------------------------------------------------------------------------------------------
// Routing

void VmrayEmulator::Api(const std::string& method, const std::string& pattern,
                        std::optional<std::vector<std::string>> params, Handler handler) {
  auto wrapped = [this, params = std::move(params), handler = std::move(handler)](
                     const httplib::Request& req, httplib::Response& res) {
    const std::string expected = "api_key " + options_.api_key.Reveal();
    if (!req.has_header("Authorization") || req.get_header_value("Authorization") != expected) {
      res.status = 401;
      res.set_content(vmray::FixtureJson("error_401_invalid_authentication_rapid7.json").dump(),
                      "application/json");
      return;
    }
    if (params) {
      for (auto it = req.params.begin(); it != req.params.end(); ++it) {
        if (std::find(params->begin(), params->end(), it->first) == params->end()) {
          std::string allowed;
          for (const auto& p : *params) allowed += (allowed.empty() ? "" : ", ") + p;
          return AssertionFailed(req, res,
                                 fmt::format("unknown query parameter '{}' (accepted: {})",
                                             it->first, allowed.empty() ? "none" : allowed));
        }
        if (req.params.count(it->first) > 1) {
          return AssertionFailed(req, res,
                                 fmt::format("query parameter '{}' sent twice", it->first));
        }
      }
    }
    try {
      handler(req, res);
    } catch (const std::exception& e) {
      // An emulator bug must fail the test that hit it, not pass as a service error.
      AssertionFailed(req, res, fmt::format("emulator internal error: {}", e.what()));
      res.status = 500;
    }
  };
  On(method, pattern, std::move(wrapped));
}

void VmrayEmulator::RegisterRoutes() {
  using Params = std::vector<std::string>;
  auto bind = [this](void (VmrayEmulator::*fn)(const httplib::Request&, httplib::Response&)) {
    return
        [this, fn](const httplib::Request& req, httplib::Response& res) { (this->*fn)(req, res); };
  };
  const Params none;
  const Params list = {"_limit", "_order", "_last_id", "_min_id"};
  auto with_list = [&](Params extra) {
    extra.insert(extra.end(), list.begin(), list.end());
    return extra;
  };

  Api("GET", "/rest/system_info", none, bind(&VmrayEmulator::GetSystemInfo));
  Api("GET", "/rest/api_key/quota", none, bind(&VmrayEmulator::GetApiKeyQuota));
  Api("GET", "/rest/sample/(md5|sha1|sha256)/([^/]+)", none,
      bind(&VmrayEmulator::GetSamplesByHash));
  Api("POST", "/rest/sample/submit", std::nullopt, bind(&VmrayEmulator::PostSubmit));
  Api("GET", "/rest/sample/([^/]+)", none, bind(&VmrayEmulator::GetSample));
  Api("GET", "/rest/sample/([^/]+)/(?:vtis|threat_indicators)", none,
      bind(&VmrayEmulator::GetVtis));
  Api("GET", "/rest/sample/([^/]+)/iocs(?:/(verdict|all_artifacts)/([^/]+))?",
      Params{"all_artifacts"}, bind(&VmrayEmulator::GetIocs));
  Api("GET", "/rest/sample/([^/]+)/mitre_attack", none, bind(&VmrayEmulator::GetMitre));
  Api("GET", "/rest/submission",
      with_list({"submission_finish_time", "submission_verdict", "submission_sample_id",
                 "submission_parent_submission_id"}),
      bind(&VmrayEmulator::ListSubmissions));
  Api("GET", "/rest/submission/sample/([^/]+)", list,
      bind(&VmrayEmulator::ListSubmissionsOfSample));
  Api("GET", "/rest/submission/([^/]+)", none, bind(&VmrayEmulator::GetSubmission));
  Api("GET", "/rest/continuation/([^/]+)", none, bind(&VmrayEmulator::GetContinuation));
  Api("GET", "/rest/analysis", with_list({"analysis_submission_id", "analysis_sample_id"}),
      bind(&VmrayEmulator::ListAnalyses));
  Api("GET", "/rest/analysis/submission/([^/]+)", list,
      bind(&VmrayEmulator::ListAnalysesOfSubmission));
  Api("GET", "/rest/analysis/sample/([^/]+)", list, bind(&VmrayEmulator::ListAnalysesOfSample));
  Api("GET", "/rest/analysis/([^/]+)", none, bind(&VmrayEmulator::GetAnalysis));
  Api("GET", "/rest/job/submission/([^/]+)", none, bind(&VmrayEmulator::GetJobsOfSubmission));

  // Report pages for people (no API key, like the web interface behind a browser session).
  On("GET", "/user/sample/view", bind(&VmrayEmulator::GetSampleView));
  On("GET", "/user/analysis/view", bind(&VmrayEmulator::GetAnalysisView));
}

std::optional<int64_t> VmrayEmulator::PathId(const httplib::Request& req, httplib::Response& res,
                                             int group) {
  const std::string text = req.matches[group].str();
  auto id = ParseId(text);
  if (!id) AssertionFailed(req, res, fmt::format("'{}' in the path is not a numeric id", text));
  return id;
}

const Sample* VmrayEmulator::SampleFromPathLocked(const httplib::Request& req,
                                                  httplib::Response& res) {
  auto id = PathId(req, res, 1);
  if (!id) return nullptr;
  auto it = samples_.find(*id);
  if (it == samples_.end()) {
    SendNoSuchElement(res);
    return nullptr;
  }
  return &it->second;
}

// ---------------------------------------------------------------------------------------------
// Samples

void VmrayEmulator::GetSystemInfo(const httplib::Request&, httplib::Response& res) {
  SendOk(res,
         vmray::SystemInfoDocument(WebifBaseUrl(), options_.page_size, options_.max_upload_size));
}

void VmrayEmulator::GetApiKeyQuota(const httplib::Request&, httplib::Response& res) {
  std::lock_guard lock(state_mutex());
  SendOk(res, Json{{"quota_limit", options_.quota_limit}, {"used_quota", submit_count_}});
}

void VmrayEmulator::GetSamplesByHash(const httplib::Request& req, httplib::Response& res) {
  const std::string type = req.matches[1].str();
  const std::string hash = req.matches[2].str();
  const size_t length = type == "md5" ? 32 : type == "sha1" ? 40 : 64;
  if (!vmray::IsHexOfLength(hash, length)) {
    return AssertionFailed(req, res,
                           fmt::format("{} lookup needs {} hex digits, got '{}' ({} characters)",
                                       type, length, hash, hash.size()));
  }
  const std::string key = ToLower(hash);
  const std::string webif = WebifBaseUrl();
  std::lock_guard lock(state_mutex());
  Json data = Json::array();
  auto add = [&](int64_t id) { data.push_back(vmray::SampleDocument(samples_.at(id), webif)); };
  if (type == "sha256") {
    if (auto it = sample_by_sha256_.find(key); it != sample_by_sha256_.end()) add(it->second);
  } else {
    const auto& index = type == "md5" ? samples_by_md5_ : samples_by_sha1_;
    if (auto it = index.find(key); it != index.end()) {
      for (int64_t id : it->second) add(id);
    }
  }
  SendOk(res, std::move(data));
}

void VmrayEmulator::GetSample(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(state_mutex());
  if (const Sample* s = SampleFromPathLocked(req, res)) {
    SendOk(res, vmray::SampleDocument(*s, WebifBaseUrl()));
  }
}

void VmrayEmulator::GetVtis(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(state_mutex());
  if (const Sample* s = SampleFromPathLocked(req, res)) SendOk(res, vmray::VtisDocument(*s));
}

void VmrayEmulator::GetIocs(const httplib::Request& req, httplib::Response& res) {
  std::optional<Verdict> only;
  bool all_artifacts = false;
  const std::string variant = req.matches[2].str();
  const std::string value = req.matches[3].str();
  if (variant == "verdict") {
    only = vmray::ParseVerdict(value);
    if (!only || *only == Verdict::kNotAvailable) {
      return AssertionFailed(
          req, res, fmt::format("IOC verdict '{}' must be malicious, suspicious or clean", value));
    }
  }
  std::string flag = variant == "all_artifacts" ? value : "";
  if (req.has_param("all_artifacts")) {
    if (!variant.empty()) {
      return AssertionFailed(req, res, "all_artifacts given both in the path and the query");
    }
    flag = req.get_param_value("all_artifacts");
  }
  if (!flag.empty()) {
    if (flag != "true" && flag != "false") {
      return AssertionFailed(req, res,
                             fmt::format("all_artifacts='{}' must be true or false", flag));
    }
    all_artifacts = flag == "true";
  }
  std::lock_guard lock(state_mutex());
  if (const Sample* s = SampleFromPathLocked(req, res)) {
    SendOk(res, vmray::IocsDocument(*s, only, all_artifacts));
  }
}

void VmrayEmulator::GetMitre(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(state_mutex());
  if (const Sample* s = SampleFromPathLocked(req, res)) SendOk(res, vmray::MitreDocument(*s));
}

// ---------------------------------------------------------------------------------------------
// Submit

void VmrayEmulator::PostSubmit(const httplib::Request& req, httplib::Response& res) {
  auto form = vmray::ParseSubmitForm(req, options_.max_upload_size);
  if (!form) {
    if (form.error().code == ErrorCode::kProtocol) {
      return AssertionFailed(req, res, form.error().message);
    }
    return SendError(res, 400, form.error().message);
  }
  const bool is_url = form->url.has_value();
  const std::string& content = is_url ? *form->url : *form->file_content;
  const std::string sha256 = vmray::Sha256Hex(content);
  const std::string filename = form->EffectiveFilename();
  const std::string webif = WebifBaseUrl();
  const TimePoint now = clock().Now();

  std::lock_guard lock(state_mutex());
  ++submit_count_;
  Json data = {{"errors", Json::array()},      {"jobs", Json::array()},
               {"md_jobs", Json::array()},     {"reputation_jobs", Json::array()},
               {"samples", Json::array()},     {"static_jobs", Json::array()},
               {"submissions", Json::array()}, {"vt_jobs", Json::array()},
               {"whois_jobs", Json::array()}};
  if (soft_error_for_.count(sha256)) {
    // Analysis caching suppressed every job: VMRay answers 200 and stores nothing.
    data["errors"].push_back({{"error_msg", "Submission not stored because no jobs were created"},
                              {"submission_filename", filename}});
    return SendOk(res, std::move(data));
  }

  Sample* sample = nullptr;
  if (auto it = sample_by_sha256_.find(sha256); it != sample_by_sha256_.end()) {
    sample = &samples_.at(it->second);
  } else {
    sample = &CreateSampleLocked(sha256, vmray::Sha1Hex(content), vmray::Md5Hex(content));
    sample->filesize = static_cast<int64_t>(content.size());
    sample->ssdeep = vmray::SsdeepLike(sha256, content.size());
    sample->created = now;
    if (is_url) {
      sample->url = *form->url;
      sample->type = "URL";
      sample->filename = sha256 + ".url";
    } else {
      sample->type = GuessFileType(content);
      sample->filename = filename;
    }
  }
  Submission& sub = CreateSubmissionLocked(*sample, now);
  sub.filename = filename;
  if (!is_url) sub.original_name = form->part_filename;
  sub.url = form->url;
  sub.tags = form->tags;
  sub.comment = form->comment;
  sub.user_config = form->user_config;
  if (form->analyzer_mode) sub.analyzer_mode = *form->analyzer_mode;
  sub.shareable = form->shareable.value_or(false);
  sub.reanalyze = form->reanalyze.value_or(false);
  sub.max_jobs = form->max_jobs;
  sub.archive_password = form->archive_password;
  sub.document_password = form->document_password;
  sub.sample_type = form->sample_type;
  sub.client_ip = req.remote_addr.empty() ? "127.0.0.1" : req.remote_addr;
  sub.content_verdict = ContentVerdict(content, is_url);

  Json sample_doc = vmray::SampleDocument(*sample, webif);
  sample_doc["submission_filename"] = filename;
  data["samples"].push_back(std::move(sample_doc));
  data["submissions"].push_back(vmray::SubmissionDocument(sub, *sample, webif));
  data["jobs"].push_back(vmray::JobDocument(sub, *sample));
  SendOk(res, std::move(data));
}

Sample& VmrayEmulator::CreateSampleLocked(const std::string& sha256, const std::string& sha1,
                                          const std::string& md5) {
  const int64_t id = next_sample_id_++;
  Sample& s = samples_[id];
  s.id = id;
  s.sha256 = sha256;
  s.filename = sha256;  // what VMRay shows when it never saw a name
  s.type = "Data";
  s.ssdeep = vmray::SsdeepLike(sha256, 0);
  sample_by_sha256_[sha256] = id;
  ReindexHashesLocked(s, sha1, md5);
  return s;
}

void VmrayEmulator::ReindexHashesLocked(Sample& s, const std::string& sha1,
                                        const std::string& md5) {
  auto move = [&](auto& index, std::string& current, const std::string& next) {
    if (current == next) return;
    if (!current.empty()) {
      auto& ids = index[current];
      std::erase(ids, s.id);
      if (ids.empty()) index.erase(current);
    }
    current = next;
    index[current].push_back(s.id);
  };
  move(samples_by_sha1_, s.sha1, sha1);
  move(samples_by_md5_, s.md5, md5);
}

Submission& VmrayEmulator::CreateSubmissionLocked(Sample& sample, TimePoint created) {
  const int64_t id = next_submission_id_++;
  Submission& sub = submissions_[id];
  sub.id = id;
  sub.sample_id = sample.id;
  sub.job_id = next_job_id_++;
  sub.filename = sample.filename;
  sub.created = created;
  submissions_by_sample_[sample.id].push_back(id);
  return sub;
}

// ---------------------------------------------------------------------------------------------
// Submissions

void VmrayEmulator::FinishLocked(Submission& sub, TimePoint now, std::optional<Outcome> outcome) {
  Sample& s = samples_.at(sub.sample_id);
  if (!outcome) {
    auto seeded = seeded_verdicts_.find(s.sha256);
    if (seeded == seeded_verdicts_.end() && sub.url) seeded = seeded_verdicts_.find(*sub.url);
    outcome = seeded != seeded_verdicts_.end() ? seeded->second
                                               : vmray::DefaultOutcome(sub.content_verdict);
  }
  sub.outcome = *outcome;
  sub.finish_time = FloorToSeconds(now);
  if (!sub.job_started) sub.job_started = sub.created;
  finished_by_time_.emplace(UnixSeconds(*sub.finish_time), sub.id);
  submission_by_analysis_[sub.job_id] = sub.id;
  s.outcome = sub.outcome;
  s.analysis_ids.push_back(sub.job_id);
  s.last_analysis_ids = {sub.job_id};
}

void VmrayEmulator::GetSubmission(const httplib::Request& req, httplib::Response& res) {
  auto id = PathId(req, res, 1);
  if (!id) return;
  const TimePoint now = clock().Now();
  std::lock_guard lock(state_mutex());
  auto it = submissions_.find(*id);
  if (it == submissions_.end()) return SendNoSuchElement(res);
  Submission& sub = it->second;
  if (!sub.finished()) {
    ++sub.polls;
    if (!sub.job_started) sub.job_started = now;
    const bool waited_enough = now - sub.created >= std::chrono::milliseconds(options_.analysis_ms);
    if (sub.polls >= options_.finish_after_polls && waited_enough) {
      FinishLocked(sub, now, std::nullopt);
    }
  }
  SendOk(res, vmray::SubmissionDocument(sub, samples_.at(sub.sample_id), WebifBaseUrl()));
}

void VmrayEmulator::ListSubmissions(const httplib::Request& req, httplib::Response& res) {
  auto query = ReadListQuery(req);
  if (!query) return AssertionFailed(req, res, query.error().message);
  auto sample_id = ReadIdParam(req, "submission_sample_id");
  if (!sample_id) return AssertionFailed(req, res, sample_id.error().message);
  auto parent_id = ReadIdParam(req, "submission_parent_submission_id");
  if (!parent_id) return AssertionFailed(req, res, parent_id.error().message);

  std::optional<std::pair<int64_t, int64_t>> window;
  if (req.has_param("submission_finish_time")) {
    const std::string text = req.get_param_value("submission_finish_time");
    const size_t tilde = text.find('~');
    std::optional<TimePoint> from, to;
    if (tilde != std::string::npos) {
      from = vmray::ParseVmrayTime(std::string_view(text).substr(0, tilde));
      to = vmray::ParseVmrayTime(std::string_view(text).substr(tilde + 1));
    }
    if (!from || !to) {
      return AssertionFailed(req, res,
                             fmt::format("submission_finish_time='{}' must be "
                                         "YYYY-MM-DDTHH:MM:SS~YYYY-MM-DDTHH:MM:SS",
                                         text));
    }
    window = std::pair{UnixSeconds(*from), UnixSeconds(*to)};
  }
  std::optional<Verdict> verdict;
  if (req.has_param("submission_verdict")) {
    verdict = vmray::ParseVerdict(req.get_param_value("submission_verdict"));
    if (!verdict) {
      return AssertionFailed(
          req, res,
          fmt::format("submission_verdict='{}' must be malicious, suspicious, clean or "
                      "not_available",
                      req.get_param_value("submission_verdict")));
    }
  }

  std::lock_guard lock(state_mutex());
  // Start from the narrowest index, then filter: the feed's time window never scans the rest.
  std::vector<int64_t> ids;
  if (*parent_id) {
    // Every submission here is top-level (no parent), as API submissions are.
  } else if (*sample_id) {
    if (auto it = submissions_by_sample_.find(**sample_id); it != submissions_by_sample_.end()) {
      ids = it->second;
    }
  } else if (window) {
    for (auto it = finished_by_time_.lower_bound({window->first, 0});
         it != finished_by_time_.end() && it->first <= window->second; ++it) {
      ids.push_back(it->second);
    }
    std::sort(ids.begin(), ids.end());
  } else {
    const int64_t first = std::max(query->last_id.value_or(-1) + 1, query->min_id.value_or(0));
    for (auto it = submissions_.lower_bound(first); it != submissions_.end(); ++it) {
      ids.push_back(it->first);
    }
  }
  std::erase_if(ids, [&](int64_t id) {
    const Submission& sub = submissions_.at(id);
    if (window) {
      if (!sub.finished()) return true;
      const int64_t t = UnixSeconds(*sub.finish_time);
      if (t < window->first || t > window->second) return true;
    }
    if (verdict) {
      const Verdict v = sub.finished() ? sub.outcome.verdict : Verdict::kNotAvailable;
      if (v != *verdict) return true;
    }
    return false;
  });
  SendListLocked(
      res, ListKind::kSubmissions,
      std::make_shared<const std::vector<int64_t>>(ApplyListQuery(std::move(ids), *query)), 0);
}

void VmrayEmulator::ListSubmissionsOfSample(const httplib::Request& req, httplib::Response& res) {
  auto query = ReadListQuery(req);
  if (!query) return AssertionFailed(req, res, query.error().message);
  std::lock_guard lock(state_mutex());
  const Sample* s = SampleFromPathLocked(req, res);
  if (!s) return;
  std::vector<int64_t> ids;
  if (auto it = submissions_by_sample_.find(s->id); it != submissions_by_sample_.end()) {
    ids = it->second;
  }
  SendListLocked(
      res, ListKind::kSubmissions,
      std::make_shared<const std::vector<int64_t>>(ApplyListQuery(std::move(ids), *query)), 0);
}

void VmrayEmulator::GetJobsOfSubmission(const httplib::Request& req, httplib::Response& res) {
  auto id = PathId(req, res, 1);
  if (!id) return;
  std::lock_guard lock(state_mutex());
  auto it = submissions_.find(*id);
  // Finished jobs disappear from VMRay's job list; clients read 404 as "finished or absent".
  if (it == submissions_.end() || it->second.finished()) return SendNoSuchElement(res);
  SendOk(res, Json::array({vmray::JobDocument(it->second, samples_.at(it->second.sample_id))}));
}

// ---------------------------------------------------------------------------------------------
// Analyses

void VmrayEmulator::ListAnalyses(const httplib::Request& req, httplib::Response& res) {
  auto query = ReadListQuery(req);
  if (!query) return AssertionFailed(req, res, query.error().message);
  auto submission_id = ReadIdParam(req, "analysis_submission_id");
  if (!submission_id) return AssertionFailed(req, res, submission_id.error().message);
  auto sample_id = ReadIdParam(req, "analysis_sample_id");
  if (!sample_id) return AssertionFailed(req, res, sample_id.error().message);

  std::lock_guard lock(state_mutex());
  std::vector<int64_t> ids;
  if (*submission_id) {
    auto it = submissions_.find(**submission_id);
    if (it != submissions_.end() && it->second.finished()) ids.push_back(it->second.job_id);
  } else if (*sample_id) {
    if (auto it = samples_.find(**sample_id); it != samples_.end()) ids = it->second.analysis_ids;
  } else {
    for (const auto& [analysis_id, unused] : submission_by_analysis_) ids.push_back(analysis_id);
  }
  if (*submission_id && *sample_id) {
    std::erase_if(ids, [&](int64_t aid) {
      return submissions_.at(submission_by_analysis_.at(aid)).sample_id != **sample_id;
    });
  }
  SendListLocked(
      res, ListKind::kAnalyses,
      std::make_shared<const std::vector<int64_t>>(ApplyListQuery(std::move(ids), *query)), 0);
}

void VmrayEmulator::ListAnalysesOfSubmission(const httplib::Request& req, httplib::Response& res) {
  auto query = ReadListQuery(req);
  if (!query) return AssertionFailed(req, res, query.error().message);
  auto id = PathId(req, res, 1);
  if (!id) return;
  std::lock_guard lock(state_mutex());
  auto it = submissions_.find(*id);
  if (it == submissions_.end()) return SendNoSuchElement(res);
  std::vector<int64_t> ids;
  if (it->second.finished()) ids.push_back(it->second.job_id);
  SendListLocked(
      res, ListKind::kAnalyses,
      std::make_shared<const std::vector<int64_t>>(ApplyListQuery(std::move(ids), *query)), 0);
}

void VmrayEmulator::ListAnalysesOfSample(const httplib::Request& req, httplib::Response& res) {
  auto query = ReadListQuery(req);
  if (!query) return AssertionFailed(req, res, query.error().message);
  std::lock_guard lock(state_mutex());
  const Sample* s = SampleFromPathLocked(req, res);
  if (!s) return;
  SendListLocked(
      res, ListKind::kAnalyses,
      std::make_shared<const std::vector<int64_t>>(ApplyListQuery(s->analysis_ids, *query)), 0);
}

void VmrayEmulator::GetAnalysis(const httplib::Request& req, httplib::Response& res) {
  auto id = PathId(req, res, 1);
  if (!id) return;
  std::lock_guard lock(state_mutex());
  auto item = ListItemLocked(ListKind::kAnalyses, *id);
  if (!item) return SendNoSuchElement(res);
  SendOk(res, std::move(*item));
}

// ---------------------------------------------------------------------------------------------
// Paging

std::optional<Json> VmrayEmulator::ListItemLocked(ListKind kind, int64_t id) const {
  if (kind == ListKind::kSubmissions) {
    auto it = submissions_.find(id);
    if (it == submissions_.end()) return std::nullopt;
    return vmray::SubmissionDocument(it->second, samples_.at(it->second.sample_id), WebifBaseUrl());
  }
  auto a = submission_by_analysis_.find(id);
  if (a == submission_by_analysis_.end()) return std::nullopt;
  const Submission& sub = submissions_.at(a->second);
  return vmray::AnalysisDocument(sub, samples_.at(sub.sample_id), WebifBaseUrl());
}

void VmrayEmulator::SendListLocked(httplib::Response& res, ListKind kind,
                                   std::shared_ptr<const std::vector<int64_t>> ids, size_t offset) {
  const size_t end = std::min(ids->size(), offset + static_cast<size_t>(options_.page_size));
  Json data = Json::array();
  for (size_t i = offset; i < end; ++i) {
    if (auto item = ListItemLocked(kind, (*ids)[i])) data.push_back(std::move(*item));
  }
  Json body = {{"result", "ok"}, {"data", std::move(data)}};
  if (end < ids->size()) {
    const int64_t id = next_continuation_id_++;
    continuations_[id] = Continuation{kind, std::move(ids), end};
    // Bounded memory: a client that walks away from a listing leaves its pages behind.
    while (continuations_.size() > kMaxContinuations) continuations_.erase(continuations_.begin());
    body["continuation_id"] = id;
  }
  res.status = 200;
  res.set_content(body.dump(), "application/json");
}

void VmrayEmulator::GetContinuation(const httplib::Request& req, httplib::Response& res) {
  auto id = PathId(req, res, 1);
  if (!id) return;
  std::lock_guard lock(state_mutex());
  auto it = continuations_.find(*id);
  if (it == continuations_.end()) return SendNoSuchElement(res);
  // Kept (not consumed) so a client may retry a page after a transport error.
  const Continuation c = it->second;
  SendListLocked(res, c.kind, c.ids, c.offset);
}

// ---------------------------------------------------------------------------------------------
// Report pages

void VmrayEmulator::GetSampleView(const httplib::Request& req, httplib::Response& res) {
  auto id = ParseId(req.get_param_value("id"));
  std::lock_guard lock(state_mutex());
  auto it = id ? samples_.find(*id) : samples_.end();
  if (it == samples_.end()) {
    res.status = 404;
    return res.set_content(vmray::NotFoundHtml("No such sample"), "text/html; charset=utf-8");
  }
  res.set_content(vmray::SampleViewHtml(it->second), "text/html; charset=utf-8");
}

void VmrayEmulator::GetAnalysisView(const httplib::Request& req, httplib::Response& res) {
  auto id = ParseId(req.get_param_value("id"));
  std::lock_guard lock(state_mutex());
  auto it = id ? submission_by_analysis_.find(*id) : submission_by_analysis_.end();
  if (it == submission_by_analysis_.end()) {
    res.status = 404;
    return res.set_content(vmray::NotFoundHtml("No such analysis"), "text/html; charset=utf-8");
  }
  const Submission& sub = submissions_.at(it->second);
  res.set_content(vmray::AnalysisViewHtml(sub, samples_.at(sub.sample_id)),
                  "text/html; charset=utf-8");
}

// ---------------------------------------------------------------------------------------------
// State

std::optional<std::string> VmrayEmulator::Seed(const Json& seed) {
  const TimePoint now = clock().Now();
  auto parsed = vmray::ParseSeed(seed, now);
  if (!parsed) return parsed.error().message;
  vmray::SeedDocument& doc = *parsed;

  std::lock_guard lock(state_mutex());
  // Check the references before changing anything, so a bad seed leaves the state as it was.
  std::set<std::string> seeded_hashes;
  for (const auto& s : doc.samples) seeded_hashes.insert(s.sha256);
  for (size_t i = 0; i < doc.samples.size(); ++i) {
    for (const auto& child : doc.samples[i].children) {
      if (const auto* id = std::get_if<int64_t>(&child)) {
        if (!samples_.count(*id)) {
          return fmt::format("samples[{}].child_sample_ids: no sample with id {}", i, *id);
        }
      } else {
        const auto& sha = std::get<std::string>(child);
        if (sha == doc.samples[i].sha256) {
          return fmt::format("samples[{}].child_sample_ids: a sample cannot be its own child", i);
        }
        if (!seeded_hashes.count(sha) && !sample_by_sha256_.count(sha)) {
          return fmt::format("samples[{}].child_sample_ids: no sample with sha256 {}", i, sha);
        }
      }
    }
  }

  std::vector<int64_t> seeded_ids;
  for (const auto& in : doc.samples) {
    const std::string sha1 = in.sha1.value_or(vmray::Sha1Hex(in.sha256));
    const std::string md5 = in.md5.value_or(vmray::Md5Hex(in.sha256));
    const TimePoint analysed = in.analysed_at.value_or(now - std::chrono::hours(24));
    Sample* s = nullptr;
    if (auto it = sample_by_sha256_.find(in.sha256); it != sample_by_sha256_.end()) {
      s = &samples_.at(it->second);
      ReindexHashesLocked(*s, sha1, md5);
    } else {
      s = &CreateSampleLocked(in.sha256, sha1, md5);
      s->created = in.pending ? now : analysed - std::chrono::minutes(5);
    }
    if (in.filename) s->filename = *in.filename;
    if (in.iocs) s->seeded_iocs = *in.iocs;
    if (in.pending) {
      CreateSubmissionLocked(*s, now);
      seeded_verdicts_[in.sha256] = in.outcome;
      seeded_ids.push_back(s->id);
      continue;
    }
    Submission& sub = CreateSubmissionLocked(*s, analysed - std::chrono::minutes(5));
    sub.job_started = analysed - std::chrono::minutes(4);
    FinishLocked(sub, analysed, in.outcome);
    seeded_ids.push_back(s->id);
  }
  for (size_t i = 0; i < doc.samples.size(); ++i) {
    Sample& parent = samples_.at(seeded_ids[i]);
    for (const auto& child : doc.samples[i].children) {
      const int64_t child_id = std::holds_alternative<int64_t>(child)
                                   ? std::get<int64_t>(child)
                                   : sample_by_sha256_.at(std::get<std::string>(child));
      if (std::find(parent.child_ids.begin(), parent.child_ids.end(), child_id) ==
          parent.child_ids.end()) {
        parent.child_ids.push_back(child_id);
        samples_.at(child_id).parent_ids.push_back(parent.id);
      }
    }
  }
  for (auto& [key, outcome] : doc.verdicts) seeded_verdicts_[key] = std::move(outcome);
  soft_error_for_.insert(doc.soft_error_for.begin(), doc.soft_error_for.end());
  if (doc.generate) GenerateLocked(*doc.generate);
  return std::nullopt;
}

void VmrayEmulator::GenerateLocked(const vmray::GenerateSpec& spec) {
  for (int64_t i = 0; i < spec.count; ++i) {
    vmray::GeneratedSample g = vmray::GenerateSample(spec, i);
    // A hash seen before (same seed twice) gets one more submission, like a resubmitted file.
    Sample* s = nullptr;
    if (auto it = sample_by_sha256_.find(g.sha256); it != sample_by_sha256_.end()) {
      s = &samples_.at(it->second);
    } else {
      s = &CreateSampleLocked(g.sha256, g.sha1, g.md5);
      s->created = g.finished - std::chrono::minutes(5);
      s->type = "Windows Exe (x86-32)";
      s->filename = g.filename;
    }
    s->generated_iocs = vmray::GeneratedIocs{spec.seed, i, spec.iocs_per_sample};
    Submission& sub = CreateSubmissionLocked(*s, g.finished - std::chrono::minutes(5));
    sub.job_started = g.finished - std::chrono::minutes(4);
    FinishLocked(sub, g.finished, g.outcome);
  }
}

Json VmrayEmulator::StateJson() const {
  std::lock_guard lock(state_mutex());
  Json samples = Json::array();
  for (const auto& [id, s] : samples_) {
    samples.push_back({{"id", id},
                       {"sha256", s.sha256},
                       {"md5", s.md5},
                       {"sha1", s.sha1},
                       {"filename", s.filename},
                       {"url", s.url ? Json(*s.url) : Json(nullptr)},
                       {"verdict", vmray::VerdictName(s.outcome.verdict)},
                       {"classifications", s.outcome.classifications},
                       {"threat_names", s.outcome.threat_names},
                       {"vti_score", s.outcome.vti_score},
                       {"child_sample_ids", s.child_ids},
                       {"parent_sample_ids", s.parent_ids}});
  }
  Json submissions = Json::array();
  for (const auto& [id, sub] : submissions_) {
    submissions.push_back(
        {{"id", id},
         {"sample_id", sub.sample_id},
         {"sha256", samples_.at(sub.sample_id).sha256},
         {"filename", sub.filename},
         {"url", sub.url ? Json(*sub.url) : Json(nullptr)},
         {"tags", sub.tags},
         {"comment", sub.comment ? Json(*sub.comment) : Json(nullptr)},
         {"user_config", sub.user_config},
         {"analyzer_mode", sub.analyzer_mode},
         {"finished", sub.finished()},
         {"verdict",
          sub.finished() ? Json(vmray::VerdictName(sub.outcome.verdict)) : Json(nullptr)},
         {"polls", sub.polls},
         {"shareable", sub.shareable},
         {"max_jobs", sub.max_jobs ? Json(*sub.max_jobs) : Json(nullptr)},
         {"archive_password", sub.archive_password ? Json(*sub.archive_password) : Json(nullptr)},
         {"document_password",
          sub.document_password ? Json(*sub.document_password) : Json(nullptr)},
         {"sample_type", sub.sample_type ? Json(*sub.sample_type) : Json(nullptr)}});
  }
  return {{"samples", std::move(samples)},
          {"submissions", std::move(submissions)},
          {"submit_count", submit_count_}};
}

void VmrayEmulator::ResetState() {
  std::lock_guard lock(state_mutex());
  ClearLocked();
}

void VmrayEmulator::ClearLocked() {
  samples_.clear();
  sample_by_sha256_.clear();
  samples_by_sha1_.clear();
  samples_by_md5_.clear();
  submissions_.clear();
  submissions_by_sample_.clear();
  finished_by_time_.clear();
  submission_by_analysis_.clear();
  seeded_verdicts_.clear();
  soft_error_for_.clear();
  continuations_.clear();
  next_sample_id_ = kFirstSampleId;
  next_submission_id_ = kFirstSubmissionId;
  next_job_id_ = kFirstJobId;
  next_continuation_id_ = 1;
  submit_count_ = 0;
}

}  // namespace vc::emu
