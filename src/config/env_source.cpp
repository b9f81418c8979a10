#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "config/edit_distance.hpp"
#include "config/sources.hpp"

namespace vc::config {
namespace {

// Names within this many edits of an original setting are taken for typos of it.
constexpr size_t kMaxTypo = 2;

using EnvMap = std::map<std::string, std::string, std::less<>>;

// An empty variable counts as unset, as an empty app setting did in the Azure Functions.
std::optional<std::string> Lookup(const EnvMap& env, std::string_view name) {
  if (name.empty()) return std::nullopt;
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

const UnsupportedSetting* FindUnsupported(std::string_view name) {
  for (const auto& setting : UnsupportedSettings()) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

std::string UnsupportedWarning(const UnsupportedSetting& setting) {
  return fmt::format(
      "env {0}: {0} is an original app setting that this build recognises but does not support "
      "yet; it is ignored ({1})",
      setting.name, setting.note);
}

// What a near-miss variable was probably meant to be.
struct Intended {
  std::string name;
  // A supported key, or an unsupported original setting, or neither for kConfigFileEnv.
  const KeySpec* spec = nullptr;
  const UnsupportedSetting* unsupported = nullptr;  // an original setting not supported yet
  bool case_only = false;
};

std::optional<Intended> FindIntended(std::string_view name) {
  // Wrong letter case of a known name, e.g. VmrayApiMaxRetry for VmrayAPIMaxRetry.
  for (const auto& spec : Schema()) {
    std::string systematic = SystematicEnvName(spec.path);
    if (IEquals(name, systematic)) return Intended{systematic, &spec, nullptr, true};
    if (!spec.original_name.empty() && IEquals(name, spec.original_name)) {
      return Intended{std::string(spec.original_name), &spec, nullptr, true};
    }
  }
  if (IEquals(name, kConfigFileEnv))
    return Intended{std::string(kConfigFileEnv), nullptr, nullptr, true};
  for (const auto& setting : UnsupportedSettings()) {
    if (IEquals(name, setting.name))
      return Intended{std::string(setting.name), nullptr, &setting, true};
  }

  // Typos. Only like is compared with like, so that common variables such as AZURE_CLIENT_ID
  // or HOME are never taken for a misspelt setting.
  std::string lower = ToLower(name);
  std::optional<Intended> best;
  size_t best_distance = kMaxTypo + 1;
  auto consider = [&](std::string_view candidate, const KeySpec* spec,
                      const UnsupportedSetting* unsupported) {
    size_t distance = EditDistance(lower, ToLower(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = Intended{std::string(candidate), spec, unsupported, false};
    }
  };
  if (name.find('_') == std::string_view::npos) {
    for (const auto& spec : Schema()) {
      if (!spec.original_name.empty()) consider(spec.original_name, &spec, nullptr);
    }
    for (const auto& setting : UnsupportedSettings()) consider(setting.name, nullptr, &setting);
  } else if (ToUpper(name).starts_with(kEnvPrefix)) {
    for (const auto& spec : Schema()) consider(SystematicEnvName(spec.path), &spec, nullptr);
    consider(kConfigFileEnv, nullptr, nullptr);
  }
  return best;
}

void ReportNearMiss(std::string_view name, Collected& out) {
  auto intended = FindIntended(name);
  if (!intended) {
    if (ToUpper(name).starts_with(kEnvPrefix)) {
      out.warnings.push_back(
          fmt::format("env {}: not a known setting and ignored; docs/configuration.md lists every "
                      "VMRAY_CONNECTOR_ variable",
                      name));
    }
    return;
  }
  std::string why =
      intended->case_only
          ? fmt::format("{} is not read because environment variable names are case-sensitive",
                        name)
          : fmt::format("{} is not a known setting", name);
  if (intended->unsupported == nullptr) {
    std::string path = intended->spec != nullptr ? std::string(intended->spec->path) : "";
    out.problems.push_back({std::move(path), fmt::format("env {}", name),
                            fmt::format("{}; did you mean {}?", why, intended->name)});
  } else {
    out.warnings.push_back(fmt::format(
        "env {}: {}; it looks like {}, an original app setting that this build recognises but "
        "does not support yet, so it is ignored ({})",
        name, why, intended->name, intended->unsupported->note));
  }
}

}  // namespace

void ReadEnvironment(const std::vector<std::pair<std::string, std::string>>& environment,
                     Collected& out) {
  EnvMap env;
  for (const auto& [name, value] : environment) env[name] = value;

  std::set<std::string, std::less<>> known = {std::string(kConfigFileEnv)};
  for (const auto& spec : Schema()) {
    std::string systematic = SystematicEnvName(spec.path);
    known.insert(systematic);
    if (!spec.original_name.empty()) known.emplace(spec.original_name);
    if (!spec.enrichment_name.empty()) known.emplace(spec.enrichment_name);

    // Every name this key may be given by that is set, in order of precedence.
    std::vector<std::pair<std::string, std::string>> given;
    for (std::string_view candidate :
         {std::string_view(systematic), spec.original_name, spec.enrichment_name}) {
      if (auto v = Lookup(env, candidate)) given.emplace_back(std::string(candidate), *v);
    }
    if (given.empty()) continue;
    bool conflict = false;
    for (const auto& other : given) conflict = conflict || other.second != given.front().second;
    if (conflict) {
      // Values not shown: either may be a secret, and the names say enough.
      std::string names;
      for (const auto& [n, v] : given) names += (names.empty() ? "" : " and ") + ("env " + n);
      std::string choices;
      for (const auto& [n, v] : given) choices += (choices.empty() ? "" : " or ") + n;
      out.problems.push_back(
          {std::string(spec.path), names,
           fmt::format("set only one of {}; they hold different values", choices)});
      continue;
    }
    const auto& [name, text] = given.front();
    auto value = ValueFromText(spec, text);
    if (!value) {
      out.problems.push_back(
          {std::string(spec.path), fmt::format("env {}", name), value.error().message});
      continue;
    }
    out.settings[std::string(spec.path)] = Setting{std::move(value).value(), "env " + name};
  }

  for (const auto& [name, value] : env) {
    // Empty variables are unset, whatever their name.
    if (known.count(name) > 0 || value.empty()) continue;
    if (const UnsupportedSetting* setting = FindUnsupported(name)) {
      out.warnings.push_back(UnsupportedWarning(*setting));
      continue;
    }
    ReportNearMiss(name, out);
  }
}

}  // namespace vc::config
