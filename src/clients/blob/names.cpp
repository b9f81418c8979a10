#include "clients/blob/names.hpp"

#include <fmt/format.h>

#include <optional>

#include "http/curl_transport.hpp"

namespace vc::blob {
namespace {

constexpr size_t kMaxBlobNameChars = 1024;
constexpr size_t kMaxBlobSegments = 254;

// Length in bytes of the UTF-8 sequence starting at text[pos], or nullopt when it is not a
// well-formed sequence (overlong forms, surrogates and values past U+10FFFF included).
std::optional<size_t> Utf8SequenceLength(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((lead & 0xE0) == 0xC0) {
    len = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4;
    cp = lead & 0x07;
  } else {
    return std::nullopt;
  }
  if (pos + len > text.size()) return std::nullopt;
  for (size_t i = 1; i < len; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  return len;
}

bool IsControl(unsigned char c) {
  return c < 0x20 || c == 0x7F;
}

Error NameError(std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.service = "blob";
  return e;
}

}  // namespace

Status ValidateContainerName(std::string_view name) {
  // Container names are DNS labels and contain no secrets; quoting them helps the user.
  const std::string shown = fmt::format("container name '{}'", name.substr(0, 80));
  if (name.size() < 3 || name.size() > 63) {
    return NameError(shown + " must be 3 to 63 characters long");
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return NameError(shown + " may contain only lower-case letters, digits and '-'");
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return NameError(shown + " must start and end with a letter or digit");
  }
  if (name.find("--") != std::string_view::npos) {
    return NameError(shown + " must not contain two '-' in a row");
  }
  return Ok();
}

Status ValidateBlobName(std::string_view name) {
  if (name.empty()) return NameError("blob name is empty");
  size_t chars = 0;
  for (size_t pos = 0; pos < name.size();) {
    auto len = Utf8SequenceLength(name, pos);
    if (!len) return NameError(fmt::format("blob name is not valid UTF-8 at byte {}", pos));
    if (*len == 1 && IsControl(static_cast<unsigned char>(name[pos]))) {
      return NameError(fmt::format("blob name contains a control character at byte {}", pos));
    }
    if (name[pos] == '\\') {
      return NameError("blob name contains '\\'; use '/' to separate path segments");
    }
    pos += *len;
    ++chars;
  }
  if (chars > kMaxBlobNameChars) {
    return NameError(
        fmt::format("blob name has {} characters, more than {}", chars, kMaxBlobNameChars));
  }
  if (name.back() == '/' || name.back() == '.') {
    return NameError("blob name must not end with '/' or '.'");
  }
  size_t segments = 0;
  size_t start = 0;
  for (;;) {
    const size_t slash = name.find('/', start);
    const std::string_view segment = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    ++segments;
    if (segment.empty())
      return NameError("blob name has an empty path segment ('//' or leading '/')");
    if (segment == "." || segment == "..") {
      return NameError("blob name has a '.' or '..' path segment");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (segments > kMaxBlobSegments) {
    return NameError(
        fmt::format("blob name has {} path segments, more than {}", segments, kMaxBlobSegments));
  }
  return Ok();
}

std::string EncodeBlobPath(std::string_view name) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t slash = name.find('/', start);
    out += http::UrlEncode(name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string BlobNameSegment(std::string_view text, size_t max_bytes) {
  if (max_bytes == 0) max_bytes = 1;
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    auto len = Utf8SequenceLength(text, pos);
    const size_t take = len.value_or(1);
    std::string_view piece = text.substr(pos, take);
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    const bool replace = !len || (take == 1 && (IsControl(c) || c == '/' || c == '\\'));
    const size_t piece_bytes = replace ? 1 : take;
    if (out.size() + piece_bytes > max_bytes) break;  // never cut a character in half
    if (replace) {
      out += '_';
    } else {
      out.append(piece);
    }
    pos += take;
  }
  // A trailing dot is refused by the service and "." / ".." would be path steps.
  while (!out.empty() && out.back() == '.') out.back() = '_';
  if (out.empty()) out = "_";
  return out;
}

}  // namespace vc::blob
