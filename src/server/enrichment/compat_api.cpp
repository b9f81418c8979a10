// The original function app's routes, /api/<FunctionName>, GET and POST alike, with its inputs
// (query string first, then the JSON body), outputs and texts. Divergences, each deliberate and
// documented in docs/enrichment-api.md: bad input other than a missing parameter is a 400 with a
// JSON error instead of "Internal Server Exception", VMRay failures are mapped (404 unknown id,
// 502/503 VMRay trouble), and Resubmit does what its documentation says.
#include <fmt/format.h>

#include <functional>

#include "server/enrichment/routes.hpp"

namespace vc::enrichment {
namespace {

using Handler = std::function<void(const Params&, httplib::Response&)>;

template <class T>
bool Take(std::variant<T, ApiError>& parsed, httplib::Response& res) {
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    SendError(res, *e, Style::kCompat);
    return false;
  }
  return true;
}

void Answer(const Result<Json>& result, httplib::Response& res) {
  if (!result) return SendError(res, FromVmrayError(result.error()), Style::kCompat);
  SendJson(res, 200, *result);
}

void AnswerSubmit(const Result<SubmitOutcome>& result, httplib::Response& res) {
  if (!result) return SendError(res, FromVmrayError(result.error()), Style::kCompat);
  SendJson(res, 200, result->summary);
}

// Sample-id routes differ only in the call they make.
Handler BySampleId(Result<Json> (Operations::*call)(int64_t), Operations& ops) {
  return [call, &ops](const Params& p, httplib::Response& res) {
    auto id = ParseId(p, "sample_id");
    if (!Take(id, res)) return;
    Answer((ops.*call)(std::get<int64_t>(id)), res);
  };
}

}  // namespace

void RegisterCompatRoutes(httplib::Server& server, Operations& ops) {
  const std::vector<std::pair<std::string, Handler>> routes = {
      {"UplaodURL",  // sic: the misspelling is the interface the playbooks call
       [&ops](const Params& p, httplib::Response& res) {
         auto in = ParseUrlSubmit(p);
         if (!Take(in, res)) return;
         AnswerSubmit(ops.SubmitUrl(std::get<0>(in)), res);
       }},
      {"VMRayUploadSample",
       [&ops](const Params& p, httplib::Response& res) {
         auto in = ParseFileSubmit(p, ops.max_file_bytes());
         if (!Take(in, res)) return;
         AnswerSubmit(ops.SubmitFile(std::get<0>(in)), res);
       }},
      {"GetVMRaySubmission",
       [&ops](const Params& p, httplib::Response& res) {
         auto id = ParseId(p, "submission_id");
         if (!Take(id, res)) return;
         Answer(ops.Submission(std::get<int64_t>(id)), res);
       }},
      {"GetVMRaySample", BySampleId(&Operations::Sample, ops)},
      {"GetVMRaySampleByHash",
       [&ops](const Params& p, httplib::Response& res) {
         auto hash = ParseHash(p);
         if (!Take(hash, res)) return;
         Answer(ops.SamplesByHash(std::get<0>(hash)), res);
       }},
      {"GetVMRayVTIs", BySampleId(&Operations::Vtis, ops)},
      {"GetVMRayThreatIndicator", BySampleId(&Operations::ThreatIndicators, ops)},
      {"GetAnalysisBySampleID",
       [&ops](const Params& p, httplib::Response& res) {
         auto in = ParseAnalyses(p);
         if (!Take(in, res)) return;
         Answer(ops.Analyses(std::get<0>(in)), res);
       }},
      {"GetVMRayIOCs",
       [&ops](const Params& p, httplib::Response& res) {
         auto in = ParseIocs(p);
         if (!Take(in, res)) return;
         const IocsInput& iocs = std::get<0>(in);
         if (!iocs.WantsCustomResp()) return Answer(ops.Iocs(iocs.sample_id), res);
         if (!ops.CanBuildCustomResp()) {
           return SendError(
               res,
               {501, "not_implemented",
                "GetVMRayIOCs with submission_id and sample_verdict answers {api_resp, "
                "custom_resp} with STIX indicators from the Sentinel TI feed's mapping, which "
                "this build does not include yet; leave out submission_id or sample_verdict for "
                "the raw VMRay IOCs"},
               Style::kCompat);
         }
         Answer(ops.IocsWithIndicators(iocs), res);
       }},
  };
  for (const auto& [name, handler] : routes) {
    auto serve = [handler](const httplib::Request& req, httplib::Response& res) {
      auto params = ParamsOf(req);
      if (!Take(params, res)) return;
      handler(std::get<Params>(params), res);
    };
    server.Get("/api/" + name, serve);
    server.Post("/api/" + name, serve);
  }
}

const std::vector<std::string>& CompatFunctionNames() {
  static const std::vector<std::string> kNames = {"UplaodURL",
                                                  "VMRayUploadSample",
                                                  "GetVMRaySubmission",
                                                  "GetVMRaySample",
                                                  "GetVMRaySampleByHash",
                                                  "GetVMRayVTIs",
                                                  "GetVMRayThreatIndicator",
                                                  "GetAnalysisBySampleID",
                                                  "GetVMRayIOCs"};
  return kNames;
}

}  // namespace vc::enrichment
