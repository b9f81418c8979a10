// Entra ID client-credentials tokens, one cache per app registration, keyed by resource.
// Tokens are refreshed ahead of expiry and fetched once when many workers ask at the same time.
// A 401 replaces exactly the rejected token: when many workers hit 401 with the same token, the
// first refreshes it and the others get the new one without another fetch.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "http/pipeline.hpp"
#include "http/policies.hpp"

namespace vc::auth {

struct EntraOptions {
  std::string authority_host = "https://login.microsoftonline.com";  // sovereign clouds differ
  std::string tenant_id;
  std::string client_id;
  Secret<> client_secret;
  std::string token_version = "v2";  // "v1": resource=..., "v2": scope=<resource>/.default
};

class EntraTokenCache {
 public:
  // `pipeline` must not carry an auth policy (it is the one fetching tokens).
  EntraTokenCache(EntraOptions options, std::shared_ptr<http::Pipeline> pipeline, Clock& clock);

  // The cached token for `resource`, fetched when missing or within 5 minutes of expiry.
  Result<std::string> Token(const std::string& resource);
  // A new token after a service rejected `rejected`; if the cache already holds a different
  // (newer) token, another caller refreshed it and that one is returned without a fetch.
  Result<std::string> Refresh(const std::string& resource, const std::string& rejected);

 private:
  struct Entry {
    std::mutex mu;  // held while fetching: one fetch per resource at a time
    std::string token;
    TimePoint expires_at;
    TimePoint fetched_at;
  };
  Entry& EntryFor(const std::string& resource);
  Result<std::string> Fetch(const std::string& resource, Entry& entry, const char* reason);

  EntraOptions options_;
  std::shared_ptr<http::Pipeline> pipeline_;
  Clock& clock_;
  std::mutex map_mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

// "Bearer <token>" for one resource.
class EntraCredential final : public http::Credential {
 public:
  EntraCredential(std::shared_ptr<EntraTokenCache> cache, std::string resource)
      : cache_(std::move(cache)), resource_(std::move(resource)) {}
  Result<std::string> AuthorizationHeader() override;
  Result<std::string> AfterRejection(const std::string& rejected) override;
  bool CanRefresh() const override { return true; }

 private:
  std::shared_ptr<EntraTokenCache> cache_;
  std::string resource_;
};

// VMRay: "Authorization: api_key <key>". A 401 cannot be cured by asking again.
class ApiKeyCredential final : public http::Credential {
 public:
  explicit ApiKeyCredential(Secret<> key) : key_(std::move(key)) {}
  Result<std::string> AuthorizationHeader() override { return "api_key " + key_.Reveal(); }
  Result<std::string> AfterRejection(const std::string&) override { return AuthorizationHeader(); }
  bool CanRefresh() const override { return false; }

 private:
  Secret<> key_;
};

}  // namespace vc::auth
