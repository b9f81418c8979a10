// Secret values must never leave through a problem, a warning, the docs or the example file,
// whatever the user got wrong.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace vc::config {
namespace {

using test_util::Dump;
using test_util::Env;
using test_util::kSecretMarker;
using test_util::LoadEnv;
using test_util::LoadToml;
using test_util::RequiredEnv;
using test_util::TempFile;
using ::testing::HasSubstr;
using ::testing::Not;

void ExpectNoSecret(const LoadResult& result) {
  EXPECT_THAT(Dump(result), Not(HasSubstr(kSecretMarker)));
}

TEST(ConfigSecrets, ConflictingSecretNamesDoNotRepeatEitherValue) {
  Env env = RequiredEnv();
  env.push_back({"VMRAY_CONNECTOR_VMRAY_API_KEY", "DO-NOT-LOG-other-key"});
  env.push_back({"VMRAY_CONNECTOR_AZURE_CLIENT_SECRET", "DO-NOT-LOG-other-secret"});
  auto result = LoadEnv(env);
  ASSERT_EQ(result.problems.size(), 2u) << Dump(result);
  ExpectNoSecret(result);
}

TEST(ConfigSecrets, WrongTypeOfASecretInTomlDoesNotShowIt) {
  auto result = LoadToml(
      "[vmray]\napi_key = [\"DO-NOT-LOG-in-array\"]\n"
      "[azure]\nclient_secret = 123456789\n");
  ASSERT_EQ(result.problems.size(), 2u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("not shown because the key is secret"));
  EXPECT_THAT(Dump(result), Not(HasSubstr("123456789")));
  ExpectNoSecret(result);
}

TEST(ConfigSecrets, NearMissVariableHoldingASecretIsNotShown) {
  auto result = LoadEnv({{"AzureTenantID", "t"},
                         {"AzureClientID", "c"},
                         {"AzureClientSecret", test_util::kClientSecret},
                         {"VmrayBaseURL", "https://eu.cloud.vmray.com"},
                         {"VmrayApiKey", "DO-NOT-LOG-near-miss"}});
  EXPECT_FALSE(result.config);
  EXPECT_THAT(Dump(result), HasSubstr("did you mean VmrayAPIKey?"));
  ExpectNoSecret(result);
}

TEST(ConfigSecrets, SecretOnALineWithASyntaxErrorIsNotShown) {
  for (const char* toml : {"[vmray]\napi_key = DO-NOT-LOG-unquoted\n",
                           "[vmray]\napi_key = \"DO-NOT-LOG-unterminated\n",
                           "[vmray]\napi_key = 'DO-NOT-LOG-x' 'y'\n"}) {
    auto result = LoadToml(toml);
    ASSERT_FALSE(result.problems.empty()) << toml;
    ExpectNoSecret(result);
  }
}

TEST(ConfigSecrets, SecretInAnUnknownKeyIsNotShown) {
  auto result = LoadToml("[vmray]\napikey = \"DO-NOT-LOG-typo-key\"\n");
  ASSERT_EQ(result.problems.size(), 1u) << Dump(result);
  EXPECT_THAT(result.problems[0].message, HasSubstr("did you mean vmray.api_key?"));
  ExpectNoSecret(result);
}

TEST(ConfigSecrets, StorageSettingsLoadAsSecrets) {
  Env env = RequiredEnv();
  env.push_back({"AzureStorageConnectionString", "AccountKey=DO-NOT-LOG-storage"});
  env.push_back({"AzureStorageAccountKey", "DO-NOT-LOG-storage-key"});
  auto result = LoadEnv(env);
  ASSERT_TRUE(result.config) << Dump(result);
  EXPECT_TRUE(result.warnings.empty()) << Dump(result);
  EXPECT_EQ(result.config->storage.connection_string.Reveal(), "AccountKey=DO-NOT-LOG-storage");
  std::ostringstream out;
  out << result.config->storage.connection_string << " " << result.config->storage.account_key;
  EXPECT_EQ(out.str().find("DO-NOT-LOG"), std::string::npos) << out.str();
  ExpectNoSecret(result);
}

TEST(ConfigSecrets, LoadedSecretsPrintAsRedacted) {
  auto result = LoadEnv(RequiredEnv());
  ASSERT_TRUE(result.config) << Dump(result);
  std::ostringstream out;
  out << result.config->vmray.api_key << " " << result.config->azure.client_secret;
  EXPECT_EQ(out.str(), "[redacted] [redacted]");
  EXPECT_EQ(fmt::format("{}", result.config->vmray.api_key), "[redacted]");
}

TEST(ConfigSecrets, ValidateOutputNeverShowsSecrets) {
  TempFile file("[vmray]\napi_key = \"DO-NOT-LOG-file-key\"\napi_max_retry = 50\n");
  Env env = RequiredEnv();
  env.push_back({"VMRAY_CONNECTOR_AZURE_CLIENT_SECRET", "DO-NOT-LOG-conflict"});
  std::ostringstream out;
  EXPECT_EQ(RunValidate({file.path(), env}, out), 1);
  EXPECT_THAT(out.str(), HasSubstr("vmray.api_max_retry"));
  EXPECT_THAT(out.str(), Not(HasSubstr(kSecretMarker)));
}

TEST(ConfigSecrets, DocsAndExampleHoldNoSecretValue) {
  // Loading secrets registers them; the rendered text must still not depend on any of them.
  auto result = LoadEnv(RequiredEnv());
  ASSERT_TRUE(result.config);
  EXPECT_THAT(RenderConfigMarkdown(), Not(HasSubstr(kSecretMarker)));
  EXPECT_THAT(RenderExampleToml(), Not(HasSubstr(kSecretMarker)));
  EXPECT_THAT(RenderExampleToml(), HasSubstr("\napi_key = \"\"\n"));
  EXPECT_THAT(RenderExampleToml(), HasSubstr("\nclient_secret = \"\"\n"));
}

}  // namespace
}  // namespace vc::config
