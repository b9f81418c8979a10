// The lookup of the real VMRay documents compiled into the emulator. The documents themselves
// (EmbeddedFixtures) are generated at build time from tests/fixtures/real/vmray/*.json by
// cmake/EmbedFiles.cmake, so there is one copy of each in the source tree.
#include "vmray_fixtures.hpp"

#include <stdexcept>

namespace vc::emu::vmray {

const Json& FixtureJson(std::string_view file) {
  // Parsed on first use and kept: the documents are templates for every response.
  static const std::map<std::string, Json, std::less<>> kParsed = [] {
    std::map<std::string, Json, std::less<>> parsed;
    for (const auto& f : EmbeddedFixtures()) parsed.emplace(f.file, Json::parse(f.text));
    return parsed;
  }();
  auto it = kParsed.find(file);
  if (it == kParsed.end()) throw std::logic_error("no embedded VMRay fixture " + std::string(file));
  return it->second;
}

}  // namespace vc::emu::vmray
