// The versioned API for new users: resource paths, the same operations and validation as the
// compatible routes, {"data": ...} on success and {"error": {"code", "message"}} on every failure.
#include <fmt/format.h>

#include <functional>

#include "server/enrichment/routes.hpp"

namespace vc::enrichment {
namespace {

using Handler = std::function<void(const Params&, httplib::Response&)>;

template <class T>
bool Take(std::variant<T, ApiError>& parsed, httplib::Response& res) {
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    SendError(res, *e, Style::kV1);
    return false;
  }
  return true;
}

void Answer(const Result<Json>& result, httplib::Response& res) {
  if (!result) return SendError(res, FromVmrayError(result.error()), Style::kV1);
  SendJson(res, 200, Json{{"data", *result}});
}

void AnswerSubmit(const Result<SubmitOutcome>& result, httplib::Response& res) {
  if (!result) return SendError(res, FromVmrayError(result.error()), Style::kV1);
  Json data = result->summary;
  data["reused"] = result->reused;
  data["errors"] = result->errors;
  SendJson(res, 200, Json{{"data", std::move(data)}});
}

// `names` name the path's capture groups in order; they become parameters like query values.
httplib::Server::Handler Serve(std::vector<std::string> names, Handler handler) {
  return [names = std::move(names), handler = std::move(handler)](const httplib::Request& req,
                                                                  httplib::Response& res) {
    Params::Pairs path;
    for (size_t i = 0; i < names.size() && i + 1 < req.matches.size(); ++i) {
      path.emplace_back(names[i], req.matches[i + 1].str());
    }
    auto params = ParamsOf(req, std::move(path));
    if (!Take(params, res)) return;
    handler(std::get<Params>(params), res);
  };
}

Handler BySampleId(Result<Json> (Operations::*call)(int64_t), Operations& ops) {
  return [call, &ops](const Params& p, httplib::Response& res) {
    auto id = ParseId(p, "sample_id");
    if (!Take(id, res)) return;
    Answer((ops.*call)(std::get<int64_t>(id)), res);
  };
}

}  // namespace

void RegisterV1Routes(httplib::Server& server, Operations& ops) {
  server.Post("/api/v1/submissions/url", Serve({}, [&ops](const Params& p, httplib::Response& res) {
                auto in = ParseUrlSubmit(p);
                if (!Take(in, res)) return;
                AnswerSubmit(ops.SubmitUrl(std::get<0>(in)), res);
              }));
  server.Post("/api/v1/submissions/file",
              Serve({}, [&ops](const Params& p, httplib::Response& res) {
                auto in = ParseFileSubmit(p, ops.max_file_bytes());
                if (!Take(in, res)) return;
                AnswerSubmit(ops.SubmitFile(std::get<0>(in)), res);
              }));
  server.Get(R"(/api/v1/submissions/([^/]+))",
             Serve({"submission_id"}, [&ops](const Params& p, httplib::Response& res) {
               auto id = ParseId(p, "submission_id");
               if (!Take(id, res)) return;
               Answer(ops.Submission(std::get<int64_t>(id)), res);
             }));
  server.Get(R"(/api/v1/samples/by-hash/([^/]+))",
             Serve({"hash"}, [&ops](const Params& p, httplib::Response& res) {
               auto hash = ParseHash(p);
               if (!Take(hash, res)) return;
               Answer(ops.SamplesByHash(std::get<0>(hash)), res);
             }));
  server.Get(R"(/api/v1/samples/([^/]+))",
             Serve({"sample_id"}, BySampleId(&Operations::Sample, ops)));
  server.Get(R"(/api/v1/samples/([^/]+)/vtis)",
             Serve({"sample_id"}, BySampleId(&Operations::Vtis, ops)));
  server.Get(R"(/api/v1/samples/([^/]+)/threat-indicators)",
             Serve({"sample_id"}, BySampleId(&Operations::ThreatIndicators, ops)));
  server.Get(R"(/api/v1/samples/([^/]+)/analyses)",
             Serve({"sample_id"}, [&ops](const Params& p, httplib::Response& res) {
               auto in = ParseAnalyses(p);
               if (!Take(in, res)) return;
               Answer(ops.Analyses(std::get<0>(in)), res);
             }));
  server.Get(R"(/api/v1/samples/([^/]+)/iocs)",
             Serve({"sample_id"}, [&ops](const Params& p, httplib::Response& res) {
               auto in = ParseIocs(p);
               if (!Take(in, res)) return;
               const IocsInput& iocs = std::get<0>(in);
               if (!iocs.WantsCustomResp()) return Answer(ops.Iocs(iocs.sample_id), res);
               if (!ops.CanBuildCustomResp()) {
                 return SendError(res,
                                  {501, "not_implemented",
                                   "STIX indicators (submission_id with sample_verdict) need the "
                                   "Sentinel TI feed's mapping, which this build does not "
                                   "include yet; leave them out for the raw VMRay IOCs"},
                                  Style::kV1);
               }
               Answer(ops.IocsWithIndicators(iocs), res);
             }));
}

}  // namespace vc::enrichment
