#include "pipelines/defender_alerts/collection_script.hpp"

#include <fmt/format.h>

#include <array>
#include <sstream>

#include "core/base64.hpp"
#include "core/json.hpp"

namespace vc::defender {
namespace {

constexpr std::array<std::string_view, 10> kOutcomes = {
    "collected",     "collected_encrypted", "not_in_quarantine", "hash_mismatch",    "too_large",
    "upload_failed", "exclusion_blocked",   "restore_failed",    "defender_missing", "bad_request"};

bool KnownOutcome(std::string_view o) {
  for (auto k : kOutcomes) {
    if (k == o) return true;
  }
  return false;
}

}  // namespace

std::string EncodeCollectionArgs(const CollectionRequest& r) {
  Json j{{"v", 1},
         {"mode", r.mode},
         {"threat", r.threat},
         {"sha256", r.sha256},
         {"sha1", r.sha1},
         {"upload_url", r.upload_url},
         {"max_bytes", r.max_bytes},
         {"request_id", r.request_id}};
  // ensure_ascii: the script decodes UTF-8 either way, but ASCII JSON is the safer wire form.
  return Base64Encode(j.dump(-1, ' ', true));
}

Result<CollectionOutcome> ParseCollectionTranscript(std::string_view transcript) {
  auto doc = ParseJson(transcript, "the Live Response script transcript");
  if (!doc) return doc.error();
  JsonReader t(*doc, "transcript");
  const std::string output = t.OptStr("script_output").value_or("");
  const int64_t exit_code = t.OptInt("exit_code").value_or(0);
  const std::string errors = t.OptStr("script_errors").value_or("");
  if (!t.ok()) return t.status().error();
  // The outcome is the last line that is our JSON; anything else is noise from the device.
  std::optional<Json> last;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line.front() != '{') continue;
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("v", 0) == 1 && j.contains("outcome"))
      last = j;
  }
  if (!last) {
    return MakeError(ErrorCode::kProtocol,
                     fmt::format("the collection script wrote no outcome line (exit code {}{})",
                                 exit_code, errors.empty() ? "" : ", it reported errors"));
  }
  JsonReader r(*last, "outcome");
  CollectionOutcome o;
  o.outcome = r.Str("outcome");
  o.detail = r.OptStr("detail").value_or("");
  o.sha256 = r.OptStr("sha256").value_or("");
  o.size = r.OptInt("size", 0).value_or(0);
  o.request_id = r.OptStr("request_id").value_or("");
  if (!r.ok()) return r.status().error();
  if (!KnownOutcome(o.outcome)) {
    return MakeError(ErrorCode::kProtocol, "the collection script wrote an unknown outcome");
  }
  return o;
}

}  // namespace vc::defender

#include "pipelines/defender_alerts/embedded_script.hpp"

namespace vc::defender {

std::string_view CollectionScript() {
  return EmbeddedScripts().front().text;
}

}  // namespace vc::defender
