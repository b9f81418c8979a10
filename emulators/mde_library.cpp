// Live response library routes of the MDE emulator: upload (multipart), list, delete.
#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "http/gzip.hpp"
#include "mde_emulator.hpp"
#include "mde_models.hpp"

namespace vc::emu {
namespace {

constexpr size_t kMaxLibraryFileBytes = 20 * 1024 * 1024;
// Form field names; ASP.NET binds them case-insensitively.
constexpr std::string_view kUploadFields[] = {"file", "Description", "ParametersDescription",
                                              "HasParameters", "OverrideIfExists"};

std::optional<bool> ParseFormBool(const std::string& text) {
  if (IEquals(text, "true")) return true;
  if (IEquals(text, "false")) return false;
  return std::nullopt;
}

}  // namespace

void MdeEmulator::UploadLibraryFile(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const auto& req = call.req;
  if (!req.is_multipart_form_data()) {
    return AssertionFailed(req, call.res,
                           "POST /api/libraryfiles needs Content-Type: multipart/form-data, got '" +
                               HeaderOr(req, "Content-Type") + "'");
  }
  auto bad = [&](const std::string& why) {
    SendError(call.res, 400, "InvalidRequestBody", "Request body is incorrect: " + why);
  };
  std::map<std::string, const httplib::MultipartFormData*> parts;  // canonical name -> part
  for (const auto& [name, part] : req.files) {
    const std::string_view* canonical = nullptr;
    for (const auto& f : kUploadFields) {
      if (IEquals(f, name)) canonical = &f;
    }
    if (!canonical) {
      return bad(
          fmt::format("unknown form field '{}' (fields: file, Description, "
                      "ParametersDescription, HasParameters, OverrideIfExists)",
                      name));
    }
    if (!parts.emplace(std::string(*canonical), &part).second) {
      return bad(fmt::format("form field '{}' given twice", name));
    }
  }
  auto file = parts.find("file");
  if (file == parts.end() || file->second->filename.empty()) {
    return bad("the file part 'file' with a file name is required");
  }
  if (file->second->content.size() > kMaxLibraryFileBytes) {
    return bad(fmt::format("the file is {} bytes; library files are limited to 20 MB",
                           file->second->content.size()));
  }
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = parts.find(name);
    return it == parts.end() ? std::nullopt : std::optional(it->second->content);
  };
  const auto description = text("Description");
  if (!description || description->empty()) return bad("'Description' is required");
  bool has_parameters = false;
  bool override_existing = false;
  for (auto [name, target] : {std::pair{"HasParameters", &has_parameters},
                              std::pair{"OverrideIfExists", &override_existing}}) {
    if (auto value = text(name)) {
      auto parsed = ParseFormBool(*value);
      if (!parsed) return bad(fmt::format("'{}' must be true or false, got '{}'", name, *value));
      *target = *parsed;
    }
  }
  const std::string file_name = file->second->filename;
  const std::string key = ToLower(file_name);
  auto existing = library_.find(key);
  if (existing != library_.end() && !override_existing) {
    return SendError(call.res, 400, "BadRequest",
                     fmt::format("A library file named {} already exists. Send "
                                 "OverrideIfExists=true to replace it.",
                                 existing->second.entry["fileName"].get<std::string>()));
  }
  const std::string now = mde::FormatTime(clock().Now());
  const auto parameters_description = text("ParametersDescription");
  LibraryFile entry;
  entry.content = file->second->content;
  entry.entry = {{"fileName", file_name},
                 {"sha256", vc::Sha256Hex(entry.content)},
                 {"description", *description},
                 {"creationTime",
                  existing != library_.end() ? existing->second.entry["creationTime"] : Json(now)},
                 {"lastUpdatedTime", now},
                 {"createdBy", call.caller},
                 {"hasParameters", has_parameters},
                 {"parametersDescription",
                  parameters_description ? Json(*parameters_description) : Json(nullptr)}};
  Json out = entry.entry;
  library_[key] = std::move(entry);
  out["@odata.context"] = Context("LibraryFiles/$entity");
  SendOData(call.res, 200, out.dump());
}

void MdeEmulator::ListLibraryFiles(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  Json value = Json::array();
  for (const auto& [_, f] : library_) value.push_back(f.entry);
  SendOData(call.res, 200,
            Json{{"@odata.context", Context("LibraryFiles")}, {"value", value}}.dump());
}

void MdeEmulator::DeleteLibraryFile(Call& call) {
  if (!AllowOnlyParams(call, {})) return;
  const std::string& name = call.segments[1];
  auto it = library_.find(ToLower(name));
  if (it == library_.end()) {
    return SendError(call.res, 404, "ResourceNotFound",
                     fmt::format("Library file {} was not found", name));
  }
  library_.erase(it);
  call.res.status = 204;
}

}  // namespace vc::emu
