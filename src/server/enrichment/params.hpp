// The parameters of one enrichment request. As in the original function app, each parameter is
// read from the query string first and from the JSON body second. The body, when there is one,
// must be a JSON object sent as application/json; anything else is refused before any VMRay call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/json.hpp"
#include "server/enrichment/api_error.hpp"

namespace vc::enrichment {

class Params {
 public:
  using Pairs = std::vector<std::pair<std::string, std::string>>;

  // `query`: decoded query pairs (path parameters of the versioned API are added here too).
  static std::variant<Params, ApiError> From(Pairs query, std::string_view content_type,
                                             std::string_view body);

  // The query value as a JSON string, else the body's value; nullptr when neither has it. A
  // JSON null counts as absent.
  const Json* Find(const std::string& name) const;

 private:
  Pairs query_;
  Json body_ = Json::object();
  std::vector<Json> query_values_;  // Find hands out pointers into this
};

// True for "application/json" with or without parameters (charset), in any letter case.
bool IsJsonContentType(std::string_view content_type);

}  // namespace vc::enrichment
