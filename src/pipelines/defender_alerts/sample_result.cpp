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

// VTIs most severe first, as the comment lists them.
std::vector<vmray::Vti> SortedVtis(std::vector<vmray::Vti> vtis) {
  std::stable_sort(vtis.begin(), vtis.end(),
                   [](const vmray::Vti& a, const vmray::Vti& b) { return a.score > b.score; });
  return vtis;
}

Json DumpVtis(const std::vector<vmray::Vti>& vtis) {
  Json out = Json::array();
  for (const auto& v : vtis) {
    out.push_back({{"category", v.category}, {"operation", v.operation}, {"score", v.score}});
  }
  return out;
}

Status ParseVtis(const Json& vtis, const std::string& path, std::vector<vmray::Vti>& out) {
  for (const auto& v : vtis) {
    JsonReader vr(v, path);
    vmray::Vti vti;
    vti.category = vr.OptStr("category").value_or("");
    vti.operation = vr.Str("operation");
    vti.score = static_cast<int>(vr.OptInt("score").value_or(0));
    if (!vr.ok()) return vr.status();
    out.push_back(std::move(vti));
  }
  return Ok();
}

// The sections after the first line, shared by the sample and each child.
std::string Sections(const std::string& verdict, const std::string& webif_url,
                     const std::vector<std::string>& classifications,
                     const std::vector<std::string>& threat_names,
                     const std::vector<vmray::Vti>& vtis) {
  std::string out;
  out += "VMRAY Analyzer Verdict: " + Upper(Clean(verdict.empty() ? "unknown" : verdict)) + "\n";
  out += "Sample Url:\n" + Clean(webif_url) + "\n";
  if (!classifications.empty()) {
    out += "Classifications:\n";
    for (const auto& c : classifications) out += Clean(c) + "\n";
  }
  if (!threat_names.empty()) {
    out += "Threat Names:\n";
    for (const auto& t : threat_names) out += Clean(t) + "\n";
  }
  // Unique operations, most severe first (the order the original's 1.1.0 uses).
  std::set<std::string> seen;
  std::vector<std::string> ops;
  for (const auto& v : vtis) {
    if (seen.insert(v.operation).second) ops.push_back(Clean(v.operation));
  }
  if (!ops.empty()) {
    out += "VTI's:\n";
    for (size_t i = 0; i < ops.size() && i < kMaxVtis; ++i) out += ops[i] + "\n";
    if (ops.size() > kMaxVtis) out += fmt::format("... and {} more\n", ops.size() - kMaxVtis);
  }
  return out;
}

// A child whose analysis produced no verdict gets one short line, not a block of sections.
bool HasVerdict(const std::string& verdict) {
  const std::string v = Upper(verdict);
  return !v.empty() && v != "UNKNOWN" && v != "NOT_AVAILABLE" && v != "N/A";
}

std::string ChildBlock(const ChildSampleResult& c, const SampleResult& root) {
  std::string out = "\nChild sample SHA256:\n" + Clean(c.sha256) + "\n";
  if (c.parent_sample_id != root.sample_id) {
    // A grandchild: name the sample that dropped it, so the tree can be followed.
    for (const auto& p : root.children) {
      if (p.sample_id == c.parent_sample_id) {
        out += "Parent sample SHA256:\n" + Clean(p.sha256) + "\n";
        break;
      }
    }
  }
  return out + Sections(c.verdict, c.webif_url, c.classifications, c.threat_names, c.vtis);
}

// Cuts `text` at a line boundary so that it fits kMaxAlertComment with the note appended.
void CapLength(std::string& text) {
  if (text.size() <= kMaxAlertComment) return;
  const std::string note = fmt::format(
      "\n[comment cut at {} characters; the full result is in VMRay]", kMaxAlertComment);
  size_t cut = kMaxAlertComment - note.size();
  const size_t line = text.rfind('\n', cut);
  if (line != std::string::npos && line > 0) cut = line;
  text.resize(cut);
  text += note;
}

}  // namespace

SampleSections SampleSections::From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis) {
  SampleSections s;
  s.sample_id = sample.sample_id;
  s.sha256 = sample.sha256;
  s.verdict = sample.verdict.empty() ? sample.severity : sample.verdict;
  s.webif_url = sample.webif_url;
  s.classifications = sample.classifications;
  s.threat_names = sample.threat_names;
  s.vtis = SortedVtis(std::move(vtis));
  return s;
}

ChildSampleResult ChildSampleResult::From(const vmray::Sample& sample, int64_t parent_sample_id,
                                          std::vector<vmray::Vti> vtis) {
  ChildSampleResult c;
  static_cast<SampleSections&>(c) = SampleSections::From(sample, std::move(vtis));
  c.parent_sample_id = parent_sample_id;
  return c;
}

SampleResult SampleResult::From(const vmray::Sample& sample, std::vector<vmray::Vti> vtis,
                                std::optional<TimePoint> analysed_at) {
  SampleResult r;
  static_cast<SampleSections&>(r) = SampleSections::From(sample, std::move(vtis));
  r.analysed_at = analysed_at;
  return r;
}

std::string SampleResult::Dump() const {
  Json children_json = Json::array();
  for (const auto& c : children) {
    children_json.push_back({{"sample_id", c.sample_id},
                             {"parent_sample_id", c.parent_sample_id},
                             {"sha256", c.sha256},
                             {"verdict", c.verdict},
                             {"webif_url", c.webif_url},
                             {"classifications", c.classifications},
                             {"threat_names", c.threat_names},
                             {"vtis", DumpVtis(c.vtis)}});
  }
  Json j{{"sample_id", sample_id},
         {"submission_id", submission_id},
         {"sha256", sha256},
         {"verdict", verdict},
         {"webif_url", webif_url},
         {"classifications", classifications},
         {"threat_names", threat_names},
         {"vtis", DumpVtis(vtis)},
         {"children", children_json},
         {"children_not_read", children_not_read},
         {"child_notes", child_notes}};
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
  // Absent in rows cached before child samples were read.
  const Json& children = r.OptArray("children");
  s.children_not_read = r.OptInt("children_not_read", 0).value_or(0);
  s.child_notes = r.StrArray("child_notes");
  if (!r.ok()) return r.status().error();
  if (auto st = ParseVtis(vtis, "result.vtis[]", s.vtis); !st) return st.error();
  for (const auto& c : children) {
    JsonReader cr(c, "result.children[]");
    ChildSampleResult child;
    child.sample_id = cr.Int("sample_id");
    child.parent_sample_id = cr.OptInt("parent_sample_id").value_or(s.sample_id);
    child.sha256 = cr.Str("sha256");
    child.verdict = cr.OptStr("verdict").value_or("");
    child.webif_url = cr.OptStr("webif_url").value_or("");
    child.classifications = cr.StrArray("classifications");
    child.threat_names = cr.StrArray("threat_names");
    const Json& child_vtis = cr.OptArray("vtis");
    if (!cr.ok()) return cr.status().error();
    if (auto st = ParseVtis(child_vtis, "result.children[].vtis[]", child.vtis); !st)
      return st.error();
    s.children.push_back(std::move(child));
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
  out += Sections(r.verdict, r.webif_url, r.classifications, r.threat_names, r.vtis);

  // Children come after the sample's own sections; whole blocks only, while they fit, so the
  // notes at the end (always short) are never the part that is cut.
  constexpr size_t kReserve = 1'500;
  std::vector<std::string> no_verdict;
  size_t not_shown = 0;
  for (const auto& c : r.children) {
    if (!HasVerdict(c.verdict)) {
      no_verdict.push_back(Clean(c.sha256));
      continue;
    }
    std::string block = ChildBlock(c, r);
    if (out.size() + block.size() + kReserve > kMaxAlertComment) {
      ++not_shown;
      continue;
    }
    out += block;
  }
  if (!no_verdict.empty()) {
    std::string line = "\nChild samples without a verdict:";
    size_t listed = 0;
    for (const auto& sha : no_verdict) {
      if (out.size() + line.size() + sha.size() + kReserve / 2 > kMaxAlertComment) break;
      line += (listed == 0 ? " " : ", ") + sha;
      ++listed;
    }
    if (listed < no_verdict.size()) line += fmt::format(" and {} more", no_verdict.size() - listed);
    out += line + "\n";
  }
  if (not_shown > 0) {
    out += fmt::format(
        "\n{} more child sample{} not shown here (comment length limit); see the sample in "
        "VMRay.\n",
        not_shown, not_shown == 1 ? "" : "s");
  }
  if (r.children_not_read > 0) {
    out += fmt::format(
        "\n{} more child sample{} not read (at most {} are read); see the sample in VMRay.\n",
        r.children_not_read, r.children_not_read == 1 ? " was" : "s were", kMaxChildSamples);
  }
  constexpr size_t kMaxNotes = 5;
  for (size_t i = 0; i < r.child_notes.size() && i < kMaxNotes; ++i) {
    out += (i == 0 ? "\n" : "") + Clean(r.child_notes[i]) + "\n";
  }
  if (r.child_notes.size() > kMaxNotes) {
    out += fmt::format("... and {} more skipped child samples\n", r.child_notes.size() - kMaxNotes);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  CapLength(out);
  return out;
}

std::string BuildFailureComment(const std::string& sha256, const std::string& file_name,
                                const std::string& reason) {
  return fmt::format("Evidence SHA256:\n{}\nVMRay Connector could not analyse {}:\n{}",
                     Clean(sha256), file_name.empty() ? "the file" : Clean(file_name),
                     Clean(reason));
}

}  // namespace vc::defender
