// The sources a configuration is read from, each adding to one Collected set. Later sources
// overwrite earlier ones key by key: defaults < TOML file < environment.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/values.hpp"

namespace vc::config {

struct Setting {
  Value value;
  std::string source;  // "default", "<file>:<line>", "env <NAME>"
};

struct Collected {
  std::map<std::string, Setting, std::less<>> settings;  // by TOML path; every key has one
  std::vector<ConfigProblem> problems;
  std::vector<std::string> warnings;
  // The file could not be read or parsed: the merged settings miss whatever it held, so rules
  // across keys would report keys as missing that may well be in the file.
  bool file_unreadable = false;
};

void ApplyDefaults(Collected& out);
// Reads and checks one TOML file: syntax, unknown keys and sections, types and ranges.
void ReadTomlFile(const std::string& file, Collected& out);
// Reads the systematic and original names of every key, and reports near misses and original
// settings this build does not support.
void ReadEnvironment(const std::vector<std::pair<std::string, std::string>>& environment,
                     Collected& out);
// Rules that involve more than one key, applied to the merged settings. Skipped when the file
// could not be read.
void CheckRules(Collected& out);

// Moves a checked value into its place in Config, and back.
void StoreValue(const KeySpec& spec, const Value& value, Config& config);
Value LoadValue(const KeySpec& spec, Config& config);

}  // namespace vc::config
