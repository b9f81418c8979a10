#include "app/jwt_claims.hpp"

#include "core/base64.hpp"

namespace vc::app {

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '-') {
      standard.push_back('+');
    } else if (c == '_') {
      standard.push_back('/');
    } else if (c == '+' || c == '/') {
      return std::nullopt;  // the standard alphabet is not base64url
    } else {
      standard.push_back(c);
    }
  }
  while (!standard.empty() && standard.back() == '=') standard.pop_back();
  if (standard.size() % 4 == 1) return std::nullopt;
  while (standard.size() % 4 != 0) standard.push_back('=');
  return Base64Decode(standard);
}

Result<Json> JwtPayload(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return MakeError(ErrorCode::kProtocol,
                     "the access token is not a JWT (three base64url parts joined by '.')");
  }
  auto bytes = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!bytes) {
    return MakeError(ErrorCode::kProtocol, "the access token's payload is not base64url");
  }
  auto payload = ParseJson(*bytes, "access token payload");
  if (!payload) return payload.error();
  if (!payload->is_object()) {
    return MakeError(ErrorCode::kProtocol, "the access token's payload is not a JSON object");
  }
  return payload;
}

std::vector<std::string> RolesClaim(const Json& payload) {
  std::vector<std::string> roles;
  auto it = payload.find("roles");
  if (it == payload.end() || !it->is_array()) return roles;
  for (const auto& r : *it) {
    if (r.is_string()) roles.push_back(r.get<std::string>());
  }
  return roles;
}

}  // namespace vc::app
