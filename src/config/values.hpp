// Turning raw input (environment text, TOML nodes, schema defaults) into checked values of one
// key. Error messages name the bad value and what is accepted, except for secrets, whose value
// is never repeated.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/schema.hpp"
#include "core/result.hpp"

namespace vc::config {

// string (also secret, enum, url), bool, int, list.
using Value = std::variant<std::string, bool, int64_t, std::vector<std::string>>;

// Text as written in an environment variable (and in the schema's defaults).
Result<Value> ValueFromText(const KeySpec& spec, std::string_view text);
// A value found in the TOML file.
Result<Value> ValueFromToml(const KeySpec& spec, const toml::node& node);

// What the key accepts, for messages and docs: "an integer from 0 to 10", "one of: text, json".
std::string AcceptedValues(const KeySpec& spec);
// The value written as TOML, for the docs and the example file.
std::string ToTomlText(const Value& value);
// A basic TOML string literal with escapes.
std::string QuoteToml(std::string_view text);

// Building blocks, exposed for tests.
// true/false/1/0/yes/no in any letter case.
std::optional<bool> ParseBool(std::string_view text);
// A decimal integer with optional sign; blanks around it are ignored.
std::optional<int64_t> ParseInt(std::string_view text);
// Comma-separated text (blanks trimmed, empty items dropped) or a JSON array of strings.
Result<std::vector<std::string>> ParseList(std::string_view text);
// The canonical spelling of `text` among `values`, compared case-insensitively.
std::optional<std::string> MatchEnum(const std::vector<std::string_view>& values,
                                     std::string_view text);
// The URL without trailing slashes, or why it is refused.
Result<std::string> CheckUrl(std::string_view url);
bool IsLoopbackHost(std::string_view host);

std::string_view Trim(std::string_view text);
bool IEquals(std::string_view a, std::string_view b);
std::string ToLower(std::string_view text);
std::string ToUpper(std::string_view text);

}  // namespace vc::config
