// The blob storage row: the storage account of the quarantine hand-off. The connection string
// parses, the account answers, and the key is accepted (listing the quarantine container is
// read-only). The write-only SAS the collection script receives is signed locally with the same
// key, so an accepted key is what the SAS needs; its rights on the service are seen only when a
// collection uploads.
#include <fmt/format.h>

#include "app/doctor_context.hpp"
#include "clients/blob/client.hpp"
#include "core/random.hpp"
#include "http/curl_transport.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

constexpr const char* kCheck = "blob storage";

constexpr const char* kKeyFix =
    "set AzureStorageConnectionString to a connection string of the storage account (Azure "
    "portal > Storage account > Access keys > Connection string); a rotated key needs the new "
    "string";

}  // namespace

void CheckBlob(DoctorContext& ctx) {
  const auto& c = ctx.config();
  if (c.storage.connection_string.empty()) {
    if (!c.defender.fetch_quarantined_files) {
      return ctx.Emit(kCheck, CheckOutcome::kSkipped,
                      "no storage account configured and FetchQuarantinedFiles is off",
                      "nothing to do unless you turn FetchQuarantinedFiles on");
    }
    return ctx.Emit(kCheck, CheckOutcome::kSkipped,
                    "no storage account configured: files of antivirus alerts are not collected "
                    "from quarantine (those alerts wait)",
                    "set AzureStorageConnectionString to collect quarantined files");
  }
  auto account = blob::ParseConnectionString(c.storage.connection_string.Reveal());
  if (!account) {
    return ctx.Emit(
        kCheck, CheckOutcome::kProblem,
        fmt::format("the storage connection string cannot be read: {}", account.error().message),
        kKeyFix);
  }
  if (!c.storage.account_key.empty()) account->key = c.storage.account_key;
  blob::BlobClientOptions options;
  options.user_agent = std::string(kUserAgent);
  options.retry.max_retries = 0;  // a diagnosis reports the first answer
  auto client = blob::BlobClient::Create(std::move(*account), ctx.Transport(), ctx.clock(),
                                         DefaultRandom(), options);
  if (!client) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem, client.error().message,
                    "set storage.account_key (AzureStorageAccountKey) to the account's base64 "
                    "key, or leave it empty to use the connection string's AccountKey");
  }
  const std::string container(blob::kQuarantineContainer);
  const std::string where =
      fmt::format("container {} of account {}", container, (*client)->account().name);
  auto blobs = (*client)->ListBlobs(container, "");
  if (blobs) {
    return ctx.Emit(kCheck, CheckOutcome::kOk,
                    fmt::format("the key is accepted; {} holds {} blob{}", where, blobs->size(),
                                blobs->size() == 1 ? "" : "s"));
  }
  const Error& e = blobs.error();
  if (e.code == ErrorCode::kNotFound) {
    return ctx.Emit(kCheck, CheckOutcome::kOk,
                    fmt::format("the key is accepted; the {} does not exist yet and is created by "
                                "the first quarantine collection",
                                where));
  }
  if (e.http_status == 0) {
    return ctx.Emit(kCheck, CheckOutcome::kProblem,
                    fmt::format("cannot reach the storage account: {}", e.message),
                    "check the BlobEndpoint or AccountName and EndpointSuffix of "
                    "AzureStorageConnectionString, http.proxy, and the account's firewall");
  }
  if (e.code == ErrorCode::kPermissionDenied) {
    return ctx.Emit(
        kCheck, CheckOutcome::kProblem,
        fmt::format("the storage account refused the key (HTTP {}): {}", e.http_status, e.message),
        kKeyFix);
  }
  ctx.Emit(kCheck, CheckOutcome::kProblem,
           fmt::format("listing the {} failed (HTTP {}): {}", where, e.http_status, e.message),
           "retry later; if it persists, check the storage account in the Azure portal");
}

}  // namespace vc::app
