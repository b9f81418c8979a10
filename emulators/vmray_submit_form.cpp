#include "vmray_submit_form.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <string_view>

#include "vmray_digest.hpp"

namespace vc::emu::vmray {
namespace {

// The documented form fields; `prescript_filename_b64enc` is what the python library adds for a
// non-ASCII prescript name, as it does for `sample_file`.
constexpr std::array<std::string_view, 17> kAllowedFields = {"sample_file",
                                                             "sample_url",
                                                             "sample_filename_b64enc",
                                                             "tags",
                                                             "comment",
                                                             "user_config",
                                                             "reanalyze",
                                                             "analyzer_mode",
                                                             "archive_password",
                                                             "document_password",
                                                             "sample_type",
                                                             "shareable",
                                                             "max_jobs",
                                                             "prescript_file",
                                                             "prescript_filename_b64enc",
                                                             "jobrule_entries",
                                                             "webhook_notification"};

constexpr std::array<std::string_view, 5> kAnalyzerModes = {
    "reputation", "reputation_static", "reputation_static_dynamic", "static_dynamic", "static"};

struct Field {
  std::string value;
  std::string filename;
  bool is_file = false;
};

Error Violation(std::string message) {
  return MakeError(ErrorCode::kProtocol, std::move(message));
}
Error Refused(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

bool IsTagChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
         c == '-';
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "1") return true;
  if (text == "false" || text == "False" || text == "0") return false;
  return std::nullopt;
}

std::string AllowedList() {
  std::string out;
  for (auto f : kAllowedFields) out += (out.empty() ? "" : ", ") + std::string(f);
  return out;
}

Result<std::map<std::string, Field>> CollectFields(const httplib::Request& req, bool multipart) {
  std::map<std::string, Field> fields;
  auto add = [&](const std::string& name, Field f) -> Result<void> {
    if (!fields.emplace(name, std::move(f)).second) {
      return Violation(fmt::format("form field '{}' was sent more than once", name));
    }
    return Ok();
  };
  if (multipart) {
    if (!req.params.empty()) {
      return Violation("submit parameters belong in the multipart body, not in the query string");
    }
    for (const auto& [name, part] : req.files) {
      VC_RETURN_IF_ERROR(add(name, Field{part.content, part.filename, !part.filename.empty()}));
    }
  } else {
    for (const auto& [name, value] : req.params)
      VC_RETURN_IF_ERROR(add(name, Field{value, "", false}));
  }
  return fields;
}

}  // namespace

std::string SubmitForm::EffectiveFilename() const {
  if (url) return *url;
  return b64_filename.value_or(part_filename);
}

Result<SubmitForm> ParseSubmitForm(const httplib::Request& req, int64_t max_upload_size) {
  const std::string content_type = req.get_header_value("Content-Type");
  const bool multipart = req.is_multipart_form_data();
  const bool urlencoded = content_type.rfind("application/x-www-form-urlencoded", 0) == 0;
  if (!multipart && !urlencoded) {
    return Violation(fmt::format(
        "submit must be multipart/form-data (or form-urlencoded for a URL), got Content-Type "
        "'{}'",
        content_type));
  }
  const std::string length_text = req.get_header_value("Content-Length");
  uint64_t length = 0;
  std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (length > static_cast<uint64_t>(max_upload_size)) {
    return Refused(fmt::format("Upload of {} bytes exceeds the maximum upload size of {} bytes",
                               length, max_upload_size));
  }
  VC_ASSIGN_OR_RETURN(auto fields, CollectFields(req, multipart));

  for (const auto& [name, field] : fields) {
    if (std::find(kAllowedFields.begin(), kAllowedFields.end(), name) == kAllowedFields.end()) {
      return Violation(
          fmt::format("unknown submit form field '{}' (allowed: {})", name, AllowedList()));
    }
    if (field.is_file && name != "sample_file" && name != "prescript_file") {
      return Violation(fmt::format("form field '{}' must be a plain field, not a file part", name));
    }
  }

  SubmitForm form;
  auto file = fields.find("sample_file");
  auto url = fields.find("sample_url");
  if ((file == fields.end()) == (url == fields.end())) {
    return Violation(
        "submit needs exactly one of the file part 'sample_file' or the field "
        "'sample_url'");
  }
  if (file != fields.end()) {
    if (!file->second.is_file) {
      return Violation(
          "'sample_file' must be a file part with a filename in its "
          "Content-Disposition");
    }
    if (file->second.value.empty()) return Refused("The submitted file 'sample_file' is empty");
    if (file->second.value.size() > static_cast<uint64_t>(max_upload_size)) {
      return Refused(fmt::format("File of {} bytes exceeds the maximum upload size of {} bytes",
                                 file->second.value.size(), max_upload_size));
    }
    form.file_content = file->second.value;
    form.part_filename = file->second.filename;
  } else {
    if (url->second.value.empty()) return Refused("'sample_url' is empty");
    form.url = url->second.value;
  }

  if (auto it = fields.find("sample_filename_b64enc"); it != fields.end()) {
    if (!form.file_content) {
      return Violation(
          "'sample_filename_b64enc' names the 'sample_file' part; it makes no sense "
          "with 'sample_url'");
    }
    auto decoded = DecodeBase64(it->second.value);
    if (!decoded || decoded->empty() || !IsValidUtf8(*decoded)) {
      return Violation(
          "'sample_filename_b64enc' must be the standard base64 (with padding) of a "
          "non-empty UTF-8 file name");
    }
    form.b64_filename = std::move(*decoded);
  }

  if (auto it = fields.find("tags"); it != fields.end()) {
    std::string_view rest = it->second.value;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view tag = rest.substr(0, comma);
      if (tag.empty() || !std::all_of(tag.begin(), tag.end(), IsTagChar)) {
        return Refused(fmt::format(
            "Invalid tag '{}': tags must be non-empty and use only letters, digits, '_', '.', "
            "':' and '-'",
            tag));
      }
      form.tags.emplace_back(tag);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (auto it = fields.find("comment"); it != fields.end()) form.comment = it->second.value;
  for (auto [name, target] : {std::pair{"archive_password", &form.archive_password},
                              std::pair{"document_password", &form.document_password},
                              std::pair{"sample_type", &form.sample_type}}) {
    if (auto it = fields.find(name); it != fields.end()) *target = it->second.value;
  }

  for (const char* name : {"user_config", "webhook_notification"}) {
    auto it = fields.find(name);
    if (it == fields.end()) continue;
    Json parsed = Json::parse(it->second.value, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return Refused(
          fmt::format("Invalid '{}': expected a JSON object such as "
                      "{{\"timeout\": 120}}",
                      name));
    }
    if (std::string_view(name) == "user_config") form.user_config = std::move(parsed);
  }

  if (auto it = fields.find("analyzer_mode"); it != fields.end()) {
    const std::string& mode = it->second.value;
    if (std::find(kAnalyzerModes.begin(), kAnalyzerModes.end(), mode) == kAnalyzerModes.end()) {
      return Refused(
          fmt::format("Invalid analyzer_mode '{}': use reputation, reputation_static, "
                      "reputation_static_dynamic, static_dynamic or static",
                      mode));
    }
    form.analyzer_mode = mode;
  }
  for (auto [name, target] :
       {std::pair{"reanalyze", &form.reanalyze}, std::pair{"shareable", &form.shareable}}) {
    auto it = fields.find(name);
    if (it == fields.end()) continue;
    *target = ParseBool(it->second.value);
    if (!*target) {
      return Refused(
          fmt::format("Invalid '{}' value '{}': use true or false", name, it->second.value));
    }
  }
  if (auto it = fields.find("max_jobs"); it != fields.end()) {
    const std::string& text = it->second.value;
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1) {
      return Refused(fmt::format("Invalid max_jobs '{}': use a positive integer", text));
    }
    form.max_jobs = value;
  }
  return form;
}

}  // namespace vc::emu::vmray
