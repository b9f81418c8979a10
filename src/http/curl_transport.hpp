// libcurl transport. Easy handles are pooled so connections (and TLS sessions) are reused
// across requests and threads; TLS peer and host verification are on unless the user turns
// them off by name (http.insecure_skip_tls_verify).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "http/transport.hpp"

namespace vc::http {

struct TransportOptions {
  std::string proxy;    // e.g. http://proxy:3128; empty: libcurl's environment handling is off
  std::string ca_file;  // PEM bundle to trust instead of the system store
  bool verify_tls = true;
  Millis connect_timeout{10'000};
  Millis request_timeout{60'000};
  int64_t max_response_bytes = 512LL * 1024 * 1024;
};

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(TransportOptions options);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<Response> Send(const Request& request) override;

 private:
  void* Acquire();
  void Release(void* handle);

  TransportOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;
};

// Percent-encodes one URL component (path segment or query value), using libcurl.
std::string UrlEncode(std::string_view text);
// Percent-decodes, using libcurl.
std::string UrlDecode(std::string_view text);
// "k1=v1&k2=v2" with each key and value encoded.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace vc::http
