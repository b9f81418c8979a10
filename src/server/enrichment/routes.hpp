// Internal to the enrichment listener: the pieces the two route sets share.
#pragma once

#include <httplib.h>

#include <string>
#include <variant>
#include <vector>

#include "core/json.hpp"
#include "server/enrichment/api_error.hpp"
#include "server/enrichment/operations.hpp"
#include "server/enrichment/params.hpp"

namespace vc::enrichment {

enum class Style {
  kCompat,  // the original function app: plain-text 400 for a missing parameter
  kV1,      // {"error": {"code", "message"}} for every failure
};

// JSON with <, > and & written as \u escapes, so no value can turn into markup even when a
// client renders the body as HTML.
std::string SafeDump(const Json& value);
void SendJson(httplib::Response& res, int status, const Json& body);
void SendError(httplib::Response& res, const ApiError& error, Style style);
// Query pairs (plus `extra`, e.g. path parameters) and the JSON body of `req`.
std::variant<Params, ApiError> ParamsOf(const httplib::Request& req, Params::Pairs extra = {});

// The original's function names, served as /api/<name>.
const std::vector<std::string>& CompatFunctionNames();
void RegisterCompatRoutes(httplib::Server& server, Operations& ops);
void RegisterV1Routes(httplib::Server& server, Operations& ops);

// The metrics label of a path: the route template, or "other" for paths no route serves.
std::string RouteLabel(const std::string& method, const std::string& path);

}  // namespace vc::enrichment
