// The committed docs/configuration.md and deploy/vmray-connector.example.toml are generated from
// the schema. Run with VC_UPDATE_GOLDEN=1 to rewrite them after changing the schema.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/schema.hpp"
#include "config/sources.hpp"
#include "config_test_util.hpp"

namespace vc::config {
namespace {

using test_util::Dump;
using test_util::RequiredEnv;
using test_util::TempFile;
using ::testing::HasSubstr;

bool UpdateRequested() {
  const char* flag = std::getenv("VC_UPDATE_GOLDEN");
  return flag != nullptr && std::string(flag) == "1";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void CheckGolden(const std::string& relative, const std::string& generated) {
  std::filesystem::path path = std::filesystem::path(VC_SOURCE_DIR) / relative;
  if (UpdateRequested()) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << generated;
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << relative << " is missing; create it with VC_UPDATE_GOLDEN=1 ctest -R ConfigGolden";
  EXPECT_TRUE(ReadFile(path) == generated)
      << relative << " is out of date with src/config/schema.cpp; regenerate it with "
      << "VC_UPDATE_GOLDEN=1 ctest -R ConfigGolden and commit the result";
}

TEST(ConfigGolden, DocsMatchTheSchema) {
  CheckGolden("docs/configuration.md", RenderConfigMarkdown());
}

TEST(ConfigGolden, ExampleFileMatchesTheSchema) {
  CheckGolden("deploy/vmray-connector.example.toml", RenderExampleToml());
}

// The generated text, not the committed file, so that these tests do not race a parallel
// VC_UPDATE_GOLDEN run; the golden tests above tie the two together.
TEST(ConfigGolden, ExampleFileLoadsWithoutProblems) {
  TempFile example(RenderExampleToml());
  auto result = LoadConfig({example.path(), RequiredEnv()});
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
  // The example holds every default, so it must give the same result as no file at all.
  auto without = LoadConfig({"", RequiredEnv()});
  ASSERT_TRUE(without.config);
  Config from_file = *result.config;
  Config from_defaults = *without.config;
  for (const auto& spec : Schema()) {
    EXPECT_EQ(LoadValue(spec, from_file), LoadValue(spec, from_defaults)) << spec.path;
  }
}

TEST(ConfigGolden, ExampleFileWithoutEnvironmentAsksOnlyForTheRequiredKeys) {
  TempFile example(RenderExampleToml());
  auto result = LoadConfig({example.path(), {}});
  EXPECT_EQ(result.problems.size(), 5u) << Dump(result);
  for (const auto& problem : result.problems) EXPECT_THAT(problem.message, HasSubstr("missing"));
}

TEST(ConfigGolden, EveryKeyIsDocumentedAndInTheExample) {
  std::string docs = RenderConfigMarkdown();
  std::string example = RenderExampleToml();
  for (const auto& spec : Schema()) {
    EXPECT_THAT(docs, HasSubstr("### `" + std::string(spec.path) + "`"));
    EXPECT_THAT(docs, HasSubstr(SystematicEnvName(spec.path)));
    if (!spec.original_name.empty()) {
      EXPECT_THAT(docs, HasSubstr("`" + std::string(spec.original_name) + "`"));
    }
    EXPECT_THAT(example, HasSubstr("\n" + std::string(LeafOf(spec.path)) + " = "));
  }
  for (const auto& section : Sections()) {
    EXPECT_THAT(example, HasSubstr("\n[" + section + "]\n"));
  }
  for (const auto& setting : UnsupportedSettings()) {
    EXPECT_THAT(docs, HasSubstr("`" + std::string(setting.name) + "`"));
  }
}

}  // namespace
}  // namespace vc::config
