#include "pipelines/defender_alerts/sample_result.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace vc::defender {
namespace {

constexpr size_t kMaxVtis = 60;
constexpr size_t kMaxLine = 500;

// Comment lines come from VMRay and MDE data: strip control characters and cap the length.
std::string Clean(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
    if (out.size() >= kMaxLine) break;
  }
  return out;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

SampleResult SampleResult::From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis,
                                std::optional<TimePoint> analysed_at) {
  SampleResult r;
  r.sample_id = sample.sample_id;
  r.sha256 = sample.sha256;
  r.verdict = sample.verdict.empty() ? sample.severity : sample.verdict;
  r.webif_url = sample.webif_url;
  r.classifications = sample.classifications;
  r.threat_names = sample.threat_names;
  std::stable_sort(vtis.begin(), vtis.end(),
                   [](const vmray::Vti& a, const vmray::Vti& b) { return a.score > b.score; });
  r.vtis = std::move(vtis);
  r.analysed_at = analysed_at;
  return r;
}

std::string SampleResult::Dump() const {
  Json vtis = Json::array();
  for (const auto& v : this->vtis) {
    vtis.push_back({{"category", v.category}, {"operation", v.operation}, {"score", v.score}});
  }
  Json j{{"sample_id", sample_id},
         {"submission_id", submission_id},
         {"sha256", sha256},
         {"verdict", verdict},
         {"webif_url", webif_url},
         {"classifications", classifications},
         {"threat_names", threat_names},
         {"vtis", vtis}};
  if (analysed_at) j["analysed_at"] = ToUnixMillis(*analysed_at);
  return j.dump();
}

Result<SampleResult> SampleResult::Parse(const std::string& text) {
  auto j = ParseJson(text, "cached sample result");
  if (!j) return j.error();
  JsonReader r(*j, "result");
  SampleResult s;
  s.sample_id = r.Int("sample_id");
  s.submission_id = r.OptInt("submission_id").value_or(0);
  s.sha256 = r.Str("sha256");
  s.verdict = r.OptStr("verdict").value_or("");
  s.webif_url = r.OptStr("webif_url").value_or("");
  s.classifications = r.StrArray("classifications");
  s.threat_names = r.StrArray("threat_names");
  if (auto t = r.OptInt("analysed_at")) s.analysed_at = FromUnixMillis(*t);
  const Json& vtis = r.OptArray("vtis");
  if (!r.ok()) return r.status().error();
  for (const auto& v : vtis) {
    JsonReader vr(v, "result.vtis[]");
    vmray::Vti vti;
    vti.category = vr.OptStr("category").value_or("");
    vti.operation = vr.Str("operation");
    vti.score = static_cast<int>(vr.OptInt("score").value_or(0));
    if (!vr.ok()) return vr.status().error();
    s.vtis.push_back(std::move(vti));
  }
  return s;
}

std::string BuildAlertComment(const SampleResult& r, const std::string& url) {
  std::string out;
  if (url.empty()) {
    out += "Evidence SHA256:\n" + Clean(r.sha256) + "\n";
  } else {
    out += "Evidence URL:\n" + Clean(url) + "\n";
  }
  out +=
      "VMRAY Analyzer Verdict: " + Upper(Clean(r.verdict.empty() ? "unknown" : r.verdict)) + "\n";
  out += "Sample Url:\n" + Clean(r.webif_url) + "\n";
  if (!r.classifications.empty()) {
    out += "Classifications:\n";
    for (const auto& c : r.classifications) out += Clean(c) + "\n";
  }
  if (!r.threat_names.empty()) {
    out += "Threat Names:\n";
    for (const auto& t : r.threat_names) out += Clean(t) + "\n";
  }
  // Unique operations, most severe first (the order the original's 1.1.0 uses).
  std::set<std::string> seen;
  std::vector<std::string> ops;
  for (const auto& v : r.vtis) {
    if (seen.insert(v.operation).second) ops.push_back(Clean(v.operation));
  }
  if (!ops.empty()) {
    out += "VTI's:\n";
    for (size_t i = 0; i < ops.size() && i < kMaxVtis; ++i) out += ops[i] + "\n";
    if (ops.size() > kMaxVtis) out += fmt::format("... and {} more\n", ops.size() - kMaxVtis);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string BuildFailureComment(const std::string& sha256, const std::string& file_name,
                                const std::string& reason) {
  return fmt::format("Evidence SHA256:\n{}\nVMRay Connector could not analyse {}:\n{}",
                     Clean(sha256), file_name.empty() ? "the file" : Clean(file_name),
                     Clean(reason));
}

}  // namespace vc::defender
