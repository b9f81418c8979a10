#include "token_registry.hpp"

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/random.hpp"

namespace vc::emu {
namespace {

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string HexToBytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string text = Base64Encode(data);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::string TokenRegistry::Issue(const std::string& audience, std::chrono::seconds lifetime,
                                 TimePoint now, const Json& claims) {
  std::lock_guard lock(mu_);
  Json payload = claims.is_object() ? claims : Json::object();
  payload["aud"] = audience;
  payload["iat"] = UnixSeconds(now);
  payload["nbf"] = UnixSeconds(now);
  payload["exp"] = UnixSeconds(now + lifetime);
  // Entra's unique token identifier; it also keeps two tokens issued in the same second apart.
  payload["uti"] = fmt::format("{}-{}", ++counter_, DefaultRandom().HexToken(8));
  const Json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"kid", "vc-emulator"}};
  std::string token = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump()) + "." +
                      Base64UrlEncode(HexToBytes(DefaultRandom().HexToken(32)));
  tokens_[token] = Entry{audience, now + lifetime, false, std::move(payload)};
  return token;
}

TokenRegistry::Check TokenRegistry::Validate(const std::string& token,
                                             const std::vector<std::string>& audiences,
                                             TimePoint now) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return Check::kUnknown;
  if (it->second.revoked || now >= it->second.expires) return Check::kExpired;
  for (const auto& a : audiences) {
    if (a == it->second.audience) return Check::kValid;
  }
  return Check::kWrongAudience;
}

std::optional<Json> TokenRegistry::ClaimsOf(const std::string& token) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second.claims;
}

std::vector<std::string> TokenRegistry::RolesOf(const std::string& token) const {
  auto claims = ClaimsOf(token);
  std::vector<std::string> roles;
  if (!claims || !claims->contains("roles") || !(*claims)["roles"].is_array()) return roles;
  for (const auto& r : (*claims)["roles"]) {
    if (r.is_string()) roles.push_back(r.get<std::string>());
  }
  return roles;
}

void TokenRegistry::ExpireAll() {
  std::lock_guard lock(mu_);
  for (auto& [_, e] : tokens_) e.revoked = true;
}

size_t TokenRegistry::issued() const {
  std::lock_guard lock(mu_);
  return tokens_.size();
}

std::string BearerToken(const std::string& h) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (h.size() <= kPrefix.size() || h.compare(0, kPrefix.size(), kPrefix) != 0) return {};
  return h.substr(kPrefix.size());
}

}  // namespace vc::emu
