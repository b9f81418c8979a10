#include "clients/blob/connection_string.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "core/base64.hpp"

namespace vc::blob {
namespace {

constexpr std::string_view kWhat = "storage connection string";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Error Bad(std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", kWhat, message));
  e.service = "blob";
  return e;
}

// The canonical spelling of every key we know, by lower-case name.
const std::map<std::string, std::string_view>& KnownKeys() {
  static const std::map<std::string, std::string_view> kKeys = {
      {"defaultendpointsprotocol", "DefaultEndpointsProtocol"},
      {"accountname", "AccountName"},
      {"accountkey", "AccountKey"},
      {"endpointsuffix", "EndpointSuffix"},
      {"blobendpoint", "BlobEndpoint"},
      {"usedevelopmentstorage", "UseDevelopmentStorage"},
      {"developmentstorageproxyuri", "DevelopmentStorageProxyUri"},
      {"queueendpoint", "QueueEndpoint"},
      {"tableendpoint", "TableEndpoint"},
      {"fileendpoint", "FileEndpoint"},
      {"sharedaccesssignature", "SharedAccessSignature"},
  };
  return kKeys;
}

// scheme://authority[/path] with http or https, no query or fragment. The endpoint may name a
// proxy or a private host, so it is quoted in errors; it carries no credential (a '@' user part
// is refused for that reason).
Result<std::string> CheckEndpoint(std::string_view field, std::string_view url) {
  const std::string lower = Lower(url);
  const size_t scheme_end = lower.find("://");
  if (scheme_end == std::string::npos ||
      (lower.substr(0, scheme_end) != "http" && lower.substr(0, scheme_end) != "https")) {
    return Bad(fmt::format("{} must start with https:// (or http:// for Azurite)", field));
  }
  if (url.find_first_of("?#@") != std::string_view::npos) {
    return Bad(fmt::format("{} must be a plain URL without query, fragment or user part", field));
  }
  std::string out(url);
  // Only the path's trailing '/' go: "https://" must stay long enough to be seen as hostless.
  while (out.size() > scheme_end + 3 && out.back() == '/') out.pop_back();
  const std::string_view rest = std::string_view(out).substr(scheme_end + 3);
  if (rest.empty() || rest.front() == '/' || rest.find_first_of(" \t") != std::string_view::npos) {
    return Bad(fmt::format("{} has no host", field));
  }
  return out;
}

// Host part of scheme://host[:port]/..., without brackets for IPv6.
std::string HostOf(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  std::string_view rest = url.substr(start + 3);
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? rest.size() : close - 1));
  }
  return Lower(rest.substr(0, rest.find(':')));
}

}  // namespace

bool StorageAccount::IsHttps() const {
  return Lower(blob_endpoint).rfind("https://", 0) == 0;
}

bool StorageAccount::IsLoopbackHttp() const {
  if (Lower(blob_endpoint).rfind("http://", 0) != 0) return false;
  const std::string host = HostOf(blob_endpoint);
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

Result<StorageAccount> ParseConnectionString(std::string_view text) {
  if (Trim(text).empty()) return Bad("is empty");
  std::map<std::string, std::string> fields;  // by canonical key name
  size_t index = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semi = text.find(';', start);
    if (semi == std::string_view::npos) semi = text.size();
    const std::string_view part = Trim(text.substr(start, semi - start));
    start = semi + 1;
    ++index;
    if (part.empty()) continue;  // "a=b;;c=d" and a trailing ';' are common and harmless
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      // The part may be a fragment of the key; say where it is, not what it is.
      return Bad(
          fmt::format("part {} has no '=' (expected Name=value pairs separated by ';')", index));
    }
    const std::string key = std::string(Trim(part.substr(0, eq)));
    const std::string_view value = Trim(part.substr(eq + 1));
    auto known = KnownKeys().find(Lower(key));
    if (known == KnownKeys().end()) {
      // A field name is not secret and a typo (AcountKey) is easier to fix when it is named.
      // But a pasted key without its name ("...;<key>==") also reads as "name=value": only a
      // short run of letters, which a base64 key is not, is quoted.
      const bool plausible_name =
          key.size() <= 32 &&
          std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalpha(c) != 0; });
      if (!plausible_name)
        return Bad(fmt::format("part {} is not a known Name=value field", index));
      return Bad(fmt::format("unknown field '{}' in part {}", key, index));
    }
    const std::string name(known->second);
    if (fields.count(name)) return Bad(fmt::format("{} is given twice", name));
    fields[name] = std::string(value);
  }
  const auto get = [&](std::string_view name) -> const std::string* {
    auto it = fields.find(std::string(name));
    return it == fields.end() ? nullptr : &it->second;
  };

  if (get("SharedAccessSignature")) {
    return Bad(
        "SharedAccessSignature connection strings are not supported; use the account's "
        "connection string with AccountKey (the connector signs its own short-lived SAS)");
  }

  if (const std::string* dev = get("UseDevelopmentStorage")) {
    if (Lower(*dev) != "true") return Bad("UseDevelopmentStorage must be 'true' when present");
    for (const auto& [name, value] : fields) {
      if (name != "UseDevelopmentStorage") {
        return Bad(fmt::format(
            "UseDevelopmentStorage=true cannot be combined with {}; for Azurite on another port "
            "give AccountName, AccountKey and BlobEndpoint instead",
            name));
      }
    }
    StorageAccount account;
    account.name = std::string(kDevStoreAccountName);
    account.key = Secret<std::string>(std::string(kDevStoreAccountKey));
    account.blob_endpoint = std::string(kDevStoreBlobEndpoint);
    return account;
  }

  StorageAccount account;
  const std::string* name = get("AccountName");
  if (!name || name->empty()) return Bad("AccountName is missing");
  for (char c : *name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return Bad("AccountName may contain only lower-case letters and digits");
    }
  }
  if (name->size() < 3 || name->size() > 24) {
    return Bad("AccountName must be 3 to 24 characters long");
  }
  account.name = *name;

  const std::string* key = get("AccountKey");
  if (!key || key->empty()) return Bad("AccountKey is missing");
  auto decoded = Base64Decode(*key);
  if (!decoded || decoded->empty()) {
    return Bad("AccountKey is not valid base64; copy key1 or key2 of the storage account again");
  }
  account.key = Secret<std::string>(*key);

  if (const std::string* endpoint = get("BlobEndpoint")) {
    VC_ASSIGN_OR_RETURN(account.blob_endpoint, CheckEndpoint("BlobEndpoint", *endpoint));
    return account;
  }
  std::string protocol = "https";
  if (const std::string* p = get("DefaultEndpointsProtocol")) {
    protocol = Lower(*p);
    if (protocol != "https" && protocol != "http") {
      return Bad("DefaultEndpointsProtocol must be https or http");
    }
  }
  std::string suffix = "core.windows.net";
  if (const std::string* s = get("EndpointSuffix")) {
    if (s->empty() || s->find_first_of("/:?#@ ") != std::string::npos || s->front() == '.') {
      return Bad("EndpointSuffix must be a DNS suffix such as core.windows.net");
    }
    suffix = *s;
  }
  account.blob_endpoint = fmt::format("{}://{}.blob.{}", protocol, account.name, suffix);
  return account;
}

}  // namespace vc::blob
