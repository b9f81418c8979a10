#include "clients/blob/connection_string.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace vc::blob {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A valid base64 key (64 bytes), as the portal shows key1.
constexpr std::string_view kKey =
    "c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NQ==";

std::string ErrorOf(std::string_view text) {
  auto parsed = ParseConnectionString(text);
  EXPECT_FALSE(parsed) << text;
  if (parsed) return "";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

TEST(BlobConnectionString, AzureFormWithEndpointSuffix) {
  auto a = ParseConnectionString(
      fmt::format("DefaultEndpointsProtocol=https;AccountName=myacct1;AccountKey={};"
                  "EndpointSuffix=core.usgovcloudapi.net",
                  kKey));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->name, "myacct1");
  EXPECT_EQ(a->key.Reveal(), kKey);
  EXPECT_EQ(a->blob_endpoint, "https://myacct1.blob.core.usgovcloudapi.net");
  EXPECT_TRUE(a->IsHttps());
  EXPECT_FALSE(a->IsLoopbackHttp());
}

TEST(BlobConnectionString, DefaultsToHttpsAndPublicCloud) {
  auto a = ParseConnectionString(fmt::format("AccountName=myacct1;AccountKey={}", kKey));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->blob_endpoint, "https://myacct1.blob.core.windows.net");
}

TEST(BlobConnectionString, HttpProtocolIsHonoured) {
  auto a = ParseConnectionString(
      fmt::format("DefaultEndpointsProtocol=http;AccountName=myacct1;AccountKey={}", kKey));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->blob_endpoint, "http://myacct1.blob.core.windows.net");
  EXPECT_FALSE(a->IsHttps());
  EXPECT_FALSE(a->IsLoopbackHttp());  // http to a remote host: no SAS will be issued for it
}

TEST(BlobConnectionString, BlobEndpointOverridesAndLosesTrailingSlash) {
  auto a = ParseConnectionString(
      fmt::format("DefaultEndpointsProtocol=https;AccountName=myacct1;AccountKey={};"
                  "BlobEndpoint=https://private.example.net/;QueueEndpoint=https://q.example.net/;"
                  "EndpointSuffix=core.windows.net",
                  kKey));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->blob_endpoint, "https://private.example.net");

  auto azurite = ParseConnectionString(
      fmt::format("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};"
                  "BlobEndpoint=http://127.0.0.1:41234/devstoreaccount1;",
                  kDevStoreAccountKey));
  ASSERT_TRUE(azurite) << azurite.error().message;
  EXPECT_EQ(azurite->blob_endpoint, "http://127.0.0.1:41234/devstoreaccount1");
  EXPECT_TRUE(azurite->IsLoopbackHttp());
  EXPECT_FALSE(azurite->IsHttps());
}

TEST(BlobConnectionString, UseDevelopmentStorageIsAzuriteDefaults) {
  for (const char* text : {"UseDevelopmentStorage=true", "UseDevelopmentStorage=True;",
                           "  usedevelopmentstorage = true ; "}) {
    auto a = ParseConnectionString(text);
    ASSERT_TRUE(a) << text << ": " << a.error().message;
    EXPECT_EQ(a->name, "devstoreaccount1");
    EXPECT_EQ(a->key.Reveal(), kDevStoreAccountKey);
    EXPECT_EQ(a->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    EXPECT_TRUE(a->IsLoopbackHttp());
  }
}

TEST(BlobConnectionString, KeysAreCaseInsensitiveAndSpacesTrimmed) {
  auto a = ParseConnectionString(fmt::format(
      " accountname = myacct1 ;; ACCOUNTKEY={} ; endpointsuffix=core.windows.net;", kKey));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->name, "myacct1");
  EXPECT_EQ(a->key.Reveal(), kKey);
  EXPECT_EQ(a->blob_endpoint, "https://myacct1.blob.core.windows.net");
}

TEST(BlobConnectionString, TheKeyIsASecret) {
  auto a = ParseConnectionString(fmt::format("AccountName=myacct1;AccountKey={}", kKey));
  ASSERT_TRUE(a);
  EXPECT_EQ(fmt::format("{}", a->key), "[redacted]");
  EXPECT_THAT(Scrub(fmt::format("key is {}", kKey)), Not(HasSubstr(kKey)));
}

TEST(BlobConnectionString, MissingFieldsAreNamed) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("is empty"));
  EXPECT_THAT(ErrorOf("   "), HasSubstr("is empty"));
  EXPECT_THAT(ErrorOf(fmt::format("AccountKey={}", kKey)), HasSubstr("AccountName is missing"));
  EXPECT_THAT(ErrorOf("AccountName=myacct1"), HasSubstr("AccountKey is missing"));
  EXPECT_THAT(ErrorOf("AccountName=myacct1;AccountKey="), HasSubstr("AccountKey is missing"));
}

TEST(BlobConnectionString, BadValuesAreNamedWithoutEchoingTheKey) {
  // Not base64 ('-' is outside the alphabet): refused, and the value is never repeated.
  const std::string bad_key = "DO-NOT-LOG-abc";
  std::string message = ErrorOf("AccountName=myacct1;AccountKey=" + bad_key);
  EXPECT_THAT(message, HasSubstr("AccountKey is not valid base64"));
  EXPECT_THAT(message, Not(HasSubstr("DO-NOT-LOG")));

  // A ';' inside a pasted key splits it; the fragment has no '=' and is located, not quoted.
  message = ErrorOf("AccountName=myacct1;AccountKey=abcd;DO-NOT-LOG-fragment");
  EXPECT_THAT(message, HasSubstr("part 3 has no '='"));
  EXPECT_THAT(message, Not(HasSubstr("DO-NOT-LOG")));

  EXPECT_THAT(ErrorOf(fmt::format("AccountName=My_Account;AccountKey={}", kKey)),
              HasSubstr("AccountName may contain only lower-case letters and digits"));
  EXPECT_THAT(ErrorOf(fmt::format("AccountName=ab;AccountKey={}", kKey)),
              HasSubstr("AccountName must be 3 to 24 characters"));
  EXPECT_THAT(
      ErrorOf(fmt::format("DefaultEndpointsProtocol=ftp;AccountName=myacct1;AccountKey={}", kKey)),
      HasSubstr("DefaultEndpointsProtocol must be https or http"));
  EXPECT_THAT(
      ErrorOf(fmt::format("AccountName=myacct1;AccountKey={};EndpointSuffix=evil.com/x", kKey)),
      HasSubstr("EndpointSuffix must be a DNS suffix"));
  EXPECT_THAT(ErrorOf(fmt::format("AccountName=myacct1;AccountKey={};BlobEndpoint=ftp://h", kKey)),
              HasSubstr("BlobEndpoint must start with https://"));
  EXPECT_THAT(
      ErrorOf(fmt::format("AccountName=myacct1;AccountKey={};BlobEndpoint=https://u:p@h/", kKey)),
      HasSubstr("BlobEndpoint must be a plain URL"));
  EXPECT_THAT(ErrorOf(fmt::format("AccountName=myacct1;AccountKey={};BlobEndpoint=https://", kKey)),
              HasSubstr("BlobEndpoint has no host"));
}

TEST(BlobConnectionString, StructuralMistakesAreExplained) {
  EXPECT_THAT(ErrorOf(fmt::format("AcountName=myacct1;AccountKey={}", kKey)),
              HasSubstr("unknown field 'AcountName'"));
  // A key pasted without its name splits at its '=' padding; none of it may be quoted.
  const std::string message = ErrorOf(fmt::format("AccountName=myacct1;{}", kKey));
  EXPECT_THAT(message, HasSubstr("part 2 is not a known Name=value field"));
  EXPECT_THAT(message, Not(HasSubstr(kKey.substr(0, 8))));
  EXPECT_THAT(ErrorOf(fmt::format("AccountName=a1b2c;AccountName=myacct1;AccountKey={}", kKey)),
              HasSubstr("AccountName is given twice"));
  EXPECT_THAT(ErrorOf("BlobEndpoint=https://h/;SharedAccessSignature=sv=2021&sig=DO-NOT-LOG"),
              HasSubstr("SharedAccessSignature connection strings are not supported"));
  EXPECT_THAT(ErrorOf("UseDevelopmentStorage=false"),
              HasSubstr("UseDevelopmentStorage must be 'true'"));
  EXPECT_THAT(ErrorOf(fmt::format("UseDevelopmentStorage=true;AccountKey={}", kKey)),
              HasSubstr("cannot be combined with AccountKey"));
}

}  // namespace
}  // namespace vc::blob
