#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace vc::config {
namespace {

using test_util::RequiredEnv;
using test_util::TempFile;
using test_util::With;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ConfigValidate, ValidConfigurationExitsZeroWithSummary) {
  TempFile file("[daemon]\nworkers = 4\n");
  std::ostringstream out;
  EXPECT_EQ(RunValidate({file.path(), RequiredEnv()}, out), 0);
  EXPECT_EQ(out.str(),
            "configuration is valid (" + file.path() + ", defaults and environment; 0 warnings)\n");
}

TEST(ConfigValidate, InvalidConfigurationPrintsEveryProblemThenWarningsThenSummary) {
  TempFile file("[daemon]\nworkers = 65\n[vmray]\nbase_urll = \"https://x\"\n");
  std::ostringstream out;
  int code = RunValidate(
      {file.path(), With(RequiredEnv(), {{"VmrayApiMaxRetry", "5"}, {"LogLevel", "DEBUG"}})}, out);
  EXPECT_EQ(code, 1);
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 5u) << out.str();
  EXPECT_EQ(lines[0], "daemon.workers (" + file.path() +
                          ":2): 65 is out of range: expected an integer from 1 to 64");
  EXPECT_EQ(lines[1], "vmray.base_urll (" + file.path() +
                          ":4): unknown key vmray.base_urll; did you mean vmray.base_url?");
  EXPECT_EQ(lines[2],
            "vmray.api_max_retry (env VmrayApiMaxRetry): VmrayApiMaxRetry is not read because "
            "environment variable names are case-sensitive; did you mean VmrayAPIMaxRetry?");
  EXPECT_THAT(lines[3], HasSubstr("warning: env LogLevel: LogLevel is an "
                                  "original app setting"));
  EXPECT_EQ(lines[4],
            "configuration is invalid (" + file.path() +
                ", defaults and environment): 3 problems, 1 warning; docs/configuration.md "
                "describes every key");
}

TEST(ConfigValidate, FileLevelProblemHasNoKeyPrefix) {
  std::ostringstream out;
  EXPECT_EQ(RunValidate({"/nonexistent/x.toml", RequiredEnv()}, out), 1);
  EXPECT_EQ(Lines(out.str())[0].rfind("/nonexistent/x.toml: cannot open the configuration file", 0),
            0u)
      << out.str();
}

TEST(ConfigValidate, WithoutFileSaysSo) {
  std::ostringstream out;
  EXPECT_EQ(RunValidate({"", With(RequiredEnv(), {{"VmrayResubmit", "True"}})}, out), 0);
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_THAT(lines[0], HasSubstr("VmrayResubmitAfter"));
  EXPECT_EQ(lines[1], "configuration is valid (defaults and environment; 1 warning)");
}

}  // namespace
}  // namespace vc::config
