// Helpers for the configuration tests: temporary TOML files, environment snapshots and problem
// lookups.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace vc::config::test_util {

using Env = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kSecretMarker = "DO-NOT-LOG";
inline constexpr const char* kClientSecret = "DO-NOT-LOG-client-secret-7d1f";
inline constexpr const char* kApiKey = "DO-NOT-LOG-api-key-93ab";

// A file removed when the test ends; unique per process, as tests run in parallel.
class TempFile {
 public:
  explicit TempFile(const std::string& content, const std::string& suffix = ".toml") {
    static std::atomic<int> counter{0};
    path_ =
        (std::filesystem::temp_directory_path() / ("vc_config_test_" + std::to_string(::getpid()) +
                                                   "_" + std::to_string(counter++) + suffix))
            .string();
    std::ofstream out(path_, std::ios::binary);
    out << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The settings that defender.enabled (the default) requires, via their original names.
inline Env RequiredEnv() {
  return {{"AzureTenantID", "11111111-2222-3333-4444-555555555555"},
          {"AzureClientID", "66666666-7777-8888-9999-000000000000"},
          {"AzureClientSecret", kClientSecret},
          {"VmrayBaseURL", "https://eu.cloud.vmray.com"},
          {"VmrayAPIKey", kApiKey}};
}

inline Env With(Env env, std::vector<std::pair<std::string, std::string>> more) {
  for (auto& entry : more) env.push_back(std::move(entry));
  return env;
}

inline LoadResult LoadToml(const std::string& toml, const Env& env = RequiredEnv()) {
  TempFile file(toml);
  return LoadConfig({file.path(), env});
}

inline LoadResult LoadEnv(const Env& env) {
  return LoadConfig({"", env});
}

inline std::string Dump(const LoadResult& result) {
  std::string text;
  for (const auto& problem : result.problems) text += "problem: " + FormatProblem(problem) + "\n";
  for (const auto& warning : result.warnings) text += "warning: " + warning + "\n";
  return text;
}

inline const ConfigProblem* FindProblem(const LoadResult& result, const std::string& path) {
  for (const auto& problem : result.problems) {
    if (problem.path == path) return &problem;
  }
  return nullptr;
}

}  // namespace vc::config::test_util
