#include "server/enrichment/inputs.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

#include "core/base64.hpp"
#include "core/hash.hpp"

namespace vc::enrichment {
namespace {

constexpr size_t kMaxUrlLength = 8192;
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTextLength = 1024;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A string parameter; numbers and booleans are taken in their JSON spelling.
std::variant<std::optional<std::string>, ApiError> Text(const Params& p, const std::string& name,
                                                        size_t max_length = kMaxTextLength) {
  const Json* v = p.Find(name);
  if (v == nullptr) return std::optional<std::string>();
  std::string text;
  if (v->is_string())
    text = v->get<std::string>();
  else if (v->is_number() || v->is_boolean())
    text = v->dump();
  else
    return InvalidParameter(name, "must be a string");
  if (text.size() > max_length) {
    return InvalidParameter(name, fmt::format("is longer than {} characters", max_length));
  }
  if (std::any_of(text.begin(), text.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return InvalidParameter(name, "must not contain control characters");
  }
  return std::optional<std::string>(std::move(text));
}

std::variant<std::optional<bool>, ApiError> Bool(const Params& p, const std::string& name) {
  const Json* v = p.Find(name);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {
    const std::string s = Lower(v->get<std::string>());
    if (s == "true") return std::optional<bool>(true);
    if (s == "false") return std::optional<bool>(false);
  }
  return InvalidParameter(name, "must be true or false");
}

std::variant<std::optional<int64_t>, ApiError> Int(const Params& p, const std::string& name,
                                                   int64_t min, int64_t max) {
  const Json* v = p.Find(name);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t n = 0;
  bool ok = false;
  if (v->is_number_integer()) {
    n = v->get<int64_t>();
    ok = true;
  } else if (v->is_string()) {
    const std::string s = v->get<std::string>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    ok = !s.empty() && ec == std::errc() && end == s.data() + s.size() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  }
  if (!ok || n < min || n > max) {
    return InvalidParameter(name, fmt::format("must be a whole number from {} to {}", min, max));
  }
  return std::optional<int64_t>(n);
}

// A list parameter: a JSON array of strings, or one string of comma-separated values.
std::variant<std::optional<std::vector<std::string>>, ApiError> List(const Params& p,
                                                                     const std::string& name) {
  const Json* v = p.Find(name);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  auto add = [&](std::string item) -> bool {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.size() > kMaxTextLength) return false;
    if (!item.empty()) out.push_back(std::move(item));
    return true;
  };
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    size_t start = 0;
    while (start <= s.size()) {
      const size_t comma = std::min(s.find(',', start), s.size());
      if (!add(s.substr(start, comma - start))) return InvalidParameter(name, "item too long");
      start = comma + 1;
    }
  } else if (v->is_array()) {
    for (const auto& item : *v) {
      if (!item.is_string()) return InvalidParameter(name, "must be a list of strings");
      if (!add(item.get<std::string>())) return InvalidParameter(name, "item too long");
    }
  } else {
    return InvalidParameter(name, "must be a list of strings");
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

#define VC_TAKE(var, expr)                                             \
  auto var##_v = (expr);                                               \
  if (auto* e = std::get_if<ApiError>(&var##_v)) return std::move(*e); \
  auto var = std::move(std::get<0>(var##_v))

// The options both submit routes share.
std::optional<ApiError> CommonSubmitOptions(const Params& p, vmray::SubmitRequest& r) {
  auto shareable = Bool(p, "shareable");
  if (auto* e = std::get_if<ApiError>(&shareable)) return *e;
  r.shareable = std::get<0>(shareable);
  auto max_jobs = Int(p, "max_jobs", 1, 1000);
  if (auto* e = std::get_if<ApiError>(&max_jobs)) return *e;
  r.max_jobs = std::get<0>(max_jobs);
  auto tags = List(p, "tags");
  if (auto* e = std::get_if<ApiError>(&tags)) return *e;
  if (std::get<0>(tags)) r.tags = *std::get<0>(tags);
  auto scheme = Text(p, "net_scheme_name");
  if (auto* e = std::get_if<ApiError>(&scheme)) return *e;
  // The original sends user_config as the JSON string {"net_scheme_name": "<v>"}.
  r.user_config = Json::object();
  if (std::get<0>(scheme) && !std::get<0>(scheme)->empty()) {
    r.user_config["net_scheme_name"] = *std::get<0>(scheme);
  }
  return std::nullopt;
}

}  // namespace

std::string UrlProblem(const std::string& url) {
  if (url.empty()) return "is empty";
  if (url.size() > kMaxUrlLength) return fmt::format("is longer than {} characters", kMaxUrlLength);
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return "contains spaces or control characters; percent-encode them";
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> h(curl_url(), &curl_url_cleanup);
  if (!h) return "cannot be checked (out of memory)";
  if (curl_url_set(h.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return "is not an absolute URL (write it as http://host/path or https://host/path)";
  }
  auto part = [&](CURLUPart which) -> std::optional<std::string> {
    char* value = nullptr;
    if (curl_url_get(h.get(), which, &value, 0) != CURLUE_OK || value == nullptr) {
      return std::nullopt;
    }
    std::string out(value);
    curl_free(value);
    return out;
  };
  const std::string scheme = Lower(part(CURLUPART_SCHEME).value_or(""));
  if (scheme != "http" && scheme != "https") {
    return "has the scheme '" + scheme + "'; only http and https URLs can be analysed";
  }
  if (part(CURLUPART_USER) || part(CURLUPART_PASSWORD)) {
    return "contains a user name or password; remove the credentials before submitting it";
  }
  if (part(CURLUPART_HOST).value_or("").empty()) return "has no host";
  return "";
}

Parsed<vmray::SubmitRequest> ParseUrlSubmit(const Params& p) {
  VC_TAKE(url, Text(p, "url", kMaxUrlLength + 1));
  if (!url || url->empty()) return MissingParameter("url");
  if (const std::string why = UrlProblem(*url); !why.empty()) return InvalidParameter("url", why);
  vmray::SubmitRequest r;
  r.url = *url;
  if (auto e = CommonSubmitOptions(p, r)) return *e;
  return r;
}

Parsed<FileSubmitInput> ParseFileSubmit(const Params& p, int64_t max_file_bytes) {
  const Json* file = p.Find("file");
  if (file == nullptr || (file->is_string() && file->get<std::string>().empty())) {
    return MissingParameter("file");
  }
  if (!file->is_string()) return InvalidParameter("file", "must be the file's content in base64");
  std::string encoded = file->get<std::string>();
  // Base64 from mail and Logic App expressions is often wrapped in lines.
  encoded.erase(std::remove_if(encoded.begin(), encoded.end(),
                               [](unsigned char c) { return c == '\r' || c == '\n'; }),
                encoded.end());
  auto content = Base64Decode(encoded);
  if (!content) {
    return InvalidParameter("file", "is not valid base64 (standard alphabet, padded with =)");
  }
  if (content->empty()) return InvalidParameter("file", "decodes to an empty file");
  if (static_cast<int64_t>(content->size()) > max_file_bytes) {
    ApiError e = InvalidParameter(
        "file",
        fmt::format("is {} bytes, more than the {} bytes allowed (vmray.max_file_size_bytes)",
                    content->size(), max_file_bytes));
    e.status = 413;
    e.code = "file_too_large";
    return e;
  }
  FileSubmitInput in;
  in.request.content = std::move(*content);
  VC_TAKE(name, Text(p, "name", kMaxNameLength));
  if (name && (name->find('/') != std::string::npos || name->find('\\') != std::string::npos)) {
    return InvalidParameter("name", "must be a file name without a directory");
  }
  in.request.filename = name && !name->empty() ? *name : Sha256Hex(in.request.content);
  VC_TAKE(document_password, Text(p, "document_password"));
  VC_TAKE(archive_password, Text(p, "archive_password"));
  VC_TAKE(sample_type, Text(p, "sample_type"));
  in.request.document_password = document_password.value_or("");
  in.request.archive_password = archive_password.value_or("");
  in.request.sample_type = sample_type.value_or("");
  VC_TAKE(resubmit, Bool(p, "resubmit"));
  in.resubmit = resubmit;
  if (auto e = CommonSubmitOptions(p, in.request)) return *e;
  return in;
}

Parsed<int64_t> ParseId(const Params& p, const std::string& name) {
  if (p.Find(name) == nullptr) return MissingParameter(name);
  VC_TAKE(id, Int(p, name, 1, INT64_MAX));
  return *id;
}

Parsed<std::string> ParseHash(const Params& p) {
  VC_TAKE(hash, Text(p, "hash", 128));
  if (!hash || hash->empty()) return MissingParameter("hash");
  const std::string lower = Lower(*hash);
  if (vmray::HashType(lower).empty()) {
    return InvalidParameter("hash", "must be an MD5 (32), SHA-1 (40) or SHA-256 (64) hex digest");
  }
  return lower;
}

Parsed<AnalysesInput> ParseAnalyses(const Params& p) {
  AnalysesInput in;
  VC_TAKE(id, ParseId(p, "sample_id"));
  in.sample_id = id;
  VC_TAKE(limit, Int(p, "limit", 1, 100000));
  in.limit = limit;
  return in;
}

Parsed<IocsInput> ParseIocs(const Params& p) {
  IocsInput in;
  VC_TAKE(id, ParseId(p, "sample_id"));
  in.sample_id = id;
  if (p.Find("submission_id") != nullptr) {
    VC_TAKE(submission, ParseId(p, "submission_id"));
    in.submission_id = submission;
  }
  VC_TAKE(verdicts, List(p, "sample_verdict"));
  if (verdicts) {
    for (auto& v : *verdicts) {
      v = Lower(v);
      if (v != "malicious" && v != "suspicious" && v != "clean") {
        return InvalidParameter("sample_verdict", "items must be malicious, suspicious or clean");
      }
    }
  }
  in.sample_verdict = verdicts;
  VC_TAKE(incident, Text(p, "incident_id", 64));
  in.incident_id = incident.value_or("");
  VC_TAKE(valid_until, Int(p, "valid_until", 1, 3650));
  if (valid_until) in.valid_until_days = static_cast<int>(*valid_until);
  return in;
}

}  // namespace vc::enrichment
