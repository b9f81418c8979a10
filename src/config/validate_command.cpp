#include <fmt/format.h>

#include "config/config.hpp"

namespace vc::config {

int RunValidate(const LoadOptions& options, std::ostream& out) {
  LoadResult result = LoadConfig(options);
  for (const auto& problem : result.problems) out << FormatProblem(problem) << "\n";
  for (const auto& warning : result.warnings) out << "warning: " << warning << "\n";

  std::string from = options.file.empty()
                         ? "defaults and environment"
                         : fmt::format("{}, defaults and environment", options.file);
  auto count = [](size_t n, std::string_view word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  if (result.problems.empty()) {
    out << fmt::format("configuration is valid ({}; {})\n", from,
                       count(result.warnings.size(), "warning"));
    return 0;
  }
  out << fmt::format(
      "configuration is invalid ({}): {}, {}; docs/configuration.md describes every key\n", from,
      count(result.problems.size(), "problem"), count(result.warnings.size(), "warning"));
  return 1;
}

}  // namespace vc::config
