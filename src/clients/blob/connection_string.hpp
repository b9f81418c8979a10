// The storage account a Blob client talks to, read from an Azure Storage connection string (the
// AzureStorageConnectionString app setting of the original Function App). Errors name the field
// that is missing or wrong and never repeat a value: a connection string carries the account key.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/secret.hpp"

namespace vc::blob {

// Azurite's fixed development account (documented, public; the same in every installation).
inline constexpr std::string_view kDevStoreAccountName = "devstoreaccount1";
inline constexpr std::string_view kDevStoreAccountKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
inline constexpr std::string_view kDevStoreBlobEndpoint = "http://127.0.0.1:10000/devstoreaccount1";

struct StorageAccount {
  std::string name;
  Secret<std::string> key;    // base64 text as the portal shows it
  std::string blob_endpoint;  // scheme://host[:port][/path], no trailing '/'

  // http:// on 127.0.0.1, ::1 or localhost: Azurite. The only place plain http is acceptable
  // for a SAS (see BlobClient::MakeWriteOnlySas).
  bool IsLoopbackHttp() const;
  bool IsHttps() const;
};

// Accepts
//   DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net
//   ...;BlobEndpoint=https://custom.host/   (or Azurite: http://127.0.0.1:10000/devstoreaccount1)
//   UseDevelopmentStorage=true               (Azurite on its default port, devstoreaccount1)
// Keys match case-insensitively; Queue/Table/FileEndpoint are accepted and ignored. A
// SharedAccessSignature connection string is refused: signing needs the account key.
Result<StorageAccount> ParseConnectionString(std::string_view text);

}  // namespace vc::blob
