// Synthetic submissions for benchmarks: a seed entry {"generate": {"count", "iocs_per_sample",
// "seed", "from", "to"}} creates `count` finished samples whose finish times spread evenly over
// [from, to], each with `iocs_per_sample` IOC entries. The IOCs are not stored: they are derived
// from (seed, index) whenever GET /rest/sample/{id}/iocs asks, so 50,000 samples with half a
// million IOCs cost the emulator a few tens of MiB instead of gigabytes of JSON, and every run
// with the same seed sees the same values.
//
// The values look like what VMRay reports for commodity malware: several families (threat names
// and classifications as VMRay spells them), malicious and suspicious verdicts, per-family C2
// domains shared by many samples, public IPv4 addresses (some with a port), IPv6 addresses,
// URLs with paths and queries (some with a quote, which the STIX pattern must escape) and
// dropped files with MD5, SHA-1 and SHA-256.
#pragma once

#include <cstdint>
#include <string>

#include "core/json.hpp"
#include "core/result.hpp"
#include "vmray_model.hpp"

namespace vc::emu::vmray {

struct GenerateSpec {
  int64_t count = 0;
  int iocs_per_sample = 10;
  uint64_t seed = 1;
  TimePoint from{};  // finish time of the first sample
  TimePoint to{};    // finish time of the last one
};

// Reads the "generate" object of a seed; `now` gives the defaults (from = now - 30 days,
// to = now - 1 hour). Errors name the key and the accepted range.
Result<GenerateSpec> ParseGenerateSpec(const Json& j, TimePoint now);

// Sample `index` (0-based) of a generation: hashes, file name and analysis outcome.
struct GeneratedSample {
  std::string sha256, sha1, md5, filename;
  Outcome outcome;
  TimePoint finished;
};
GeneratedSample GenerateSample(const GenerateSpec& spec, int64_t index);

// The IOC families ({"domains": [...], "ips": [...], "urls": [...], "files": [...]}) of that
// sample, in the shape of GET /rest/sample/{id}/iocs.
Json GenerateIocs(const Sample& sample, const GeneratedIocs& generated);

}  // namespace vc::emu::vmray
