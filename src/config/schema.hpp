// The table of every configuration key. Loading, validation, the generated docs and the example
// file read this table only, so a key added here is loaded, checked and documented everywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace vc::config {

enum class KeyType {
  kString,
  kSecret,  // a string that is never printed
  kBool,
  kInt,   // with an inclusive range [min, max]
  kEnum,  // one of `values`, matched case-insensitively, stored in canonical spelling
  kStringList,
  kEnumList,  // each element one of `values`
  kUrl,       // http(s) with a host; plain http only for loopback hosts
};

// Where one key lives in Config.
using FieldRef =
    std::variant<std::string*, Secret<>*, bool*, int*, int64_t*, std::vector<std::string>*>;

struct KeySpec {
  std::string_view path;  // TOML path, also the Config member path
  FieldRef (*bind)(Config&);
  KeyType type;
  // As it would be written in an environment variable; parsed by the same rules, so a default
  // that breaks its own range or enum is caught by the tests.
  std::string_view default_text;
  std::string_view description;         // one line
  std::string_view original_name = {};  // app setting of the original Azure solution, if any
  // The same setting as the original Enrichment Function App spells it (vmrayBaseURL where the
  // feed and the Defender connector say VmrayBaseURL), so its app settings carry over as well.
  std::string_view enrichment_name = {};
  int64_t min = 0;
  int64_t max = 0;
  std::vector<std::string_view> values = {};
  std::string_view required_when = {};  // a bool key; when it is true this key must be set
};

// Every key, in the order of the docs.
const std::vector<KeySpec>& Schema();
const KeySpec* FindKey(std::string_view path);

// "VMRAY_CONNECTOR_" + path upper-cased, '.' -> '_'.
std::string SystematicEnvName(std::string_view path);
inline constexpr std::string_view kEnvPrefix = "VMRAY_CONNECTOR_";
// Names the TOML file (read by the command line, not a key of the file itself).
inline constexpr std::string_view kConfigFileEnv = "VMRAY_CONNECTOR_CONFIG";

// "defender.live_response" for "defender.live_response.poll_interval_seconds".
std::string_view SectionOf(std::string_view path);
std::string_view LeafOf(std::string_view path);
// Every TOML table that holds keys, in schema order, including parents ("defender" before
// "defender.live_response").
const std::vector<std::string>& Sections();

std::string_view TypeName(KeyType type);
bool IsListType(KeyType type);

// Original app settings that this build recognises but does not implement: setting one gives a
// warning, not a problem, so a carried-over Azure configuration still starts.
struct UnsupportedSetting {
  std::string_view name;
  std::string_view note;  // why it is ignored or what replaces it
};
const std::vector<UnsupportedSetting>& UnsupportedSettings();

}  // namespace vc::config
