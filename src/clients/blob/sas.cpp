#include "clients/blob/sas.hpp"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "clients/blob/shared_key.hpp"
#include "http/curl_transport.hpp"

namespace vc::blob {

std::string ServiceSasStringToSign(const ServiceSasFields& f) {
  std::string canonical = fmt::format("/blob/{}/{}", f.account, f.container);
  if (!f.blob.empty()) canonical += "/" + f.blob;
  const std::string* lines[] = {&f.permissions,
                                &f.start,
                                &f.expiry,
                                &canonical,
                                &f.identifier,
                                &f.ip,
                                &f.protocol,
                                &f.version,
                                &f.resource,
                                &f.snapshot_time,
                                &f.encryption_scope,
                                &f.cache_control,
                                &f.content_disposition,
                                &f.content_encoding,
                                &f.content_language,
                                &f.content_type};
  std::string out;
  for (size_t i = 0; i < std::size(lines); ++i) {
    if (i) out += '\n';
    out += *lines[i];
  }
  return out;
}

std::string ServiceSasToken(const ServiceSasFields& f, std::string_view raw_key) {
  std::vector<std::pair<std::string, std::string>> params;
  const auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) params.emplace_back(name, value);
  };
  add("sv", f.version);
  add("spr", f.protocol);
  add("st", f.start);
  add("se", f.expiry);
  add("sr", f.resource);
  add("sp", f.permissions);
  add("si", f.identifier);
  add("sip", f.ip);
  add("ses", f.encryption_scope);
  add("rscc", f.cache_control);
  add("rscd", f.content_disposition);
  add("rsce", f.content_encoding);
  add("rscl", f.content_language);
  add("rsct", f.content_type);
  params.emplace_back("sig", HmacSha256Base64(raw_key, ServiceSasStringToSign(f)));
  return http::EncodeQuery(params);
}

}  // namespace vc::blob
