// Shared Key signing checked against values computed outside this code: the string-to-sign is
// written out by hand from the documented algorithm, and the signatures were computed with
//   printf '<string-to-sign>' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:<decoded key> -binary | base64
// (the key: Azurite's published devstoreaccount1 key). The Azurite tests then prove that the
// real service accepts what is signed here.
#include "clients/blob/shared_key.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "clients/blob/client.hpp"
#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/random.hpp"
#include "http/curl_transport.hpp"

namespace vc::blob {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// 2023-11-14T22:13:20Z
const TimePoint kFixedTime{std::chrono::seconds{1'700'000'000}};

std::string DevKey() {
  return *Base64Decode(kDevStoreAccountKey);
}

http::Request PutRequest() {
  http::Request r;
  r.method = http::Method::kPut;
  r.url = "http://127.0.0.1:10000/devstoreaccount1/mycontainer/dir/my%20blob.txt";
  r.headers.Set("x-ms-blob-type", "BlockBlob");
  r.headers.Set("Content-Type", "text/plain");
  r.headers.Set("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww==");
  r.headers.Set("If-None-Match", "*");
  r.headers.Set("X-MS-Client-Request-Id", " abc ");  // case and spaces are canonicalised
  r.headers.Set("User-Agent", "not signed");
  r.body = "hello world";
  return r;
}

TEST(BlobSharedKey, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Base64("Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

TEST(BlobSharedKey, Rfc1123DateIgnoresLocale) {
  EXPECT_EQ(FormatRfc1123(kFixedTime), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(FormatRfc1123(TimePoint{std::chrono::seconds{0}}), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(BlobSharedKey, PutBlobStringToSignAndSignature) {
  http::Request r = PutRequest();
  SignSharedKey(r, "devstoreaccount1", DevKey(), kFixedTime);
  EXPECT_EQ(r.headers.Get("x-ms-date"), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(r.headers.Get("x-ms-version"), "2021-08-06");
  EXPECT_EQ(SharedKeyStringToSign(r, "devstoreaccount1"),
            "PUT\n"
            "\n"    // Content-Encoding
            "\n"    // Content-Language
            "11\n"  // Content-Length
            "XrY7u+Ae7tCTyyK7j1rNww==\n"
            "text/plain\n"
            "\n"   // Date
            "\n"   // If-Modified-Since
            "\n"   // If-Match
            "*\n"  // If-None-Match
            "\n"   // If-Unmodified-Since
            "\n"   // Range
            "x-ms-blob-type:BlockBlob\n"
            "x-ms-client-request-id:abc\n"
            "x-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n"
            "x-ms-version:2021-08-06\n"
            // Azurite is path-style, so the account appears twice: once for the canonical
            // prefix, once as the first segment of the URL path.
            "/devstoreaccount1/devstoreaccount1/mycontainer/dir/my%20blob.txt");
  EXPECT_EQ(r.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:J27RqDOyUN3Bfn6ju+0DVTwz5HBtix3fNRlMhk3/VPQ=");
}

TEST(BlobSharedKey, QueryParametersAreDecodedAndSorted) {
  http::Request r;
  r.method = http::Method::kGet;
  r.url =
      "http://127.0.0.1:10000/devstoreaccount1/c1?restype=container&comp=list&prefix=a%20b"
      "&maxresults=5000";
  SignSharedKey(r, "devstoreaccount1", DevKey(), kFixedTime);
  EXPECT_EQ(SharedKeyStringToSign(r, "devstoreaccount1"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n"
            "x-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/c1\n"
            "comp:list\n"
            "maxresults:5000\n"
            "prefix:a b\n"
            "restype:container");
  EXPECT_EQ(r.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:D+bDZvubAVtwAqFy2dU1jCdljoZG2M6LD68MfMMjtZw=");
}

TEST(BlobSharedKey, EmptyBodyHasEmptyContentLength) {
  http::Request r;
  r.method = http::Method::kPut;
  r.url = "https://acct.blob.core.windows.net/c?restype=container";
  const std::string sts = SharedKeyStringToSign(r, "acct");
  EXPECT_THAT(sts, StartsWith("PUT\n\n\n\n"));  // Content-Length line empty for 0
  EXPECT_THAT(sts, testing::EndsWith("\n/acct/c\nrestype:container"));
}

// Records what reaches the wire; answers from a script.
class ScriptedTransport final : public http::Transport {
 public:
  ScriptedTransport(ManualClock& clock, std::vector<int> statuses)
      : clock_(clock), statuses_(std::move(statuses)) {}
  Result<http::Response> Send(const http::Request& request) override {
    std::lock_guard lock(mu_);
    seen_.push_back(request);
    clock_.Advance(Millis(3'000));  // a slow answer: the next attempt is seconds later
    http::Response r;
    r.status = statuses_.at(std::min(seen_.size() - 1, statuses_.size() - 1));
    r.headers.Set("x-ms-request-id", "req-" + std::to_string(seen_.size()));
    if (r.status >= 500) {
      r.headers.Set("x-ms-error-code", "ServerBusy");
      r.body =
          "<?xml version=\"1.0\"?><Error><Code>ServerBusy</Code><Message>busy\n"
          "RequestId:x</Message></Error>";
    }
    return r;
  }
  std::vector<http::Request> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  ManualClock& clock_;
  std::vector<int> statuses_;
  std::vector<http::Request> seen_;
};

BlobClientOptions QuickRetry(int max_retries) {
  BlobClientOptions options;
  options.retry.max_retries = max_retries;
  options.retry.base_delay = Millis(10);
  options.retry.max_delay = Millis(20);
  return options;
}

TEST(BlobSharedKey, EveryRetryIsSignedAfreshWithItsOwnDate) {
  ManualClock clock(kFixedTime);
  SeededRandom random(7);
  auto transport = std::make_shared<ScriptedTransport>(clock, std::vector<int>{503, 503, 201});
  auto client = BlobClient::FromConnectionString("UseDevelopmentStorage=true", transport, clock,
                                                 random, QuickRetry(3));
  ASSERT_TRUE(client) << client.error().message;
  auto put = (*client)->PutBlob("c1x", "a/b.txt", "data");
  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_EQ(put->request_id, "req-3");

  const auto seen = transport->seen();
  ASSERT_EQ(seen.size(), 3u);
  std::set<std::string> dates;
  for (const http::Request& r : seen) {
    const std::string date = r.headers.Get("x-ms-date").value_or("");
    dates.insert(date);
    // Each attempt's signature is the one for exactly what that attempt sent.
    http::Request copy = r;
    copy.headers.Remove("Authorization");
    EXPECT_EQ(r.headers.Get("Authorization"),
              "SharedKey devstoreaccount1:" +
                  HmacSha256Base64(DevKey(), SharedKeyStringToSign(copy, "devstoreaccount1")));
    EXPECT_EQ(r.headers.Get("x-ms-blob-type"), "BlockBlob");
    EXPECT_EQ(r.headers.Get("Content-Type"), "application/octet-stream");
    EXPECT_TRUE(r.headers.Has("x-ms-client-request-id"));
    EXPECT_EQ(r.url, "http://127.0.0.1:10000/devstoreaccount1/c1x/a/b.txt");
  }
  EXPECT_EQ(dates.size(), 3u) << "a retry reused an old x-ms-date";
  EXPECT_EQ(seen[0].headers.Get("x-ms-date"), "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST(BlobSharedKey, ServerErrorsEndAsUnavailable) {
  ManualClock clock(kFixedTime);
  SeededRandom random(7);
  auto transport = std::make_shared<ScriptedTransport>(clock, std::vector<int>{503});
  auto client = BlobClient::FromConnectionString("UseDevelopmentStorage=true", transport, clock,
                                                 random, QuickRetry(2));
  ASSERT_TRUE(client);
  auto got = (*client)->GetBlob("c1x", "a", 10);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(got.error().service_code, "ServerBusy");
  EXPECT_EQ(got.error().request_id, "req-3");
  EXPECT_EQ(got.error().message.find("RequestId"), std::string::npos);
  EXPECT_EQ(transport->seen().size(), 3u);
}

TEST(BlobSharedKey, UnreachableServiceIsUnavailableWithoutTheKey) {
  // A port that was free a moment ago: nothing listens, the connection is refused.
  int port = 0;
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    close(fd);
  }
  const std::string key = Base64Encode("DO-NOT-LOG unreachable account key bytes");
  const std::string connection =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key +
      ";BlobEndpoint=http://127.0.0.1:" + std::to_string(port) + "/devstoreaccount1";
  SystemClock clock;
  SeededRandom random(1);
  auto client = BlobClient::FromConnectionString(
      connection, std::make_shared<http::CurlTransport>(http::TransportOptions{}), clock, random,
      QuickRetry(1));
  ASSERT_TRUE(client);
  auto created = (*client)->CreateContainerIfMissing("status");
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable) << created.error().ToString();
  EXPECT_EQ(created.error().service, "blob");
  EXPECT_THAT(created.error().ToString(), Not(HasSubstr("DO-NOT-LOG")));
  EXPECT_THAT(created.error().ToString(), Not(HasSubstr(key)));
}

TEST(BlobSharedKey, KeyThatIsNotBase64IsRefusedByCreate) {
  ManualClock clock(kFixedTime);
  SeededRandom random(7);
  StorageAccount account;
  account.name = "acct";
  account.key = Secret<std::string>("DO-NOT-LOG not base64");
  account.blob_endpoint = "https://acct.blob.core.windows.net";
  auto client = BlobClient::Create(
      account, std::make_shared<ScriptedTransport>(clock, std::vector<int>{200}), clock, random);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(client.error().message, Not(HasSubstr("DO-NOT-LOG")));
}

}  // namespace
}  // namespace vc::blob
