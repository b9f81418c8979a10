#include "core/json.hpp"

#include <fmt/format.h>

namespace vc {
namespace {
const Json& EmptyArray() {
  static const Json kEmpty = Json::array();
  return kEmpty;
}
const Json& EmptyObject() {
  static const Json kEmpty = Json::object();
  return kEmpty;
}
}  // namespace

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Locate the failure without echoing content: parse again with exceptions for the offset.
    size_t offset = text.size();
    try {
      [[maybe_unused]] Json again = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
      offset = e.byte;
    } catch (...) {
    }
    return MakeError(ErrorCode::kProtocol,
                     fmt::format("malformed JSON from {} ({} bytes, parse error near byte {})",
                                 what, text.size(), offset));
  }
  return j;
}

JsonReader::JsonReader(const Json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    error_ = MakeError(ErrorCode::kProtocol, fmt::format("{}: expected a JSON object, got {}",
                                                         path_, object_.type_name()));
  }
}

std::string JsonReader::PathOf(std::string_view key) const {
  return fmt::format("{}.{}", path_, key);
}

void JsonReader::Fail(std::string_view key, std::string_view problem) {
  if (!error_) {
    error_ = MakeError(ErrorCode::kProtocol, fmt::format("{}: {}", PathOf(key), problem));
  }
}

Status JsonReader::status() const {
  if (error_) return *error_;
  return Ok();
}

const Json* JsonReader::Find(std::string_view key, bool required) {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required) Fail(key, "required field is missing");
    return nullptr;
  }
  return &*it;
}

std::string JsonReader::Str(std::string_view key) {
  auto v = OptStr(key);
  if (!v && ok()) Fail(key, "required field is missing");
  return v.value_or("");
}

std::optional<std::string> JsonReader::OptStr(std::string_view key) {
  const Json* v = Find(key, false);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    Fail(key, fmt::format("expected a string, got {}", v->type_name()));
    return std::nullopt;
  }
  return v->get<std::string>();
}

int64_t JsonReader::Int(std::string_view key, int64_t min, int64_t max) {
  auto v = OptInt(key, min, max);
  if (!v && ok()) Fail(key, "required field is missing");
  return v.value_or(0);
}

std::optional<int64_t> JsonReader::OptInt(std::string_view key, int64_t min, int64_t max) {
  const Json* v = Find(key, false);
  if (!v) return std::nullopt;
  int64_t value = 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(key, "number out of range");
      return std::nullopt;
    }
    value = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    value = v->get<int64_t>();
  } else {
    Fail(key, fmt::format("expected an integer, got {}", v->type_name()));
    return std::nullopt;
  }
  if (value < min || value > max) {
    Fail(key, fmt::format("number {} out of range [{}, {}]", value, min, max));
    return std::nullopt;
  }
  return value;
}

bool JsonReader::Bool(std::string_view key) {
  auto v = OptBool(key);
  if (!v && ok()) Fail(key, "required field is missing");
  return v.value_or(false);
}

std::optional<bool> JsonReader::OptBool(std::string_view key) {
  const Json* v = Find(key, false);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    Fail(key, fmt::format("expected a boolean, got {}", v->type_name()));
    return std::nullopt;
  }
  return v->get<bool>();
}

const Json& JsonReader::Array(std::string_view key) {
  const Json* v = Find(key, true);
  if (!v) return EmptyArray();
  if (!v->is_array()) {
    Fail(key, fmt::format("expected an array, got {}", v->type_name()));
    return EmptyArray();
  }
  return *v;
}

const Json& JsonReader::OptArray(std::string_view key) {
  const Json* v = Find(key, false);
  if (!v) return EmptyArray();
  if (!v->is_array()) {
    Fail(key, fmt::format("expected an array, got {}", v->type_name()));
    return EmptyArray();
  }
  return *v;
}

const Json& JsonReader::Object(std::string_view key) {
  const Json* v = Find(key, true);
  if (!v) return EmptyObject();
  if (!v->is_object()) {
    Fail(key, fmt::format("expected an object, got {}", v->type_name()));
    return EmptyObject();
  }
  return *v;
}

std::vector<std::string> JsonReader::StrArray(std::string_view key, bool optional) {
  const Json& arr = optional ? OptArray(key) : Array(key);
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) {
      Fail(fmt::format("{}[{}]", key, i), "expected a string");
      return {};
    }
    out.push_back(arr[i].get<std::string>());
  }
  return out;
}

}  // namespace vc
