// Shared Key authorisation of Blob REST requests (learn.microsoft.com "Authorize with Shared
// Key"; the same layout as azure-sdk-for-cpp shared_key_policy.cpp), with OpenSSL HMAC-SHA256.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "http/transport.hpp"

namespace vc::blob {

// The service version every request and every SAS of this client speaks. Pinned so the SAS
// StringToSign layout (which changed in 2020-12-06) is the one implemented in sas.cpp; Azurite
// 3.35 serves it without --skipApiVersionCheck.
inline constexpr std::string_view kStorageApiVersion = "2021-08-06";

// base64(HMAC-SHA256(key, data)); `key` is the raw (base64-decoded) account key.
std::string HmacSha256Base64(std::string_view key, std::string_view data);

// RFC 1123 date in GMT, as x-ms-date wants it: "Tue, 14 Nov 2023 22:13:20 GMT".
std::string FormatRfc1123(TimePoint t);

// The exact text Shared Key signs for `request` as it will go on the wire: verb, the eleven
// standard headers (Content-Length empty when 0), the x-ms-* headers lower-cased and sorted,
// then "/account" + the URL's encoded path and each query parameter as "name:decoded value"
// sorted by name. No trailing newline.
std::string SharedKeyStringToSign(const http::Request& request, std::string_view account);

// Stamps x-ms-date (from `now`) and x-ms-version (unless set) and adds the Authorization header.
void SignSharedKey(http::Request& request, std::string_view account, std::string_view raw_key,
                   TimePoint now);

// Signs every request right before it goes on the wire. It sits under the standard pipeline
// (retry, logging, metrics) rather than in it, because the signature covers headers other
// policies set (x-ms-client-request-id, User-Agent is not signed but the request id is) and
// must be computed after the last of them, freshly for each retry: x-ms-date may be at most
// 15 minutes old when the service checks it.
class SharedKeyTransport final : public http::Transport {
 public:
  SharedKeyTransport(std::string account, Secret<std::string> raw_key,
                     std::shared_ptr<http::Transport> inner, Clock& clock);
  Result<http::Response> Send(const http::Request& request) override;

 private:
  std::string account_;
  Secret<std::string> raw_key_;
  std::shared_ptr<http::Transport> inner_;
  Clock& clock_;
};

}  // namespace vc::blob
