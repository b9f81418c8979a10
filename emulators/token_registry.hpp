// Access tokens issued by the Entra emulator and checked by the service emulators (MDE,
// Sentinel, Graph). Shared so a test can expire every token at once and watch the connector
// refresh exactly once.
//
// Tokens are shaped like Entra's: a JWT (base64url header, payload and signature joined by '.')
// whose payload carries the claims a client may read (aud, tid, appid, roles, iat, nbf, exp).
// The signature is random bytes: this registry, not the token text, decides what is valid, so a
// token whose payload was edited is unknown here.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"

namespace vc::emu {

class TokenRegistry {
 public:
  enum class Check { kValid, kUnknown, kExpired, kWrongAudience };

  // `claims` go into the payload as given; aud, iat, nbf, exp and a unique token id (uti) are
  // set here and win over the same keys in `claims`.
  std::string Issue(const std::string& audience, std::chrono::seconds lifetime, TimePoint now,
                    const Json& claims = Json::object());
  Check Validate(const std::string& token, const std::vector<std::string>& audiences,
                 TimePoint now) const;
  // The payload of a token this registry issued (nullopt for any other text).
  std::optional<Json> ClaimsOf(const std::string& token) const;
  // The token's `roles` claim: the application permissions granted to the app for the token's
  // resource. Empty for an unknown token or one without roles.
  std::vector<std::string> RolesOf(const std::string& token) const;
  // Every token issued so far is treated as expired from now on.
  void ExpireAll();
  size_t issued() const;

 private:
  struct Entry {
    std::string audience;
    TimePoint expires;
    bool revoked = false;
    Json claims;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> tokens_;
  uint64_t counter_ = 0;
};

// Parses "Bearer <token>"; empty when the header has another form.
std::string BearerToken(const std::string& authorization_header);

// Unpadded base64url (RFC 4648 section 5), the encoding of JWT parts.
std::string Base64UrlEncode(std::string_view data);

}  // namespace vc::emu
