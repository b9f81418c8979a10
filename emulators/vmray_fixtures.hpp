// Real VMRay documents (tests/fixtures/real/vmray) compiled into the emulator. They are the
// templates of its responses, so field names, types and order stay those of the real service.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"

namespace vc::emu::vmray {

struct EmbeddedFixture {
  std::string_view file;  // file name under tests/fixtures/real/vmray
  std::string_view text;  // its content, byte for byte
};

const std::vector<EmbeddedFixture>& EmbeddedFixtures();
// The parsed document of one embedded file; throws std::logic_error for an unknown name.
const Json& FixtureJson(std::string_view file);

}  // namespace vc::emu::vmray
