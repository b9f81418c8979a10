// Facts of the Sentinel management REST API (api-reference.md 3.5) the emulator checks requests
// against, kept apart from the routes so its tests can name them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vc::emu::sentinel_mgmt {

// The stable api-versions seen in azure-rest-api-specs for incidents, comments and entities.
// Previews are refused: the connector pins a stable version.
const std::vector<std::string>& StableApiVersions();
// Entity kinds the service reports (specs examples folder).
const std::vector<std::string>& EntityKinds();
// A comment message may hold at most this many characters.
inline constexpr size_t kMaxCommentCharacters = 30000;
// Characters (Unicode code points) of UTF-8 text; a byte count would refuse short non-ASCII
// messages the service accepts.
size_t CharacterCount(std::string_view utf8);
// The provider path every management route starts with, after the workspace.
inline constexpr std::string_view kProvider = "providers/Microsoft.SecurityInsights";

}  // namespace vc::emu::sentinel_mgmt
