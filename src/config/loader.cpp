#include <fmt/format.h>

#include "config/sources.hpp"

extern char** environ;  // NOLINT: POSIX

namespace vc::config {

void ApplyDefaults(Collected& out) {
  for (const auto& spec : Schema()) {
    auto value = ValueFromText(spec, spec.default_text);
    if (!value) {
      // Only a broken schema gets here; the tests load the defaults to keep it from shipping.
      out.problems.push_back({std::string(spec.path), "default", value.error().message});
      continue;
    }
    out.settings[std::string(spec.path)] = Setting{std::move(value).value(), "default"};
  }
}

LoadResult LoadConfig(const LoadOptions& options) {
  Collected collected;
  ApplyDefaults(collected);
  if (!collected.problems.empty()) return {std::nullopt, std::move(collected.problems), {}};
  if (!options.file.empty()) ReadTomlFile(options.file, collected);
  ReadEnvironment(options.environment, collected);
  if (!collected.file_unreadable) CheckRules(collected);

  LoadResult result;
  result.problems = std::move(collected.problems);
  result.warnings = std::move(collected.warnings);
  if (result.problems.empty()) {
    Config config;
    for (const auto& spec : Schema()) {
      StoreValue(spec, collected.settings.find(spec.path)->second.value, config);
    }
    result.config = std::move(config);
  }
  return result;
}

std::vector<std::pair<std::string, std::string>> CurrentEnvironment() {
  std::vector<std::pair<std::string, std::string>> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    environment.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  return environment;
}

std::string FormatProblem(const ConfigProblem& problem) {
  if (problem.path.empty()) return fmt::format("{}: {}", problem.source, problem.message);
  return fmt::format("{} ({}): {}", problem.path, problem.source, problem.message);
}

}  // namespace vc::config
