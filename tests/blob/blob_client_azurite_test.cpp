// The Blob client against the real Azurite emulator: what the service accepts and refuses is
// decided by Azurite's own Shared Key and SAS checks, not by this code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include "azurite.hpp"
#include "clients/blob/client.hpp"
#include "clients/blob/errors.hpp"
#include "clients/blob/names.hpp"
#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/random.hpp"
#include "http/curl_transport.hpp"

namespace vc::blob {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr std::string_view kSecretMarker = "DO-NOT-LOG";

// A well-formed account key that is not the account's: base64 of text carrying the marker, so
// both the key as configured and its decoded bytes are recognisable in any output.
std::string WrongKey() {
  return Base64Encode("DO-NOT-LOG wrong storage key, 64 bytes long for realism.........");
}

class BlobAzuriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every log line of the test goes to memory, unredacted, so TearDown can look for secrets.
    log_ = std::make_shared<std::ostringstream>();
    auto logger = std::make_shared<spdlog::logger>(
        "blob-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*log_));
    logger->set_level(spdlog::level::debug);
    previous_logger_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);

    auto azurite = test::SharedAzurite();
    ASSERT_TRUE(azurite) << azurite.error().message;
    azurite_ = *azurite;
    transport_ = std::make_shared<http::CurlTransport>(http::TransportOptions{});
    auto client = BlobClient::FromConnectionString(azurite_->ConnectionString(), transport_, clock_,
                                                   random_, FastRetry());
    ASSERT_TRUE(client) << client.error().message;
    client_ = std::move(*client);
    // A container of its own per test, so the tests never depend on one another's blobs.
    container_ = "test-" + random_.HexToken(8);
    auto created = client_->CreateContainerIfMissing(container_);
    ASSERT_TRUE(created) << created.error().ToString();
  }

  void TearDown() override {
    spdlog::default_logger()->flush();
    const std::string logs = log_->str();
    // The capture works (SetUp's request is logged), so the checks below can fail.
    EXPECT_THAT(logs, HasSubstr("restype=container")) << logs;
    EXPECT_THAT(logs, Not(HasSubstr(kSecretMarker)));
    EXPECT_THAT(logs, Not(HasSubstr(WrongKey())));
    for (const std::string& signature : signatures_) {
      EXPECT_THAT(logs, Not(HasSubstr(signature))) << "a SAS signature in the log";
    }
    spdlog::set_default_logger(previous_logger_);
  }

  static BlobClientOptions FastRetry() {
    BlobClientOptions options;
    options.retry.max_retries = 1;
    options.retry.base_delay = Millis(1);
    options.retry.max_delay = Millis(5);
    return options;
  }

  // What the device-side PowerShell does with the upload URL: a bare PUT, no Authorization.
  Result<http::Response> Raw(http::Method method, const std::string& url, std::string body = "",
                             bool block_blob = false) {
    http::Request r;
    r.method = method;
    r.url = url;
    r.service = "device";
    if (block_blob) r.headers.Set("x-ms-blob-type", "BlockBlob");
    if (method == http::Method::kPut) r.headers.Set("Content-Type", "application/octet-stream");
    r.body = std::move(body);
    return transport_->Send(r);
  }

  // The token's text; its signature is remembered so TearDown can look for it in the log.
  std::string TokenOf(const WriteOnlySas& sas) {
    const std::string& token = sas.token.Reveal();
    const size_t sig = token.find("sig=");
    if (sig != std::string::npos) {
      signatures_.push_back(http::UrlDecode(token.substr(sig + 4, token.find('&', sig) - sig - 4)));
    }
    return token;
  }

  SystemClock clock_;
  CryptoRandom random_;
  test::AzuriteProcess* azurite_ = nullptr;
  std::shared_ptr<http::CurlTransport> transport_;
  std::unique_ptr<BlobClient> client_;
  std::string container_;
  std::vector<std::string> signatures_;
  std::shared_ptr<std::ostringstream> log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(BlobAzuriteTest, CreateContainerIsIdempotent) {
  // SetUp created it; a second and third call find it there.
  auto again = client_->CreateContainerIfMissing(container_);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_FALSE(*again);
  auto fresh = client_->CreateContainerIfMissing(std::string(kStatusContainer));
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_TRUE(*fresh);
  auto fresh_again = client_->CreateContainerIfMissing(std::string(kStatusContainer));
  ASSERT_TRUE(fresh_again);
  EXPECT_FALSE(*fresh_again);
  auto names = client_->ListBlobs(container_, "");
  ASSERT_TRUE(names) << names.error().ToString();
  EXPECT_THAT(*names, IsEmpty());
}

TEST_F(BlobAzuriteTest, PutGetListDeleteRoundTrip) {
  std::string data(3000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  PutBlobOptions put_options;
  put_options.content_type = "application/zip";
  auto put = client_->PutBlob(container_, "samples/a1/file.zip", data, put_options);
  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_FALSE(put->etag.empty());
  EXPECT_FALSE(put->request_id.empty());
  ASSERT_TRUE(client_->PutBlob(container_, "samples/a2/other.bin", "x"));
  ASSERT_TRUE(client_->PutBlob(container_, "status/a1.json", "{}"));

  auto got = client_->GetBlob(container_, "samples/a1/file.zip", 1 << 20);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->data, data);
  EXPECT_EQ(got->properties.size, 3000);
  EXPECT_EQ(got->properties.content_type, "application/zip");
  EXPECT_EQ(got->properties.blob_type, "BlockBlob");
  EXPECT_EQ(got->properties.etag, put->etag);

  auto props = client_->GetBlobProperties(container_, "samples/a1/file.zip");
  ASSERT_TRUE(props) << props.error().ToString();
  EXPECT_EQ(props->size, 3000);
  EXPECT_EQ(props->content_type, "application/zip");
  EXPECT_FALSE(props->last_modified.empty());

  auto listed = client_->ListBlobs(container_, "samples/");
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_THAT(*listed, ElementsAre("samples/a1/file.zip", "samples/a2/other.bin"));

  auto deleted = client_->DeleteBlob(container_, "samples/a1/file.zip");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_TRUE(*deleted);
  auto gone = client_->GetBlob(container_, "samples/a1/file.zip", 1 << 20);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(gone.error().service_code, "BlobNotFound");
  // Deleting again is not an error: the blob is gone either way.
  auto deleted_again = client_->DeleteBlob(container_, "samples/a1/file.zip");
  ASSERT_TRUE(deleted_again) << deleted_again.error().ToString();
  EXPECT_FALSE(*deleted_again);
  listed = client_->ListBlobs(container_, "");
  ASSERT_TRUE(listed);
  EXPECT_THAT(*listed, ElementsAre("samples/a2/other.bin", "status/a1.json"));
}

TEST_F(BlobAzuriteTest, MissingBlobAndContainerAreNotFound) {
  auto missing = client_->GetBlob(container_, "no/such/blob", 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().service_code, "BlobNotFound");
  EXPECT_EQ(missing.error().http_status, 404);
  EXPECT_FALSE(missing.error().request_id.empty());  // x-ms-request-id, for a support ticket
  EXPECT_THAT(missing.error().message, HasSubstr("no/such/blob"));

  // HEAD answers carry no body: the code comes from the x-ms-error-code header.
  auto props = client_->GetBlobProperties(container_, "no/such/blob");
  ASSERT_FALSE(props);
  EXPECT_EQ(props.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(props.error().service_code, "BlobNotFound");

  auto no_container = client_->PutBlob("no-such-container", "a", "data");
  ASSERT_FALSE(no_container);
  EXPECT_EQ(no_container.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(no_container.error().service_code, "ContainerNotFound");
  EXPECT_THAT(no_container.error().message, HasSubstr("'no-such-container'"));
  // A missing container is a configuration problem, not "already deleted".
  auto delete_in_missing = client_->DeleteBlob("no-such-container", "a");
  ASSERT_FALSE(delete_in_missing);
  EXPECT_EQ(delete_in_missing.error().service_code, "ContainerNotFound");
}

TEST_F(BlobAzuriteTest, UnusualNamesRoundTripEncoded) {
  // Spaces, '?', '#', '%', '+', '&', '=' and non-ASCII must be encoded in the path, and the
  // signature must cover the encoded path exactly as sent, or Azurite refuses the request.
  const std::string name = "dir one/ä ö %41+b&c=d?e#f/Datei (1).exe";
  ASSERT_TRUE(ValidateBlobName(name));
  auto put = client_->PutBlob(container_, name, "payload");
  ASSERT_TRUE(put) << put.error().ToString();
  auto got = client_->GetBlob(container_, name, 100);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->data, "payload");
  auto listed = client_->ListBlobs(container_, "dir one/");
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_THAT(*listed, ElementsAre(name));
  // "%41" stayed three characters: it was not decoded into "A" anywhere on the way.
  auto as_a = client_->GetBlob(container_, "dir one/ä ö A+b&c=d?e#f/Datei (1).exe", 100);
  ASSERT_FALSE(as_a);
  EXPECT_EQ(as_a.error().code, ErrorCode::kNotFound);
}

TEST_F(BlobAzuriteTest, NamesFromAlertDataCannotLeaveTheirPrefix) {
  // Refused before any request: nothing can be written outside the intended path.
  for (const char* bad : {"alerts/../../escape", "alerts/./x", "../x", "alerts/x/..", "a\\..\\b"}) {
    auto put = client_->PutBlob(container_, bad, "x");
    ASSERT_FALSE(put) << bad;
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(put.error().http_status, 0) << bad << " reached the service";
  }
  // Alert-supplied text goes through BlobNameSegment and stays one segment under its prefix.
  const std::string name = "alerts/" + BlobNameSegment("../../../etc/passwd") + "/" +
                           BlobNameSegment("..") + "/" + BlobNameSegment("%2e%2e");
  auto put = client_->PutBlob(container_, name, "x");
  ASSERT_TRUE(put) << put.error().ToString();
  auto listed = client_->ListBlobs(container_, "");
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_THAT(*listed, ElementsAre(name));
  EXPECT_EQ(listed->front().rfind("alerts/", 0), 0u);
  EXPECT_EQ(std::count(name.begin(), name.end(), '/'), 3);
}

TEST_F(BlobAzuriteTest, GetBlobEnforcesTheSizeLimit) {
  const std::string data(100, 'z');
  ASSERT_TRUE(client_->PutBlob(container_, "big", data));
  auto exact = client_->GetBlob(container_, "big", 100);
  ASSERT_TRUE(exact) << exact.error().ToString();
  EXPECT_EQ(exact->data, data);
  EXPECT_EQ(exact->properties.size, 100);

  auto too_large = client_->GetBlob(container_, "big", 99);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(too_large.error().service_code, kBlobTooLarge);
  EXPECT_THAT(too_large.error().message, HasSubstr("100 bytes"));

  ASSERT_TRUE(client_->PutBlob(container_, "empty", ""));
  auto empty = client_->GetBlob(container_, "empty", 10);
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_EQ(empty->data, "");
  EXPECT_EQ(empty->properties.size, 0);
}

TEST_F(BlobAzuriteTest, PutWithoutOverwriteKeepsTheExistingBlob) {
  ASSERT_TRUE(client_->PutBlob(container_, "once", "first"));
  PutBlobOptions keep;
  keep.overwrite = false;
  auto second = client_->PutBlob(container_, "once", "second", keep);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(second.error().service_code, "BlobAlreadyExists");
  auto got = client_->GetBlob(container_, "once", 100);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "first");
  // Without the flag the blob is replaced.
  ASSERT_TRUE(client_->PutBlob(container_, "once", "third"));
  got = client_->GetBlob(container_, "once", 100);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "third");
  // And a new name is written even with the flag.
  ASSERT_TRUE(client_->PutBlob(container_, "new-one", "x", keep));
}

TEST_F(BlobAzuriteTest, WrongAccountKeyIsPermissionDeniedWithoutTheKey) {
  const std::string connection =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
      "AccountKey=" +
      WrongKey() + ";BlobEndpoint=" + azurite_->BlobEndpoint();
  auto wrong =
      BlobClient::FromConnectionString(connection, transport_, clock_, random_, FastRetry());
  ASSERT_TRUE(wrong) << wrong.error().message;
  std::vector<Error> errors;
  auto put = (*wrong)->PutBlob(container_, "intruder", "x");
  ASSERT_FALSE(put);
  errors.push_back(put.error());
  auto get = (*wrong)->GetBlob(container_, "intruder", 10);
  ASSERT_FALSE(get);
  errors.push_back(get.error());
  auto head = (*wrong)->GetBlobProperties(container_, "intruder");
  ASSERT_FALSE(head);
  errors.push_back(head.error());
  auto create = (*wrong)->CreateContainerIfMissing("other-container");
  ASSERT_FALSE(create);
  errors.push_back(create.error());
  for (const Error& e : errors) {
    EXPECT_EQ(e.code, ErrorCode::kPermissionDenied) << e.ToString();
    EXPECT_EQ(e.http_status, 403) << e.ToString();
    EXPECT_THAT(e.message, HasSubstr("AccountKey")) << e.ToString();
    EXPECT_THAT(e.ToString(), Not(HasSubstr(kSecretMarker)));
    EXPECT_THAT(e.ToString(), Not(HasSubstr(WrongKey())));
    EXPECT_THAT(e.ToString(), Not(HasSubstr("SharedKey")));  // no Authorization value quoted
  }
  // Nothing was written.
  auto check = client_->GetBlob(container_, "intruder", 10);
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().code, ErrorCode::kNotFound);
}

TEST_F(BlobAzuriteTest, WriteOnlySasUploadsItsOwnBlobOnly) {
  const std::string blob = "quarantine/alert 1/sample.zip";
  auto sas = client_->MakeWriteOnlySas(container_, blob, std::chrono::minutes(60));
  ASSERT_TRUE(sas) << sas.error().ToString();
  const std::string token = TokenOf(*sas);
  EXPECT_THAT(token, HasSubstr("sp=cw"));
  EXPECT_THAT(token, HasSubstr("sr=b"));
  EXPECT_THAT(token, HasSubstr("sv=2021-08-06"));
  EXPECT_EQ(sas->upload_url.Reveal(), sas->blob_url + "?" + token);
  EXPECT_EQ(sas->blob_url, client_->BlobUrl(container_, blob));

  // The device's upload: PUT with x-ms-blob-type and nothing else.
  auto up = Raw(http::Method::kPut, sas->upload_url.Reveal(), "collected files", true);
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_EQ(up->status, 201) << up->body;
  auto got = client_->GetBlob(container_, blob, 1000);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->data, "collected files");
  // Write permission includes replacing the same blob (a device re-running its script).
  up = Raw(http::Method::kPut, sas->upload_url.Reveal(), "collected again", true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 201) << up->body;

  // Another blob name with the same token: refused, nothing created.
  const std::string other_url =
      client_->BlobUrl(container_, "quarantine/alert 2/x.zip") + "?" + token;
  auto other = Raw(http::Method::kPut, other_url, "evil", true);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403) << other->body;
  auto other_check = client_->GetBlob(container_, "quarantine/alert 2/x.zip", 100);
  ASSERT_FALSE(other_check);
  EXPECT_EQ(other_check.error().code, ErrorCode::kNotFound);
  // A different container with the same blob name: refused.
  ASSERT_TRUE(client_->CreateContainerIfMissing("other-" + container_));
  auto other_container =
      Raw(http::Method::kPut, client_->BlobUrl("other-" + container_, blob) + "?" + token, "evil",
          true);
  ASSERT_TRUE(other_container);
  EXPECT_EQ(other_container->status, 403) << other_container->body;

  // Read, delete and list with the token: refused.
  auto read = Raw(http::Method::kGet, sas->upload_url.Reveal());
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 403) << read->body;
  EXPECT_THAT(read->body, Not(HasSubstr("collected")));
  auto head = Raw(http::Method::kHead, sas->upload_url.Reveal());
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 403);
  auto del = Raw(http::Method::kDelete, sas->upload_url.Reveal());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 403) << del->body;
  auto list = Raw(http::Method::kGet, azurite_->BlobEndpoint() + "/" + container_ +
                                          "?restype=container&comp=list&" + token);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 403) << list->body;
  EXPECT_THAT(list->body, Not(HasSubstr("sample.zip")));
  // The blob survived the delete attempt, with the last upload's content.
  got = client_->GetBlob(container_, blob, 1000);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->data, "collected again");

  // A tampered permission (sp=cw -> sp=rcwd) breaks the signature.
  std::string widened = sas->upload_url.Reveal();
  widened.replace(widened.find("sp=cw"), 5, "sp=rcwd");
  auto widened_read = Raw(http::Method::kGet, widened);
  ASSERT_TRUE(widened_read);
  EXPECT_EQ(widened_read->status, 403);
}

TEST_F(BlobAzuriteTest, ExpiredWriteOnlySasIsRefused) {
  // A client whose clock is two hours behind signs a one-hour SAS: it expired an hour ago.
  ManualClock past(clock_.Now() - std::chrono::hours(2));
  auto old_client = BlobClient::FromConnectionString(azurite_->ConnectionString(), transport_, past,
                                                     random_, FastRetry());
  ASSERT_TRUE(old_client);
  auto sas = (*old_client)->MakeWriteOnlySas(container_, "late.zip", std::chrono::minutes(60));
  ASSERT_TRUE(sas) << sas.error().ToString();
  EXPECT_LT(sas->expires_at, clock_.Now());
  auto up = Raw(http::Method::kPut, sas->upload_url.Reveal(), "too late", true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 403) << up->body;
  auto check = client_->GetBlob(container_, "late.zip", 100);
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().code, ErrorCode::kNotFound);

  // The same SAS signed on the right clock works: the refusal was the expiry, not the token.
  auto fresh = client_->MakeWriteOnlySas(container_, "late.zip", std::chrono::minutes(60));
  ASSERT_TRUE(fresh);
  up = Raw(http::Method::kPut, fresh->upload_url.Reveal(), "in time", true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 201) << up->body;
}

TEST_F(BlobAzuriteTest, SasFromAnotherKeyIsRefused) {
  StorageAccount account = azurite_->Account();
  account.key = Secret<std::string>(WrongKey());
  auto forger = BlobClient::Create(account, transport_, clock_, random_, FastRetry());
  ASSERT_TRUE(forger);
  auto sas = (*forger)->MakeWriteOnlySas(container_, "forged.zip", std::chrono::minutes(60));
  ASSERT_TRUE(sas);
  auto up = Raw(http::Method::kPut, sas->upload_url.Reveal(), "x", true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 403) << up->body;
}

TEST_F(BlobAzuriteTest, StoppedServiceIsUnavailable) {
  // An instance of its own, stopped mid-test: the shared one keeps serving the other tests.
  auto binary = test::AzuriteBlobBinary();
  ASSERT_TRUE(binary) << binary.error().message;
  test::AzuriteProcess own;
  ASSERT_TRUE(own.Start(*binary)) << own.Output();
  auto client = BlobClient::FromConnectionString(own.ConnectionString(), transport_, clock_,
                                                 random_, FastRetry());
  ASSERT_TRUE(client);
  ASSERT_TRUE((*client)->CreateContainerIfMissing("status"));
  ASSERT_TRUE((*client)->PutBlob("status", "a.json", "{}"));
  own.Stop();
  auto put = (*client)->PutBlob("status", "b.json", "{}");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable) << put.error().ToString();
  EXPECT_TRUE(put.error().IsTransient());
  EXPECT_EQ(put.error().service, "blob");
  auto get = (*client)->GetBlob("status", "a.json", 10);
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, ErrorCode::kUnavailable) << get.error().ToString();
}

}  // namespace
}  // namespace vc::blob
