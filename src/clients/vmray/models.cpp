#include "clients/vmray/models.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace vc::vmray {
namespace {

std::optional<TimePoint> OptTime(JsonReader& r, std::string_view key) {
  auto text = r.OptStr(key);
  if (!text || text->empty()) return std::nullopt;
  auto t = ParseIso8601(*text);
  if (!t) r.Fail(key, fmt::format("not a timestamp: {:.40}", *text));
  return t;
}

std::vector<int64_t> IntArray(JsonReader& r, const Json& j, std::string_view key) {
  std::vector<int64_t> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) {
    r.Fail(key, "expected an array");
    return out;
  }
  for (const auto& v : *it) {
    if (!v.is_number_integer()) {
      r.Fail(key, "expected integers");
      return {};
    }
    out.push_back(v.get<int64_t>());
  }
  return out;
}

}  // namespace

Result<Sample> ParseSample(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  Sample s;
  s.sample_id = r.Int("sample_id", 1);
  s.sha256 = r.Str("sample_sha256hash");
  s.sha1 = r.OptStr("sample_sha1hash").value_or("");
  s.md5 = r.OptStr("sample_md5hash").value_or("");
  s.filename = r.OptStr("sample_filename").value_or("");
  s.type = r.OptStr("sample_type").value_or("");
  s.verdict = r.OptStr("sample_verdict").value_or("");
  s.severity = r.OptStr("sample_severity").value_or("");
  s.webif_url = r.OptStr("sample_webif_url").value_or("");
  s.vti_score = r.OptInt("sample_vti_score", 0, 100).value_or(0);
  s.classifications = r.StrArray("sample_classifications");
  s.threat_names = r.StrArray("sample_threat_names");
  s.child_sample_ids = IntArray(r, j, "sample_child_sample_ids");
  s.created = OptTime(r, "sample_created");
  if (!r.ok()) return r.status().error();
  return s;
}

Result<Submission> ParseSubmission(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  Submission s;
  s.submission_id = r.Int("submission_id", 1);
  s.sample_id = r.Int("submission_sample_id", 1);
  s.finished = r.Bool("submission_finished");
  s.has_errors = r.OptBool("submission_has_errors").value_or(false);
  s.verdict = r.OptStr("submission_verdict").value_or("");
  s.webif_url = r.OptStr("submission_webif_url").value_or("");
  s.tags = r.StrArray("submission_tags");
  s.created = OptTime(r, "submission_created");
  s.finish_time = OptTime(r, "submission_finish_time");
  if (!r.ok()) return r.status().error();
  return s;
}

Result<SubmitResult> ParseSubmitResult(const Json& data) {
  JsonReader r(data, "data");
  SubmitResult out;
  const Json& errors = r.OptArray("errors");
  const Json& submissions = r.OptArray("submissions");
  const Json& samples = r.OptArray("samples");
  if (!r.ok()) return r.status().error();
  for (size_t i = 0; i < errors.size(); ++i) {
    JsonReader e(errors[i], fmt::format("data.errors[{}]", i));
    SoftError se{e.OptStr("error_msg").value_or("unspecified error"),
                 e.OptStr("submission_filename").value_or("")};
    if (!e.ok()) return e.status().error();
    out.errors.push_back(std::move(se));
  }
  for (size_t i = 0; i < submissions.size(); ++i) {
    auto s = ParseSubmission(submissions[i], fmt::format("data.submissions[{}]", i));
    if (!s) return s.error();
    out.submissions.push_back(std::move(*s));
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    // Submit answers carry a reduced sample object (no verdict yet); read what is there.
    JsonReader sr(samples[i], fmt::format("data.samples[{}]", i));
    Sample s;
    s.sample_id = sr.Int("sample_id", 1);
    s.sha256 = sr.OptStr("sample_sha256hash").value_or("");
    s.webif_url = sr.OptStr("sample_webif_url").value_or("");
    s.filename = sr.OptStr("sample_filename").value_or("");
    if (!sr.ok()) return sr.status().error();
    out.samples.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<Vti>> ParseVtis(const Json& data) {
  JsonReader r(data, "data");
  const Json& list = r.Array("threat_indicators");
  if (!r.ok()) return r.status().error();
  std::vector<Vti> out;
  for (size_t i = 0; i < list.size(); ++i) {
    JsonReader v(list[i], fmt::format("data.threat_indicators[{}]", i));
    Vti vti;
    vti.category = v.OptStr("category").value_or("");
    vti.operation = v.Str("operation");
    vti.score = static_cast<int>(v.OptInt("score", 0, 5).value_or(0));
    vti.classifications = v.StrArray("classifications");
    if (!v.ok()) return v.status().error();
    out.push_back(std::move(vti));
  }
  return out;
}

Result<Analysis> ParseAnalysis(const Json& j, const std::string& path) {
  JsonReader r(j, path);
  Analysis a;
  a.analysis_id = r.Int("analysis_id", 1);
  a.severity = r.OptStr("analysis_severity").value_or("");
  a.verdict = r.OptStr("analysis_verdict").value_or("");
  a.result_str = r.OptStr("analysis_result_str").value_or("");
  if (!r.ok()) return r.status().error();
  return a;
}

}  // namespace vc::vmray
