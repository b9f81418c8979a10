// Service SAS for one blob (learn.microsoft.com "Create a service SAS"), for the signed version
// kStorageApiVersion (2020-12-06 layout: the encryption-scope line follows the snapshot line).
#pragma once

#include <string>
#include <string_view>

namespace vc::blob {

// The signed fields of a blob service SAS; empty strings are signed as empty lines.
struct ServiceSasFields {
  std::string permissions;  // sp, in the service's order: r a c w d x l t
  std::string start;        // st, ISO-8601 UTC, optional
  std::string expiry;       // se, ISO-8601 UTC
  std::string account;
  std::string container;
  std::string blob;                 // unencoded; empty for a container SAS
  std::string identifier;           // si
  std::string ip;                   // sip
  std::string protocol;             // spr: "https" or "https,http"
  std::string version;              // sv
  std::string resource;             // sr: "b" or "c"
  std::string snapshot_time;        // for sr=bs
  std::string encryption_scope;     // ses
  std::string cache_control;        // rscc
  std::string content_disposition;  // rscd
  std::string content_encoding;     // rsce
  std::string content_language;     // rscl
  std::string content_type;         // rsct
};

// The sixteen lines joined by '\n', no trailing newline. The canonical name is
// "/blob/<account>/<container>[/<blob>]" with the blob name unencoded.
std::string ServiceSasStringToSign(const ServiceSasFields& fields);

// The query string (no leading '?'): sv, spr, st, se, sr, sp, ... and sig, each value
// percent-encoded; optional fields only when set. `raw_key` is the decoded account key.
std::string ServiceSasToken(const ServiceSasFields& fields, std::string_view raw_key);

}  // namespace vc::blob
