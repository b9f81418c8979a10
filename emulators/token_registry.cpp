#include "token_registry.hpp"

#include <fmt/format.h>

#include "core/random.hpp"

namespace vc::emu {

std::string TokenRegistry::Issue(const std::string& audience, std::chrono::seconds lifetime,
                                 TimePoint now) {
  std::lock_guard lock(mu_);
  // Looks like an opaque JWT-ish blob; unique and unguessable is all that matters here.
  std::string token = fmt::format("emu.{}.{}", ++counter_, DefaultRandom().HexToken(24));
  tokens_[token] = Entry{audience, now + lifetime, false};
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
