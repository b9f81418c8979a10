// Access tokens issued by the Entra emulator and checked by the service emulators (MDE,
// Sentinel, Graph). Shared so a test can expire every token at once and watch the connector
// refresh exactly once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace vc::emu {

class TokenRegistry {
 public:
  enum class Check { kValid, kUnknown, kExpired, kWrongAudience };

  std::string Issue(const std::string& audience, std::chrono::seconds lifetime, TimePoint now);
  Check Validate(const std::string& token, const std::vector<std::string>& audiences,
                 TimePoint now) const;
  // Every token issued so far is treated as expired from now on.
  void ExpireAll();
  size_t issued() const;

 private:
  struct Entry {
    std::string audience;
    TimePoint expires;
    bool revoked = false;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> tokens_;
  uint64_t counter_ = 0;
};

// Parses "Bearer <token>"; empty when the header has another form.
std::string BearerToken(const std::string& authorization_header);

}  // namespace vc::emu
