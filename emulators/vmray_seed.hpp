// The seed document of the VMRay emulator (see VmrayEmulator::Seed), read and checked as a whole
// before any of it is applied, so a bad seed changes nothing.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"
#include "vmray_generator.hpp"
#include "vmray_model.hpp"

namespace vc::emu::vmray {

struct SeedSample {
  std::string sha256;  // lower-case
  std::optional<std::string> md5, sha1, filename;
  Outcome outcome;
  std::optional<TimePoint> analysed_at;
  // A submission created at seed time that is still running; `outcome` is what it will find.
  bool pending = false;
  // IOC families served as given by GET /rest/sample/{id}/iocs instead of the derived ones.
  std::optional<Json> iocs;
  // Another sample's id, or the sha256 of a sample in this seed or already known.
  std::vector<std::variant<int64_t, std::string>> children;
};

struct SeedDocument {
  std::vector<SeedSample> samples;
  std::map<std::string, Outcome> verdicts;  // key: lower-case sha256, or a URL as submitted
  std::vector<std::string> soft_error_for;  // lower-case sha256
  std::optional<GenerateSpec> generate;     // synthetic finished samples (benchmarks)
};

// Errors are kInvalidArgument with the JSON path of the problem and what to write instead.
// `now` gives the defaults of "generate".
Result<SeedDocument> ParseSeed(const Json& seed, TimePoint now);

}  // namespace vc::emu::vmray
