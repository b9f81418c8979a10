#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/edit_distance.hpp"
#include "config/sources.hpp"

namespace vc::config {
namespace {

struct LineProblem {
  uint32_t line;
  ConfigProblem problem;
};

bool IsSection(std::string_view path) {
  const auto& sections = Sections();
  return std::find(sections.begin(), sections.end(), path) != sections.end();
}

std::vector<std::string> KeyPaths() {
  std::vector<std::string> paths;
  for (const auto& spec : Schema()) paths.emplace_back(spec.path);
  return paths;
}

// Close enough to be a typo: one edit for short names, up to three for long ones.
size_t TypoBudget(std::string_view name) {
  return std::clamp<size_t>(LeafOf(name).size() / 3, 1, 3);
}

std::string UnknownMessage(std::string_view path, bool is_table) {
  std::string_view what = is_table ? "section" : "key";
  const std::vector<std::string>& candidates = is_table ? Sections() : KeyPaths();
  if (auto best = Closest(path, candidates, TypoBudget(path))) {
    return fmt::format("unknown {} {}; did you mean {}?", what, path, best->name);
  }
  if (!is_table) {
    // A known key in the wrong section, e.g. page_size under [vmray].
    for (const auto& spec : Schema()) {
      if (LeafOf(spec.path) == LeafOf(path)) {
        return fmt::format("unknown key {}; did you mean {} (in section [{}])?", path, spec.path,
                           SectionOf(spec.path));
      }
    }
  }
  return fmt::format("unknown {} {}; docs/configuration.md lists every valid key", what, path);
}

class TomlWalker {
 public:
  TomlWalker(const std::string& file, Collected& out) : file_(file), out_(out) {}

  void Walk(const toml::table& table, const std::string& prefix) {
    for (const auto& [key, node] : table) {
      std::string path =
          prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      uint32_t line = node.source().begin.line;
      std::string source = fmt::format("{}:{}", file_, line);
      if (const KeySpec* spec = FindKey(path)) {
        auto value = ValueFromToml(*spec, node);
        if (value) {
          out_.settings[path] = Setting{std::move(value).value(), source};
        } else {
          Add(line, path, source, value.error().message);
        }
      } else if (IsSection(path)) {
        if (const toml::table* section = node.as_table()) {
          Walk(*section, path);
        } else {
          Add(line, path, source,
              fmt::format("{} is a section; write it as [{}] followed by its keys", path, path));
        }
      } else {
        Add(line, path, source, UnknownMessage(path, node.is_table()));
      }
    }
  }

  // In file order, which is what a person fixing the file reads top to bottom.
  void Flush() {
    std::stable_sort(found_.begin(), found_.end(),
                     [](const LineProblem& a, const LineProblem& b) { return a.line < b.line; });
    for (auto& entry : found_) out_.problems.push_back(std::move(entry.problem));
  }

 private:
  void Add(uint32_t line, std::string path, std::string source, std::string message) {
    found_.push_back({line, ConfigProblem{std::move(path), std::move(source), std::move(message)}});
  }

  const std::string& file_;
  Collected& out_;
  std::vector<LineProblem> found_;
};

}  // namespace

void ReadTomlFile(const std::string& file, Collected& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.problems.push_back(
        {"", file,
         fmt::format("cannot open the configuration file ({}); check the path or leave the file "
                     "option out to use defaults and the environment only",
                     std::strerror(errno))});
    out.file_unreadable = true;
    return;
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string text = content.str();

  toml::table table;
#if TOML_EXCEPTIONS
  try {
    table = toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    out.problems.push_back({"", fmt::format("{}:{}:{}", file, begin.line, begin.column),
                            fmt::format("not valid TOML (line {}, column {}): {}", begin.line,
                                        begin.column, error.description())});
    out.file_unreadable = true;
    return;
  }
#else
  toml::parse_result result = toml::parse(text, file);
  if (!result) {
    const auto& begin = result.error().source().begin;
    out.problems.push_back({"", fmt::format("{}:{}:{}", file, begin.line, begin.column),
                            fmt::format("not valid TOML (line {}, column {}): {}", begin.line,
                                        begin.column, result.error().description())});
    out.file_unreadable = true;
    return;
  }
  table = std::move(result).table();
#endif
  TomlWalker walker(file, out);
  walker.Walk(table, "");
  walker.Flush();
}

}  // namespace vc::config
