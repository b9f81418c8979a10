// The form of POST /rest/sample/submit, read and checked the way VMRay reads it. Problems come
// back as an Error: kProtocol for requests no correct client sends (the emulator records an
// assertion), kInvalidArgument for values VMRay itself refuses with HTTP 400.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace vc::emu::vmray {

struct SubmitForm {
  // Exactly one of file_content or url is set.
  std::optional<std::string> file_content;
  std::string part_filename;                // file name of the sample_file part
  std::optional<std::string> b64_filename;  // decoded sample_filename_b64enc
  std::optional<std::string> url;           // sample_url
  std::vector<std::string> tags;
  std::optional<std::string> comment;
  Json user_config;  // null when absent
  std::optional<std::string> analyzer_mode;
  std::optional<bool> reanalyze;
  std::optional<bool> shareable;
  std::optional<int64_t> max_jobs;
  std::optional<std::string> archive_password;
  std::optional<std::string> document_password;
  std::optional<std::string> sample_type;

  // The name VMRay records: the b64 field wins over the part's own name (which the python
  // library sets to a placeholder for non-ASCII names).
  std::string EffectiveFilename() const;
};

// `max_upload_size` bounds the request body, in bytes.
Result<SubmitForm> ParseSubmitForm(const httplib::Request& req, int64_t max_upload_size);

}  // namespace vc::emu::vmray
