// The JSON documents the VMRay emulator answers with. Each starts from the real capture of the
// same endpoint (vmray_fixtures) and replaces the fields that describe this sample or
// submission, so every key the real service sends is present with its real type.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "vmray_model.hpp"

namespace vc::emu::vmray {

std::string SampleWebifUrl(std::string_view webif, int64_t sample_id);
std::string AnalysisWebifUrl(std::string_view webif, int64_t analysis_id);

Json SystemInfoDocument(std::string_view webif, int page_size, int64_t max_upload_size);
Json SampleDocument(const Sample& sample, std::string_view webif);
Json SubmissionDocument(const Submission& submission, const Sample& sample, std::string_view webif);
// The one dynamic job of an unfinished submission: "queued" until the first poll, then
// "inwork".
Json JobDocument(const Submission& submission, const Sample& sample);
Json AnalysisDocument(const Submission& submission, const Sample& sample, std::string_view webif);

// `data` of GET /rest/sample/{id}/vtis.
Json VtisDocument(const Sample& sample);
// `data` of GET /rest/sample/{id}/iocs. `only` keeps the entries with that verdict;
// `all_artifacts` adds the artifacts that are no IOC (`"ioc": false`).
Json IocsDocument(const Sample& sample, std::optional<Verdict> only, bool all_artifacts);
// `data` of GET /rest/sample/{id}/mitre_attack.
Json MitreDocument(const Sample& sample);

// The report pages the webif links point to (the demo opens them in a browser).
std::string SampleViewHtml(const Sample& sample);
std::string AnalysisViewHtml(const Submission& submission, const Sample& sample);
std::string NotFoundHtml(std::string_view what);

}  // namespace vc::emu::vmray
