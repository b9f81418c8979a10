// The contract with scripts/live-response/vmray-connector-collect.ps1: how the connector asks
// (one base64 argument holding a JSON request, so alert text never becomes PowerShell) and how
// it reads the answer (one JSON line in the RunScript transcript's script_output).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vc::defender {

inline constexpr std::string_view kCollectionScriptName = "vmray-connector-collect.ps1";

// The script's text, compiled in at build time (uploaded to the Live Response library).
std::string_view CollectionScript();

struct CollectionRequest {
  std::string mode = "restore";  // "restore" or "encrypted"
  std::string threat;            // Defender's threat name; any characters
  std::vector<std::string> sha256;
  std::string sha1;        // encrypted mode: names the resource file
  std::string upload_url;  // one blob, write-only SAS (never logged)
  int64_t max_bytes = 0;
  std::string request_id;  // [A-Za-z0-9-], echoed back
};

// The RunScript `Args` value: base64 characters only, whatever the request holds.
std::string EncodeCollectionArgs(const CollectionRequest& request);

struct CollectionOutcome {
  // collected, collected_encrypted, not_in_quarantine, hash_mismatch, too_large, upload_failed,
  // exclusion_blocked, restore_failed, defender_missing, bad_request
  std::string outcome;
  std::string detail;
  std::string sha256;
  int64_t size = 0;
  std::string request_id;
  bool Collected() const { return outcome == "collected" || outcome == "collected_encrypted"; }
};

// Reads a RunScript result download ({"script_name","exit_code","script_output","script_errors"}).
// kProtocol when there is no well-formed outcome line or the outcome is not one the script
// can write (a truncated or foreign transcript).
Result<CollectionOutcome> ParseCollectionTranscript(std::string_view transcript);

}  // namespace vc::defender
