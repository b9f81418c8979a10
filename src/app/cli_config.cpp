// `config print`: the effective configuration as TOML, every key of the schema with the value the
// connector would run with and where that value came from (default, file:line or environment
// variable). Secrets print as "********" when set; their values never leave the process.
#include <fmt/format.h>

#include "app/cli_support.hpp"
#include "config/schema.hpp"
#include "config/sources.hpp"
#include "config/values.hpp"
#include "core/redact.hpp"

namespace vc::app {

inline constexpr std::string_view kMasked = "\"********\"";

int ConfigPrintCommand(const CommandContext& ctx) {
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  // The loader keeps no record of sources; reading the sources again gives the same settings
  // with theirs (the loader merges exactly these, in this order).
  config::Collected collected;
  config::ApplyDefaults(collected);
  if (!ctx.load.file.empty()) config::ReadTomlFile(ctx.load.file, collected);
  config::ReadEnvironment(ctx.load.environment, collected);

  auto& out = ctx.out;
  out << "# vmray-connector effective configuration";
  if (!ctx.load.file.empty()) out << " (file " << ctx.load.file << ", then the environment)";
  out << "\n# Each value is followed by its source; secrets are masked.\n";
  for (const auto& section : config::Sections()) {
    bool header = false;
    for (const auto& spec : config::Schema()) {
      if (config::SectionOf(spec.path) != section) continue;
      if (!header) {
        out << fmt::format("\n[{}]\n", section);
        header = true;
      }
      auto it = collected.settings.find(spec.path);
      const std::string source = it == collected.settings.end() ? "default" : it->second.source;
      std::string value;
      if (spec.type == config::KeyType::kSecret) {
        const auto current = config::LoadValue(spec, *config);
        const auto* text = std::get_if<std::string>(&current);
        value = text && !text->empty() ? std::string(kMasked) : "\"\"";
      } else {
        value = config::ToTomlText(config::LoadValue(spec, *config));
      }
      // Scrub: a secret pasted into a non-secret key (a URL with a key in it) stays hidden too.
      out << Scrub(fmt::format("{} = {}  # {}\n", config::LeafOf(spec.path), value, source));
    }
  }
  return kExitOk;
}

}  // namespace vc::app
