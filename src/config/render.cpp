#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

#include "config/sources.hpp"

namespace vc::config {
namespace {

constexpr size_t kWidth = 100;

std::vector<const KeySpec*> KeysOf(std::string_view section) {
  std::vector<const KeySpec*> keys;
  for (const auto& spec : Schema()) {
    if (SectionOf(spec.path) == section) keys.push_back(&spec);
  }
  return keys;
}

std::string DefaultToml(const KeySpec& spec) {
  // The schema tests guarantee every default parses.
  return ToTomlText(ValueFromText(spec, spec.default_text).value());
}

std::string EnvNames(const KeySpec& spec, std::string_view quote) {
  std::string names = fmt::format("{0}{1}{0}", quote, SystematicEnvName(spec.path));
  if (!spec.original_name.empty()) {
    names += fmt::format(" or {0}{1}{0}", quote, spec.original_name);
  }
  if (!spec.enrichment_name.empty()) {
    names += fmt::format(" or {0}{1}{0}", quote, spec.enrichment_name);
  }
  return names;
}

// Writes `text` as '#' comment lines no wider than kWidth.
void Comment(std::ostream& out, std::string_view text) {
  std::string line = "#";
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (line.size() + 1 + word.size() > kWidth && line != "#") {
      out << line << "\n";
      line = "#";
    }
    line += " " + word;
  }
  out << line << "\n";
}

std::string Markdown(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string CodeList(const std::vector<std::string_view>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("`{}`", values[i]);
  }
  return out;
}

std::string DocType(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kInt:
      return fmt::format("int, from {} to {}", spec.min, spec.max);
    case KeyType::kEnum:
      return fmt::format("enum, one of {} (any letter case)", CodeList(spec.values));
    case KeyType::kEnumList:
      return fmt::format("list of enum, at least one of {} (any letter case)",
                         CodeList(spec.values));
    case KeyType::kUrl:
      return "url, `https://` (`http://` only for 127.0.0.1, ::1 or localhost)";
    case KeyType::kSecret:
      return "secret (string, never printed)";
    default:
      return std::string(TypeName(spec.type));
  }
}

std::string CommentType(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kInt:
      return fmt::format("Integer from {} to {}.", spec.min, spec.max);
    case KeyType::kEnum:
      return fmt::format("One of {}.", fmt::join(spec.values, " | "));
    case KeyType::kEnumList:
      return fmt::format("List of: {}.", fmt::join(spec.values, " | "));
    case KeyType::kStringList:
      return "List of strings.";
    case KeyType::kUrl:
      return "URL, https:// (http:// only for loopback hosts).";
    case KeyType::kBool:
      return "true or false.";
    case KeyType::kSecret:
      return "Secret string.";
    default:
      return "String.";
  }
}

void MarkdownIntro(std::ostream& out) {
  out << R"(# Configuration

<!-- Generated from src/config/schema.cpp by vc::config::RenderConfigMarkdown; do not edit by hand.
     Regenerate with: VC_UPDATE_GOLDEN=1 ctest -R ConfigGolden -->

vmray-connector reads its settings from three sources. A later source overrides an earlier one,
key by key:

1. the defaults listed below;
2. a TOML file, named with `--config` or the environment variable `VMRAY_CONNECTOR_CONFIG`
   (`deploy/vmray-connector.example.toml` lists every key with its default);
3. environment variables.

Every key has a systematic environment variable: `VMRAY_CONNECTOR_` followed by the TOML path in
upper case, with `.` replaced by `_` (`vmray.api_max_retry` is `VMRAY_CONNECTOR_VMRAY_API_MAX_RETRY`).
Keys that existed in the original Azure solutions also accept their original app-setting name
(`VmrayAPIMaxRetry`), so the app settings of an Azure deployment can be carried over as they are.
Names are matched exactly: Linux environment names are case-sensitive. Setting both names of one
key to different values is an error. An empty environment variable counts as unset, as an empty
app setting did in Azure.

`vmray-connector validate` loads the configuration, lists every problem and warning, and exits
with 1 when there is a problem. The service does the same check at start and never starts with a
partly valid configuration.

## Secrets

`azure.client_secret`, `vmray.api_key`, `storage.connection_string` and `storage.account_key`
are secrets. Their values are never written to logs, error messages, the status page or the
store, and a problem with a secret never repeats its value. Prefer the environment
(`AzureClientSecret`, `VmrayAPIKey`, `AzureStorageConnectionString`, `AzureStorageAccountKey` or
their `VMRAY_CONNECTOR_` names) to the file; if they are in the file, make it readable by the
service account only.

## Value syntax

- **bool**: `true` or `false` in TOML; in the environment also `True`/`False`, `1`/`0`,
  `yes`/`no` (any letter case).
- **int**: a whole number inside the range given for the key.
- **enum**: one of the listed values in any letter case; it is stored in the listed spelling.
- **list**: a TOML array of strings. In the environment either comma-separated text (blanks
  around items are trimmed, empty items dropped) or a JSON array as in the Logic App parameters
  (`["New","InProgress"]`).
- **url**: `https://` with a host; trailing `/` are removed. Plain `http://` is accepted only for
  loopback hosts (127.0.0.1, ::1, localhost), because API keys and tokens would otherwise travel
  in clear text. No `user:password@`, query or fragment.

## Strictness

- An unknown key or section in the TOML file is an error naming its full path and the closest
  valid key (`unknown key defender.poll_intervall_seconds; did you mean
  defender.poll_interval_seconds?`).
- An environment variable that differs from a known name only in letter case
  (`VmrayApiMaxRetry` for `VmrayAPIMaxRetry`), or a CamelCase name within two typing errors of an
  original app setting, or a `VMRAY_CONNECTOR_` name within two typing errors of a systematic
  name, is an error naming the intended variable. Any other unknown `VMRAY_CONNECTOR_` variable
  gives a warning. Other variables (`AZURE_CLIENT_ID`, `HOME`, ...) are never looked at.
- Wrong types, numbers out of range and unknown enum values are errors naming the key, where
  the value came from (file and line, or variable), the value (except for secrets) and what is
  accepted.
- Every problem is reported at once, not only the first.

)";
}

void MarkdownUnsupported(std::ostream& out) {
  out << "## Original settings not supported yet\n\n"
         "These app settings of the original Azure solutions are recognised. Setting one gives a "
         "warning and is\notherwise ignored, so a carried-over configuration still starts.\n\n"
         "| App setting | Why it is ignored |\n|---|---|\n";
  for (const auto& setting : UnsupportedSettings()) {
    out << fmt::format("| `{}` | {} |\n", setting.name, Markdown(setting.note));
  }
  out << "\n";
}

void MarkdownKey(std::ostream& out, const KeySpec& spec) {
  out << fmt::format("### `{}`\n\n{}\n\n", spec.path, Markdown(spec.description));
  out << fmt::format("- Environment: {}\n", EnvNames(spec, "`"));
  out << fmt::format("- Type: {}\n", DocType(spec));
  out << fmt::format("- Default: `{}`\n", DefaultToml(spec));
  if (!spec.required_when.empty()) {
    out << fmt::format("- Required when `{}` is true\n", spec.required_when);
  }
  out << "\n";
}

}  // namespace

std::string RenderConfigMarkdown() {
  std::ostringstream out;
  MarkdownIntro(out);
  MarkdownUnsupported(out);
  for (const auto& section : Sections()) {
    auto keys = KeysOf(section);
    if (keys.empty()) continue;
    out << fmt::format("## [{}]\n\n", section);
    for (const KeySpec* spec : keys) MarkdownKey(out, *spec);
  }
  std::string text = out.str();
  while (text.size() >= 2 && text.substr(text.size() - 2) == "\n\n") text.pop_back();
  return text;
}

std::string RenderExampleToml() {
  std::ostringstream out;
  out << "# vmray-connector configuration: every key with its default value.\n"
         "# Generated from src/config/schema.cpp by vc::config::RenderExampleToml; "
         "docs/configuration.md\n"
         "# explains every key. Environment variables override this file: VMRAY_CONNECTOR_ + "
         "the key path in\n"
         "# upper case with '.' as '_', or the original Azure app-setting name where one "
         "exists.\n"
         "# Keep secrets (azure.client_secret, vmray.api_key, storage.*) in the environment "
         "rather than here.\n";
  for (const auto& section : Sections()) {
    auto keys = KeysOf(section);
    if (keys.empty()) continue;
    out << fmt::format("\n[{}]\n", section);
    for (const KeySpec* spec : keys) {
      out << "\n";
      Comment(out, spec->description);
      std::string details = CommentType(*spec);
      if (!spec->required_when.empty()) {
        details += fmt::format(" Required when {} is true.", spec->required_when);
      }
      if (spec->type == KeyType::kSecret) {
        details +=
            fmt::format(" Leave it empty here and set {} in the environment.", EnvNames(*spec, ""));
      } else {
        details += fmt::format(" Env: {}.", EnvNames(*spec, ""));
      }
      Comment(out, details);
      std::string value = spec->type == KeyType::kSecret ? "\"\"" : DefaultToml(*spec);
      out << fmt::format("{} = {}\n", LeafOf(spec->path), value);
    }
  }
  return out.str();
}

}  // namespace vc::config
