#include "http/curl_transport.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/redact.hpp"

namespace vc::http {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void EnsureCurlGlobal() {
  static CurlGlobal global;
}

struct Transfer {
  Response* response;
  int64_t limit;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (static_cast<int64_t>(t->response->body.size() + n) > t->limit) {
    t->too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response starts (after a 100-continue or a redirect): forget earlier headers.
    t->response->headers = Headers{};
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  t->response->headers.Add(std::string(trim(line.substr(0, colon))),
                           std::string(trim(line.substr(colon + 1))));
  return n;
}

Error TransportError(CURLcode code, const Request& request, const char* detail) {
  Error e;
  e.service = request.service;
  const std::string where =
      fmt::format("{} {}", MethodName(request.method), RedactUrl(request.url));
  const std::string what = detail && *detail ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      e.code = ErrorCode::kUnavailable;
      e.service_code = kTransportConnect;
      e.message = fmt::format("cannot connect for {}: {}; check the URL, DNS, proxy and firewall",
                              where, what);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      e.code = ErrorCode::kTimeout;
      e.service_code = kTransportTimeout;
      e.message = fmt::format("timed out: {}: {}", where, what);
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
      e.code = ErrorCode::kProtocol;
      e.service_code = kTransportTls;
      e.message = fmt::format(
          "TLS failed for {}: {}; if a proxy or private CA signs this host, set http.ca_file "
          "to its PEM bundle",
          where, what);
      break;
    default:
      e.code = ErrorCode::kUnavailable;
      e.service_code = kTransportIo;
      e.message = fmt::format("transfer failed for {}: {}", where, what);
      break;
  }
  return e;
}

}  // namespace

CurlTransport::CurlTransport(TransportOptions options) : options_(std::move(options)) {
  EnsureCurlGlobal();
}

CurlTransport::~CurlTransport() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* CurlTransport::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

Result<Response> CurlTransport::Send(const Request& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (!curl) return MakeError(ErrorCode::kInternal, "libcurl could not create a handle");
  // Reset per request but keep the handle (and with it the live connections and TLS sessions).
  curl_easy_reset(curl);

  Response response;
  Transfer transfer{&response, options_.max_response_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  const Millis timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  // An explicit proxy, or none at all: never pick one up silently from the environment.
  curl_easy_setopt(curl, CURLOPT_PROXY, options_.proxy.c_str());
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));

  switch (request.method) {
    case Method::kGet:
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      break;
    case Method::kHead:
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
      break;
    case Method::kPost:
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      break;
    default:
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                       std::string(MethodName(request.method)).c_str());
      break;
  }

  std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime(nullptr, curl_mime_free);
  if (!request.form.empty()) {
    mime.reset(curl_mime_init(curl));
    for (const auto& part : request.form) {
      curl_mimepart* p = curl_mime_addpart(mime.get());
      curl_mime_name(p, part.name.c_str());
      curl_mime_data(p, part.data.data(), part.data.size());
      if (!part.filename.empty()) curl_mime_filename(p, part.filename.c_str());
      if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime.get());
  } else if (request.method != Method::kGet && request.method != Method::kHead) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers.items()) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, nullptr);
  mime.reset();
  Release(curl);

  if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    Error e = MakeError(
        ErrorCode::kProtocol,
        fmt::format("answer to {} {} exceeds the {} byte limit", MethodName(request.method),
                    RedactUrl(request.url), options_.max_response_bytes));
    e.service = request.service;
    e.service_code = kTransportTooLarge;
    return e;
  }
  if (code != CURLE_OK) return TransportError(code, request, error_buffer);
  response.status = static_cast<int>(status);
  return response;
}

std::string UrlEncode(std::string_view text) {
  EnsureCurlGlobal();
  char* out = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (!out) return {};
  std::string s(out);
  curl_free(out);
  return s;
}

std::string UrlDecode(std::string_view text) {
  EnsureCurlGlobal();
  int len = 0;
  char* out = curl_easy_unescape(nullptr, text.data(), static_cast<int>(text.size()), &len);
  if (!out) return {};
  std::string s(out, static_cast<size_t>(len));
  curl_free(out);
  return s;
}

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += UrlEncode(k);
    out += '=';
    out += UrlEncode(v);
  }
  return out;
}

}  // namespace vc::http
