// Azure Blob Storage client (REST, Shared Key), for the quarantine hand-off of Live Response
// collections and the per-alert status records. Every call goes through the standard pipeline
// (request id, retry with back-off, logging, metrics) and is signed afresh for each attempt.
// Names are validated and encoded here, so a name built from alert data can never leave its
// container; nothing in this client lists-and-deletes a whole container.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clients/blob/connection_string.hpp"
#include "core/clock.hpp"
#include "core/random.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"
#include "http/pipeline.hpp"
#include "http/policies.hpp"
#include "http/transport.hpp"

namespace vc::blob {

// The containers of the original solution (same names, so an existing account keeps working).
inline constexpr std::string_view kQuarantineContainer = "vmray-defender-quarantine-files";
inline constexpr std::string_view kStatusContainer = "vmray-defender-functionapp-status";

struct BlobClientOptions {
  std::string user_agent = "vmray-connector";
  http::RetryOptions retry;
};

struct BlobProperties {
  int64_t size = 0;  // the whole blob, also when only a range was read
  std::string content_type;
  std::string etag;
  std::string blob_type;      // BlockBlob, ...
  std::string last_modified;  // as the service wrote it (RFC 1123)
};

struct BlobContent {
  std::string data;
  BlobProperties properties;
};

struct PutBlobOptions {
  std::string content_type = "application/octet-stream";
  // false sends If-None-Match: * so an existing blob is kept and the call fails with kConflict
  // (service code BlobAlreadyExists).
  bool overwrite = true;
};

struct PutBlobResult {
  std::string etag;
  std::string request_id;
};

// A service SAS that lets its holder create and write exactly one blob until `expires_at`, and
// nothing else: no read, no delete, no list, no other blob name.
struct WriteOnlySas {
  std::string blob_url;            // the blob's URL without the SAS
  Secret<std::string> upload_url;  // blob_url + "?" + token: what the device PUTs to
  Secret<std::string> token;       // the query string alone
  TimePoint expires_at;
};

class BlobClient {
 public:
  // Fails when the account key is not base64 (a StorageAccount built by hand).
  static Result<std::unique_ptr<BlobClient>> Create(StorageAccount account,
                                                    std::shared_ptr<http::Transport> transport,
                                                    Clock& clock, Random& random,
                                                    BlobClientOptions options = {});
  // ParseConnectionString + Create.
  static Result<std::unique_ptr<BlobClient>> FromConnectionString(
      std::string_view connection_string, std::shared_ptr<http::Transport> transport, Clock& clock,
      Random& random, BlobClientOptions options = {});

  const StorageAccount& account() const { return account_; }

  // true when this call created it, false when it was already there (409 ContainerAlreadyExists).
  Result<bool> CreateContainerIfMissing(std::string_view container);
  // Put Blob as a BlockBlob with Content-MD5, so the service rejects a body damaged on the way.
  Result<PutBlobResult> PutBlob(std::string_view container, std::string_view blob,
                                std::string_view data, const PutBlobOptions& options = {});
  // Reads at most `max_bytes` (>= 1) over the wire: the request asks for that range, and a blob
  // that is larger fails with kInvalidArgument, service code kBlobTooLarge, before the rest is
  // transferred.
  Result<BlobContent> GetBlob(std::string_view container, std::string_view blob, int64_t max_bytes);
  Result<BlobProperties> GetBlobProperties(std::string_view container, std::string_view blob);
  // true when this call deleted it, false when it was already gone (404 is not an error).
  Result<bool> DeleteBlob(std::string_view container, std::string_view blob);
  // Names under `prefix`, in the service's (alphabetical) order, following NextMarker. For tests
  // and diagnostics: the service's own work never enumerates a container.
  Result<std::vector<std::string>> ListBlobs(std::string_view container, std::string_view prefix);

  // Service SAS (sr=b, sp=cw, sv=kStorageApiVersion) for one blob, expiring `valid_for` from
  // now (1 minute to 24 hours). spr=https, except for an http loopback endpoint (Azurite) where
  // it is https,http; an http endpoint elsewhere is refused, as the SAS would travel in clear.
  Result<WriteOnlySas> MakeWriteOnlySas(std::string_view container, std::string_view blob,
                                        std::chrono::minutes valid_for) const;

  // The URL of a blob (each path segment percent-encoded), without any SAS.
  std::string BlobUrl(std::string_view container, std::string_view blob) const;

 private:
  BlobClient(StorageAccount account, Secret<std::string> raw_key,
             std::shared_ptr<http::Pipeline> pipeline, Clock& clock);
  http::Request Make(http::Method method, std::string url, std::string operation) const;
  Result<http::Response> Send(http::Request request);

  StorageAccount account_;
  Secret<std::string> raw_key_;
  std::shared_ptr<http::Pipeline> pipeline_;
  Clock& clock_;
};

}  // namespace vc::blob
