// Service SAS layout for sv=2021-08-06 (learn.microsoft.com "Create a service SAS", versions
// 2020-12-06 and later: the encryption-scope line follows the snapshot-time line). The expected
// signature was computed with openssl from the hand-written string-to-sign:
//   printf 'cw\n\n2023-11-14T23:13:20Z\n/blob/devstoreaccount1/quarantine/dir/file 1.zip'
//          '\n\n\nhttps,http\n2021-08-06\nb\n\n\n\n\n\n\n' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:<decoded devstoreaccount1 key> -binary | base64
#include "clients/blob/sas.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "clients/blob/client.hpp"
#include "clients/blob/shared_key.hpp"
#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/random.hpp"
#include "http/curl_transport.hpp"

namespace vc::blob {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const TimePoint kFixedTime{std::chrono::seconds{1'700'000'000}};  // 2023-11-14T22:13:20Z

ServiceSasFields Fields() {
  ServiceSasFields f;
  f.permissions = "cw";
  f.expiry = "2023-11-14T23:13:20Z";
  f.account = "devstoreaccount1";
  f.container = "quarantine";
  f.blob = "dir/file 1.zip";
  f.protocol = "https,http";
  f.version = "2021-08-06";
  f.resource = "b";
  return f;
}

TEST(BlobSas, StringToSignHasSixteenLines) {
  EXPECT_EQ(ServiceSasStringToSign(Fields()),
            "cw\n"
            "\n"  // st
            "2023-11-14T23:13:20Z\n"
            "/blob/devstoreaccount1/quarantine/dir/file 1.zip\n"
            "\n"  // si
            "\n"  // sip
            "https,http\n"
            "2021-08-06\n"
            "b\n"
            "\n"  // snapshot time
            "\n"  // ses
            "\n"  // rscc
            "\n"  // rscd
            "\n"  // rsce
            "\n"  // rscl
            "");  // rsct
  ServiceSasFields container = Fields();
  container.blob.clear();
  container.resource = "c";
  EXPECT_THAT(ServiceSasStringToSign(container),
              HasSubstr("\n/blob/devstoreaccount1/quarantine\n"));
}

TEST(BlobSas, TokenCarriesTheSignedFieldsAndTheKnownSignature) {
  const std::string token = ServiceSasToken(Fields(), *Base64Decode(kDevStoreAccountKey));
  EXPECT_EQ(token, "sv=2021-08-06&spr=https%2Chttp&se=2023-11-14T23%3A13%3A20Z&sr=b&sp=cw&sig=" +
                       http::UrlEncode("973iwt3EkSKsW5Yy9UTA8FNnWq+Z7dG3A8B48oYz2yg="));
}

class WriteOnlySasTest : public ::testing::Test {
 protected:
  std::unique_ptr<BlobClient> Client(std::string connection) {
    auto c = BlobClient::FromConnectionString(
        connection, std::make_shared<http::CurlTransport>(http::TransportOptions{}), clock_,
        random_);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  ManualClock clock_{kFixedTime};
  SeededRandom random_{3};
};

TEST_F(WriteOnlySasTest, HttpsAccountGetsHttpsOnlySasForOneBlob) {
  auto client = Client(fmt::format("AccountName=myacct1;AccountKey={}", kDevStoreAccountKey));
  ASSERT_TRUE(client);
  auto sas = client->MakeWriteOnlySas("vmray-defender-quarantine-files", "alert 1/x.zip",
                                      std::chrono::minutes(120));
  ASSERT_TRUE(sas) << sas.error().ToString();
  EXPECT_EQ(
      sas->blob_url,
      "https://myacct1.blob.core.windows.net/vmray-defender-quarantine-files/alert%201/x.zip");
  EXPECT_EQ(sas->expires_at, kFixedTime + std::chrono::minutes(120));
  ServiceSasFields f;
  f.permissions = "cw";
  f.expiry = "2023-11-15T00:13:20Z";
  f.account = "myacct1";
  f.container = "vmray-defender-quarantine-files";
  f.blob = "alert 1/x.zip";
  f.protocol = "https";
  f.version = "2021-08-06";
  f.resource = "b";
  EXPECT_EQ(sas->token.Reveal(), ServiceSasToken(f, *Base64Decode(kDevStoreAccountKey)));
  EXPECT_EQ(sas->upload_url.Reveal(), sas->blob_url + "?" + sas->token.Reveal());
  // Printing the struct's secrets prints nothing of them, and the signature is scrubbed from
  // any text that quotes it by accident.
  EXPECT_EQ(fmt::format("{}", sas->upload_url), "[redacted]");
  const std::string sig = sas->token.Reveal().substr(sas->token.Reveal().find("sig=") + 4);
  EXPECT_THAT(Scrub("uploaded to ...&sig=" + sig), Not(HasSubstr(sig)));
}

TEST_F(WriteOnlySasTest, AzuriteGetsHttpAllowed) {
  auto client = Client("UseDevelopmentStorage=true");
  ASSERT_TRUE(client);
  auto sas = client->MakeWriteOnlySas("c1x", "b", std::chrono::minutes(5));
  ASSERT_TRUE(sas);
  EXPECT_THAT(sas->token.Reveal(), HasSubstr("spr=https%2Chttp"));
  EXPECT_EQ(sas->blob_url, "http://127.0.0.1:10000/devstoreaccount1/c1x/b");
}

TEST_F(WriteOnlySasTest, RefusesClearTextRemoteEndpointsBadNamesAndLifetimes) {
  auto remote_http = Client(fmt::format(
      "DefaultEndpointsProtocol=http;AccountName=myacct1;AccountKey={}", kDevStoreAccountKey));
  ASSERT_TRUE(remote_http);
  auto sas = remote_http->MakeWriteOnlySas("c1x", "b", std::chrono::minutes(5));
  ASSERT_FALSE(sas);
  EXPECT_THAT(sas.error().message, HasSubstr("Use https"));

  auto client = Client("UseDevelopmentStorage=true");
  ASSERT_TRUE(client);
  EXPECT_FALSE(client->MakeWriteOnlySas("c1x", "../b", std::chrono::minutes(5)));
  EXPECT_FALSE(client->MakeWriteOnlySas("C1", "b", std::chrono::minutes(5)));
  EXPECT_FALSE(client->MakeWriteOnlySas("c1x", "b", std::chrono::minutes(0)));
  EXPECT_FALSE(client->MakeWriteOnlySas("c1x", "b", std::chrono::minutes(24 * 60 + 1)));
  EXPECT_TRUE(client->MakeWriteOnlySas("c1x", "b", std::chrono::minutes(24 * 60)));
}

}  // namespace
}  // namespace vc::blob
