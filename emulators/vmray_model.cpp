#include "vmray_model.hpp"

#include <regex>

#include "core/time.hpp"
#include "vmray_fixtures.hpp"

namespace vc::emu::vmray {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kMalicious:
      return "malicious";
    case Verdict::kSuspicious:
      return "suspicious";
    case Verdict::kClean:
      return "clean";
    case Verdict::kNotAvailable:
      break;
  }
  return "not_available";
}

std::optional<Verdict> ParseVerdict(std::string_view text) {
  for (Verdict v :
       {Verdict::kMalicious, Verdict::kSuspicious, Verdict::kClean, Verdict::kNotAvailable}) {
    if (VerdictName(v) == text) return v;
  }
  return std::nullopt;
}

std::string_view SeverityName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kMalicious:
      return "malicious";
    case Verdict::kSuspicious:
      return "suspicious";
    case Verdict::kClean:
      return "not_suspicious";
    case Verdict::kNotAvailable:
      break;
  }
  return "unknown";
}

std::optional<TimePoint> ParseVmrayTime(std::string_view text) {
  static const std::regex kFormat(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})");
  if (!std::regex_match(text.begin(), text.end(), kFormat)) return std::nullopt;
  return ParseIso8601(text);
}

Outcome DefaultOutcome(Verdict verdict) {
  Outcome o;
  o.verdict = verdict;
  switch (verdict) {
    case Verdict::kMalicious:
    case Verdict::kSuspicious: {
      const Json& sample = FixtureJson("sample_details_malicious.json").at("data");
      o.classifications = sample.at("sample_classifications").get<std::vector<std::string>>();
      o.threat_names = sample.at("sample_threat_names").get<std::vector<std::string>>();
      o.vti_score = verdict == Verdict::kMalicious ? sample.at("sample_vti_score").get<int>() : 60;
      break;
    }
    case Verdict::kClean:
      o.vti_score = 5;
      break;
    case Verdict::kNotAvailable:
      break;
  }
  return o;
}

}  // namespace vc::emu::vmray
