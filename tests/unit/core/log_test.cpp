#include "core/log.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/secret.hpp"

namespace vc {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Log, JsonLinesCarryContextAndNoSecrets) {
  const auto path =
      (std::filesystem::temp_directory_path() / ("vc-log-" + std::to_string(::getpid()) + ".log"))
          .string();
  InitLogging({LogFormat::kJson, "info", path});
  Secret<> key("DO-NOT-LOG-log-key");
  {
    ScopedLogContext ctx(LogFields{{"job", "17"}});
    spdlog::info("calling with key {}", key.Reveal());
  }
  spdlog::default_logger()->flush();
  const std::string text = ReadAll(path);
  EXPECT_EQ(text.find("DO-NOT-LOG"), std::string::npos) << text;
  auto line = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["job"], "17");
  EXPECT_EQ(line["msg"], "calling with key [redacted]");
  InitLogging({});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vc
