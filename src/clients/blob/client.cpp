#include "clients/blob/client.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <charconv>

#include "clients/blob/errors.hpp"
#include "clients/blob/names.hpp"
#include "clients/blob/sas.hpp"
#include "clients/blob/shared_key.hpp"
#include "clients/blob/xml.hpp"
#include "core/base64.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"

namespace vc::blob {
namespace {

constexpr std::string_view kService = "blob";
// List Blobs pages hold up to 5,000 names; this many pages is far beyond any diagnostic use and
// stops a service that keeps handing out markers.
constexpr int kMaxListPages = 200;

std::string Md5Base64(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

// The total size in "Content-Range: bytes 0-1023/4096".
std::optional<int64_t> RangeTotal(std::string_view content_range) {
  const size_t slash = content_range.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return ParseInt64(content_range.substr(slash + 1));
}

BlobProperties PropertiesOf(const http::Response& r) {
  BlobProperties p;
  p.size = ParseInt64(r.headers.Get("Content-Length").value_or("")).value_or(0);
  p.content_type = r.headers.Get("Content-Type").value_or("");
  p.etag = r.headers.Get("ETag").value_or("");
  p.blob_type = r.headers.Get("x-ms-blob-type").value_or("");
  p.last_modified = r.headers.Get("Last-Modified").value_or("");
  return p;
}

Error Invalid(std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.service = std::string(kService);
  return e;
}

Status ValidateBoth(std::string_view container, std::string_view blob) {
  VC_RETURN_IF_ERROR(ValidateContainerName(container));
  return ValidateBlobName(blob);
}

}  // namespace

Result<std::unique_ptr<BlobClient>> BlobClient::Create(StorageAccount account,
                                                       std::shared_ptr<http::Transport> transport,
                                                       Clock& clock, Random& random,
                                                       BlobClientOptions options) {
  auto raw = Base64Decode(account.key.Reveal());
  if (!raw || raw->empty()) {
    return Invalid("storage account key is not valid base64; copy key1 or key2 again");
  }
  Secret<std::string> raw_key(std::move(*raw));
  auto signer =
      std::make_shared<SharedKeyTransport>(account.name, raw_key, std::move(transport), clock);
  http::ServicePipelineOptions pipeline_options;
  pipeline_options.user_agent = options.user_agent;
  pipeline_options.retry = options.retry;
  pipeline_options.request_id_header = "x-ms-client-request-id";
  auto pipeline = http::MakeServicePipeline(pipeline_options, std::move(signer), clock, random);
  return std::unique_ptr<BlobClient>(
      new BlobClient(std::move(account), std::move(raw_key), std::move(pipeline), clock));
}

Result<std::unique_ptr<BlobClient>> BlobClient::FromConnectionString(
    std::string_view connection_string, std::shared_ptr<http::Transport> transport, Clock& clock,
    Random& random, BlobClientOptions options) {
  VC_ASSIGN_OR_RETURN(StorageAccount account, ParseConnectionString(connection_string));
  return Create(std::move(account), std::move(transport), clock, random, std::move(options));
}

BlobClient::BlobClient(StorageAccount account, Secret<std::string> raw_key,
                       std::shared_ptr<http::Pipeline> pipeline, Clock& clock)
    : account_(std::move(account)),
      raw_key_(std::move(raw_key)),
      pipeline_(std::move(pipeline)),
      clock_(clock) {}

std::string BlobClient::BlobUrl(std::string_view container, std::string_view blob) const {
  return fmt::format("{}/{}/{}", account_.blob_endpoint, container, EncodeBlobPath(blob));
}

http::Request BlobClient::Make(http::Method method, std::string url, std::string operation) const {
  http::Request r;
  r.method = method;
  r.url = std::move(url);
  r.service = std::string(kService);
  r.operation = std::move(operation);
  return r;
}

Result<http::Response> BlobClient::Send(http::Request request) {
  auto response = pipeline_->Send(std::move(request));
  if (!response) {
    Error e = response.error();
    if (e.service.empty()) e.service = std::string(kService);
    e.message = Scrub(e.message);
    return e;
  }
  return response;
}

Result<bool> BlobClient::CreateContainerIfMissing(std::string_view container) {
  VC_RETURN_IF_ERROR(ValidateContainerName(container));
  auto r = Send(Make(http::Method::kPut,
                     fmt::format("{}/{}?restype=container", account_.blob_endpoint, container),
                     "container.create"));
  if (!r) return r.error();
  if (r->status == 201) return true;
  Error e = MapBlobError(*r, fmt::format("create container '{}'", container), container);
  if (e.service_code == "ContainerAlreadyExists") return false;
  return e;
}

Result<PutBlobResult> BlobClient::PutBlob(std::string_view container, std::string_view blob,
                                          std::string_view data, const PutBlobOptions& options) {
  VC_RETURN_IF_ERROR(ValidateBoth(container, blob));
  http::Request request = Make(http::Method::kPut, BlobUrl(container, blob), "blob.put");
  request.headers.Set("x-ms-blob-type", "BlockBlob");
  request.headers.Set("Content-Type", options.content_type.empty() ? "application/octet-stream"
                                                                   : options.content_type);
  request.headers.Set("Content-MD5", Md5Base64(data));
  if (!options.overwrite) {
    request.headers.Set("If-None-Match", "*");
    // A repeat after a lost answer would meet our own blob and report a false conflict.
    request.idempotent = false;
  }
  request.body = std::string(data);
  auto r = Send(std::move(request));
  if (!r) return r.error();
  if (r->status != 201) {
    return MapBlobError(*r, fmt::format("write blob {}/{}", container, blob), container);
  }
  return PutBlobResult{r->headers.Get("ETag").value_or(""), http::ServiceRequestId(*r)};
}

Result<BlobContent> BlobClient::GetBlob(std::string_view container, std::string_view blob,
                                        int64_t max_bytes) {
  VC_RETURN_IF_ERROR(ValidateBoth(container, blob));
  if (max_bytes < 1) return Invalid("GetBlob needs a size limit of at least 1 byte");
  const std::string what = fmt::format("read blob {}/{}", container, blob);
  const auto too_large = [&](int64_t size) {
    Error e = Invalid(fmt::format("blob {}/{} is {} bytes, more than the limit of {} bytes",
                                  container, blob, size, max_bytes));
    e.service_code = std::string(kBlobTooLarge);
    return e;
  };

  const auto ranged_get = [&] {
    http::Request request = Make(http::Method::kGet, BlobUrl(container, blob), "blob.get");
    // One byte past the limit tells "exactly the limit" from "larger" without a second request.
    request.headers.Set("x-ms-range", fmt::format("bytes=0-{}", max_bytes));
    return Send(std::move(request));
  };
  auto r = ranged_get();
  if (!r) return r.error();
  if (r->status == 416) {
    // The service answers InvalidRange for any range of an empty blob. Its properties tell an
    // empty blob from one that changed meanwhile; a whole-blob read would ignore the limit.
    VC_ASSIGN_OR_RETURN(BlobProperties properties, GetBlobProperties(container, blob));
    if (properties.size == 0) return BlobContent{std::string(), std::move(properties)};
    r = ranged_get();
    if (!r) return r.error();
  }
  if (r->status != 200 && r->status != 206) return MapBlobError(*r, what, container);

  BlobContent content;
  content.properties = PropertiesOf(*r);
  if (r->status == 206) {
    auto total = RangeTotal(r->headers.Get("Content-Range").value_or(""));
    if (!total) {
      Error e = MakeError(ErrorCode::kProtocol,
                          fmt::format("answer to {} has no readable Content-Range", what));
      e.service = std::string(kService);
      e.request_id = http::ServiceRequestId(*r);
      return e;
    }
    content.properties.size = *total;
  } else {
    content.properties.size = static_cast<int64_t>(r->body.size());
  }
  if (content.properties.size > max_bytes) return too_large(content.properties.size);
  if (static_cast<int64_t>(r->body.size()) != content.properties.size) {
    Error e = MakeError(ErrorCode::kUnavailable,
                        fmt::format("answer to {} was cut short: {} of {} bytes", what,
                                    r->body.size(), content.properties.size));
    e.service = std::string(kService);
    e.request_id = http::ServiceRequestId(*r);
    return e;
  }
  content.data = std::move(r->body);
  return content;
}

Result<BlobProperties> BlobClient::GetBlobProperties(std::string_view container,
                                                     std::string_view blob) {
  VC_RETURN_IF_ERROR(ValidateBoth(container, blob));
  auto r = Send(Make(http::Method::kHead, BlobUrl(container, blob), "blob.properties"));
  if (!r) return r.error();
  if (r->status != 200) {
    return MapBlobError(*r, fmt::format("read properties of blob {}/{}", container, blob),
                        container);
  }
  return PropertiesOf(*r);
}

Result<bool> BlobClient::DeleteBlob(std::string_view container, std::string_view blob) {
  VC_RETURN_IF_ERROR(ValidateBoth(container, blob));
  auto r = Send(Make(http::Method::kDelete, BlobUrl(container, blob), "blob.delete"));
  if (!r) return r.error();
  if (r->status == 202) return true;
  Error e = MapBlobError(*r, fmt::format("delete blob {}/{}", container, blob), container);
  // Gone already (an earlier attempt whose answer was lost, or a cleanup that ran twice). A
  // missing container is not that: it means the configuration points somewhere else.
  if (e.service_code == "BlobNotFound") return false;
  return e;
}

Result<std::vector<std::string>> BlobClient::ListBlobs(std::string_view container,
                                                       std::string_view prefix) {
  VC_RETURN_IF_ERROR(ValidateContainerName(container));
  std::vector<std::string> names;
  std::string marker;
  for (int page = 0; page < kMaxListPages; ++page) {
    std::vector<std::pair<std::string, std::string>> params = {{"restype", "container"},
                                                               {"comp", "list"}};
    if (!prefix.empty()) params.emplace_back("prefix", std::string(prefix));
    if (!marker.empty()) params.emplace_back("marker", marker);
    params.emplace_back("maxresults", "5000");
    auto r = Send(
        Make(http::Method::kGet,
             fmt::format("{}/{}?{}", account_.blob_endpoint, container, http::EncodeQuery(params)),
             "blob.list"));
    if (!r) return r.error();
    if (r->status != 200) {
      return MapBlobError(*r, fmt::format("list blobs in container '{}'", container), container);
    }
    const auto blobs_section = XmlElements(r->body, "Blobs");
    if (!blobs_section.empty()) {
      for (const XmlElement& b : XmlElements(blobs_section.front().inner, "Blob")) {
        const auto name_elements = XmlElements(b.inner, "Name");
        if (name_elements.empty()) continue;
        const XmlElement& n = name_elements.front();
        std::string name = XmlUnescape(n.inner);
        // Names with characters XML cannot carry come percent-encoded and flagged.
        if (XmlAttribute(n.attributes, "Encoded").value_or("") == "true") {
          name = http::UrlDecode(name);
        }
        names.push_back(std::move(name));
      }
    }
    std::string next = XmlFirstText(r->body, "NextMarker").value_or("");
    if (next.empty()) return names;
    if (next == marker) break;
    marker = std::move(next);
  }
  Error e = MakeError(
      ErrorCode::kProtocol,
      fmt::format("listing container '{}' did not end after {} pages", container, kMaxListPages));
  e.service = std::string(kService);
  return e;
}

Result<WriteOnlySas> BlobClient::MakeWriteOnlySas(std::string_view container, std::string_view blob,
                                                  std::chrono::minutes valid_for) const {
  VC_RETURN_IF_ERROR(ValidateBoth(container, blob));
  if (valid_for < std::chrono::minutes(1) || valid_for > std::chrono::hours(24)) {
    return Invalid(
        fmt::format("a write-only SAS must be valid for 1 minute to 24 hours, not {} minutes",
                    valid_for.count()));
  }
  ServiceSasFields f;
  if (account_.IsHttps()) {
    f.protocol = "https";
  } else if (account_.IsLoopbackHttp()) {
    f.protocol = "https,http";  // Azurite serves plain http on loopback only
  } else {
    return Invalid(
        "the blob endpoint uses http on a host other than this machine; a SAS sent over it "
        "could be read on the way. Use https in AzureStorageConnectionString");
  }
  const TimePoint expires_at =
      std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now() + valid_for);
  f.permissions = "cw";
  f.expiry = FormatIso8601(expires_at);
  f.account = account_.name;
  f.container = std::string(container);
  f.blob = std::string(blob);
  f.version = std::string(kStorageApiVersion);
  f.resource = "b";
  const std::string signature = HmacSha256Base64(raw_key_.Reveal(), ServiceSasStringToSign(f));
  // The signature alone is a credential too: scrub it wherever it might be quoted.
  Redactor::Global().Register(signature);
  Redactor::Global().Register(http::UrlEncode(signature));
  std::string token = ServiceSasToken(f, raw_key_.Reveal());
  WriteOnlySas sas;
  sas.blob_url = BlobUrl(container, blob);
  sas.upload_url = Secret<std::string>(sas.blob_url + "?" + token);
  sas.token = Secret<std::string>(std::move(token));
  sas.expires_at = expires_at;
  return sas;
}

}  // namespace vc::blob
