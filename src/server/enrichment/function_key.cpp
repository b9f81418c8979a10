#include "server/enrichment/function_key.hpp"

#include <openssl/crypto.h>

#include "core/hash.hpp"

namespace vc::enrichment {

bool FunctionKeyMatches(std::string_view presented, const Secret<>& key) {
  if (presented.empty() || key.empty()) return false;
  const std::string a = Sha256Hex(presented);
  const std::string b = Sha256Hex(key.Reveal());
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vc::enrichment
