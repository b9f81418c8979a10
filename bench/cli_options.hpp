// The benchmark programs' command lines: every numeric flag has a range and shows its default.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace vc::bench {

// `--name` bound to `value`, refused outside [lo, hi], its default shown in --help.
template <class T, class Bound>
CLI::Option* AddBounded(CLI::App& app, const std::string& name, T& value, const std::string& help,
                        Bound lo, Bound hi) {
  return app.add_option(name, value, help)->check(CLI::Range(lo, hi))->capture_default_str();
}

}  // namespace vc::bench
