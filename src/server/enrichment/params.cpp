#include "server/enrichment/params.hpp"

#include <algorithm>
#include <cctype>

namespace vc::enrichment {

bool IsJsonContentType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back())))
    type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  return type.size() == kJson.size() &&
         std::equal(type.begin(), type.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::variant<Params, ApiError> Params::From(Pairs query, std::string_view content_type,
                                            std::string_view body) {
  Params p;
  p.query_ = std::move(query);
  p.query_values_.reserve(p.query_.size());
  for (const auto& [name, value] : p.query_) p.query_values_.emplace_back(value);
  const bool blank = std::all_of(
      body.begin(), body.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (blank) return p;
  if (!IsJsonContentType(content_type)) {
    return ApiError{415, "unsupported_media_type",
                    "send the request body as JSON with Content-Type: application/json (got '" +
                        std::string(content_type.substr(0, 80)) + "')"};
  }
  Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return ApiError{400, "invalid_json",
                    "the request body is not valid JSON; send one JSON object with the "
                    "parameters"};
  }
  if (!parsed.is_object()) {
    return ApiError{400, "invalid_json",
                    "the request body must be a JSON object with the parameters"};
  }
  p.body_ = std::move(parsed);
  return p;
}

const Json* Params::Find(const std::string& name) const {
  for (size_t i = 0; i < query_.size(); ++i) {
    if (query_[i].first == name) return &query_values_[i];
  }
  auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace vc::enrichment
