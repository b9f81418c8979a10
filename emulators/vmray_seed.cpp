#include "vmray_seed.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "emulator_server.hpp"
#include "vmray_digest.hpp"

namespace vc::emu::vmray {
namespace {

Error Bad(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Status OnlyKeys(const Json& object, const std::string& path,
                std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Bad(fmt::format("{}: unknown key '{}' (allowed: {})", path, key, list));
    }
  }
  return Ok();
}

Result<std::string> Hash(const Json& object, const std::string& path, std::string_view key,
                         size_t length) {
  const std::string where = fmt::format("{}.{}", path, key);
  if (!object.at(key).is_string() || !IsHexOfLength(object.at(key).get<std::string>(), length)) {
    return Bad(fmt::format("{}: expected {} hex digits", where, length));
  }
  return ToLower(object.at(key).get<std::string>());
}

// verdict (required), classifications, threat_names, vti_score: shared by samples and the
// verdicts map.
Result<Outcome> ReadOutcome(const Json& object, const std::string& path) {
  JsonReader r(object, path);
  const std::string verdict_text = r.Str("verdict");
  VC_RETURN_IF_ERROR(r.status());
  auto verdict = ParseVerdict(verdict_text);
  if (!verdict || *verdict == Verdict::kNotAvailable) {
    return Bad(fmt::format("{}.verdict: '{}' is not one of malicious, suspicious, clean", path,
                           verdict_text));
  }
  Outcome o = DefaultOutcome(*verdict);
  if (object.contains("classifications")) o.classifications = r.StrArray("classifications");
  if (object.contains("threat_names")) o.threat_names = r.StrArray("threat_names");
  if (auto score = r.OptInt("vti_score", 0, 100)) o.vti_score = static_cast<int>(*score);
  VC_RETURN_IF_ERROR(r.status());
  return o;
}

Result<SeedSample> ReadSample(const Json& j, const std::string& path) {
  if (!j.is_object()) return Bad(fmt::format("{}: expected an object", path));
  VC_RETURN_IF_ERROR(
      OnlyKeys(j, path,
               {"sha256", "md5", "sha1", "filename", "verdict", "classifications", "threat_names",
                "vti_score", "analysed_at", "child_sample_ids", "pending", "iocs"}));
  if (!j.contains("sha256")) return Bad(fmt::format("{}.sha256: required", path));
  SeedSample s;
  VC_ASSIGN_OR_RETURN(s.sha256, Hash(j, path, "sha256", 64));
  if (j.contains("md5")) {
    VC_ASSIGN_OR_RETURN(s.md5, Hash(j, path, "md5", 32));
  }
  if (j.contains("sha1")) {
    VC_ASSIGN_OR_RETURN(s.sha1, Hash(j, path, "sha1", 40));
  }
  JsonReader r(j, path);
  s.filename = r.OptStr("filename");
  if (s.filename && s.filename->empty()) return Bad(path + ".filename: must not be empty");
  if (auto at = r.OptStr("analysed_at")) {
    s.analysed_at = ParseVmrayTime(*at);
    if (!s.analysed_at) {
      return Bad(fmt::format("{}.analysed_at: '{}' is not YYYY-MM-DDTHH:MM:SS (UTC)", path, *at));
    }
  }
  if (j.contains("pending")) {
    if (!j["pending"].is_boolean()) return Bad(path + ".pending: must be true or false");
    s.pending = j["pending"].get<bool>();
    if (s.pending && s.analysed_at) {
      return Bad(path + ": a pending sample has no analysed_at yet; drop one of the two");
    }
  }
  if (j.contains("iocs")) {
    // Families given as they are (the feed's tests need values the derived IOCs never hold).
    if (!j["iocs"].is_object()) return Bad(path + ".iocs: expected an object of IOC families");
    for (const auto& [family, entries] : j["iocs"].items()) {
      if (!entries.is_array())
        return Bad(fmt::format("{}.iocs.{}: expected an array", path, family));
    }
    s.iocs = j["iocs"];
  }
  const Json& children = r.OptArray("child_sample_ids");
  VC_RETURN_IF_ERROR(r.status());
  for (size_t i = 0; i < children.size(); ++i) {
    const Json& c = children[i];
    if (c.is_number_integer() && c.get<int64_t>() > 0) {
      s.children.emplace_back(c.get<int64_t>());
    } else if (c.is_string() && IsHexOfLength(c.get<std::string>(), 64)) {
      s.children.emplace_back(ToLower(c.get<std::string>()));
    } else {
      return Bad(fmt::format("{}.child_sample_ids[{}]: expected a sample id or a sha256", path, i));
    }
  }
  VC_ASSIGN_OR_RETURN(s.outcome, ReadOutcome(j, path));
  return s;
}

}  // namespace

Result<SeedDocument> ParseSeed(const Json& seed, TimePoint now) {
  if (!seed.is_object()) return Bad("seed: expected a JSON object");
  VC_RETURN_IF_ERROR(OnlyKeys(seed, "seed", {"samples", "verdicts", "soft_error_for", "generate"}));
  SeedDocument doc;
  if (seed.contains("generate")) {
    VC_ASSIGN_OR_RETURN(auto spec, ParseGenerateSpec(seed["generate"], now));
    doc.generate = spec;
  }
  if (seed.contains("samples")) {
    const Json& samples = seed["samples"];
    if (!samples.is_array()) return Bad("seed.samples: expected an array");
    for (size_t i = 0; i < samples.size(); ++i) {
      VC_ASSIGN_OR_RETURN(auto s, ReadSample(samples[i], fmt::format("samples[{}]", i)));
      doc.samples.push_back(std::move(s));
    }
  }
  if (seed.contains("verdicts")) {
    const Json& verdicts = seed["verdicts"];
    if (!verdicts.is_object()) {
      return Bad("seed.verdicts: expected an object keyed by sha256 or URL");
    }
    for (const auto& [key, value] : verdicts.items()) {
      const std::string path = fmt::format("verdicts[\"{}\"]", key);
      if (key.empty()) return Bad("seed.verdicts: a key is empty; use a sha256 or a URL");
      if (!value.is_object()) return Bad(path + ": expected an object");
      VC_RETURN_IF_ERROR(
          OnlyKeys(value, path, {"verdict", "classifications", "threat_names", "vti_score"}));
      VC_ASSIGN_OR_RETURN(auto outcome, ReadOutcome(value, path));
      doc.verdicts[IsHexOfLength(key, 64) ? ToLower(key) : key] = std::move(outcome);
    }
  }
  if (seed.contains("soft_error_for")) {
    const Json& list = seed["soft_error_for"];
    if (!list.is_array()) return Bad("seed.soft_error_for: expected an array of sha256");
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string() || !IsHexOfLength(list[i].get<std::string>(), 64)) {
        return Bad(fmt::format("seed.soft_error_for[{}]: expected 64 hex digits", i));
      }
      doc.soft_error_for.push_back(ToLower(list[i].get<std::string>()));
    }
  }
  return doc;
}

}  // namespace vc::emu::vmray
