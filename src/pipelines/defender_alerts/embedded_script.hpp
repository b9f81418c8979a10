// Generated-file interface: the Live Response script compiled in by cmake/EmbedFiles.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace vc::defender {

struct EmbeddedFixture {
  std::string_view file;
  std::string_view text;
};

const std::vector<EmbeddedFixture>& EmbeddedScripts();

}  // namespace vc::defender
