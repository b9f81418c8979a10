#include "server/enrichment/operations.hpp"

#include "core/hash.hpp"

namespace vc::enrichment {
namespace {

Json Field(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? Json() : *it;
}

Json SampleEntry(const Json& s, const char* filename_key) {
  return {{"SampleID", Field(s, "sample_id")},       {"SampleURL", Field(s, "sample_webif_url")},
          {"Created", Field(s, "sample_created")},   {"FileName", Field(s, filename_key)},
          {"FileSize", Field(s, "sample_filesize")}, {"SSDeep", Field(s, "sample_ssdeephash")},
          {"SHA1", Field(s, "sample_sha1hash")}};
}

Json SubmissionEntry(const Json& s) {
  return {{"SubmissionID", Field(s, "submission_id")},
          {"SubmissionURL", Field(s, "submission_webif_url")},
          {"SampleID", Field(s, "submission_sample_id")}};
}

const Json& ArrayOr(const Json& object, const char* key) {
  static const Json kEmpty = Json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

}  // namespace

Json SubmissionSummary(const Json& data) {
  Json summary = {{"vmray_job", Json::array()},
                  {"vmray_sample", Json::array()},
                  {"vmray_submission", Json::array()}};
  for (const auto& j : ArrayOr(data, "jobs")) {
    if (!j.is_object()) continue;
    summary["vmray_job"].push_back({{"JobID", Field(j, "job_id")},
                                    {"Created", Field(j, "job_created")},
                                    {"SampleID", Field(j, "job_sample_id")},
                                    {"VMName", Field(j, "job_vm_name")},
                                    {"VMID", Field(j, "job_vm_id")},
                                    {"JobRuleSampleType", Field(j, "job_jobrule_sampletype")}});
  }
  for (const auto& s : ArrayOr(data, "samples")) {
    if (s.is_object()) summary["vmray_sample"].push_back(SampleEntry(s, "submission_filename"));
  }
  for (const auto& s : ArrayOr(data, "submissions")) {
    if (s.is_object()) summary["vmray_submission"].push_back(SubmissionEntry(s));
  }
  return summary;
}

Operations::Operations(vmray::Client& vmray, OperationsOptions options)
    : vmray_(vmray), options_(std::move(options)) {}

Result<SubmitOutcome> Operations::SubmitUrl(const vmray::SubmitRequest& request) {
  auto data = vmray_.SubmitRaw(request);
  if (!data) return data.error();
  SubmitOutcome out;
  out.summary = SubmissionSummary(*data);
  out.errors = ArrayOr(*data, "errors");
  return out;
}

Result<SubmitOutcome> Operations::SubmitFile(const FileSubmitInput& input) {
  const bool resubmit = input.resubmit.value_or(options_.resubmit);
  if (!resubmit) {
    auto known = vmray_.SamplesByHashRaw(Sha256Hex(input.request.content));
    if (!known) return known.error();
    // The newest sample VMRay holds for the hash (more than one is possible).
    const Json* newest = nullptr;
    for (const auto& s : *known) {
      if (!s.is_object() || !s.value("sample_id", Json()).is_number_integer()) continue;
      if (newest == nullptr ||
          s["sample_id"].get<int64_t>() > (*newest)["sample_id"].get<int64_t>())
        newest = &s;
    }
    if (newest != nullptr) {
      auto reused = Reuse(*newest);
      if (!reused) return reused.error();
      // A sample VMRay has no submission for cannot be polled by the caller: submit after all.
      if (!reused->summary["vmray_submission"].empty()) return reused;
    }
  }
  auto data = vmray_.SubmitRaw(input.request);
  if (!data) return data.error();
  SubmitOutcome out;
  out.summary = SubmissionSummary(*data);
  out.errors = ArrayOr(*data, "errors");
  return out;
}

Result<SubmitOutcome> Operations::Reuse(const Json& sample) {
  const int64_t sample_id = sample["sample_id"].get<int64_t>();
  auto submissions = vmray_.SubmissionsOfSampleRaw(sample_id);
  if (!submissions) return submissions.error();
  const Json* newest = nullptr;
  for (const auto& s : *submissions) {
    if (!s.is_object() || !s.value("submission_id", Json()).is_number_integer()) continue;
    if (newest == nullptr ||
        s["submission_id"].get<int64_t>() > (*newest)["submission_id"].get<int64_t>())
      newest = &s;
  }
  SubmitOutcome out;
  out.reused = true;
  out.summary = {{"vmray_job", Json::array()},
                 {"vmray_sample", Json::array({SampleEntry(sample, "sample_filename")})},
                 {"vmray_submission", Json::array()}};
  if (newest != nullptr) out.summary["vmray_submission"].push_back(SubmissionEntry(*newest));
  return out;
}

Result<Json> Operations::IocsWithIndicators(const IocsInput& in) {
  if (!options_.custom_resp) {
    return MakeError(ErrorCode::kInternal, "the STIX indicator mapping is not available");
  }
  auto iocs = vmray_.Iocs(in.sample_id);
  if (!iocs) return iocs.error();
  // Built fresh for this call from this call's IOCs only.
  auto custom = options_.custom_resp(in, *iocs);
  if (!custom) return custom.error();
  return Json{{"api_resp", std::move(*iocs)}, {"custom_resp", std::move(*custom)}};
}

}  // namespace vc::enrichment
