#include "clients/blob/xml.hpp"

#include <cctype>
#include <cstdint>

namespace vc::blob {
namespace {

bool IsNameEnd(char c) {
  return c == '>' || c == '/' || std::isspace(static_cast<unsigned char>(c));
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes "#NN" / "#xHH" (without '&' and ';'); nullopt when it is not a valid code point.
std::optional<uint32_t> CharReference(std::string_view ref) {
  if (ref.size() < 2 || ref[0] != '#') return std::nullopt;
  const bool hex = ref[1] == 'x' || ref[1] == 'X';
  std::string_view digits = ref.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  uint32_t cp = 0;
  for (char c : digits) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (hex && c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (hex && c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
  }
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return cp;
}

}  // namespace

std::vector<XmlElement> XmlElements(std::string_view xml, std::string_view name) {
  std::vector<XmlElement> out;
  if (name.empty()) return out;
  const std::string open = "<" + std::string(name);
  const std::string close = "</" + std::string(name) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t after_name = pos + open.size();
    if (after_name >= xml.size()) break;
    if (!IsNameEnd(xml[after_name])) {  // <NameX> is another element
      pos = after_name;
      continue;
    }
    const size_t gt = xml.find('>', after_name);
    if (gt == std::string_view::npos) break;
    XmlElement e;
    if (xml[gt - 1] == '/') {  // <Name/> or <Name a="b"/>
      e.attributes = xml.substr(after_name, gt - 1 - after_name);
      out.push_back(e);
      pos = gt + 1;
      continue;
    }
    e.attributes = xml.substr(after_name, gt - after_name);
    const size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    e.inner = xml.substr(gt + 1, end - gt - 1);
    out.push_back(e);
    pos = end + close.size();
  }
  return out;
}

std::optional<std::string> XmlFirstText(std::string_view xml, std::string_view name) {
  auto elements = XmlElements(xml, name);
  if (elements.empty()) return std::nullopt;
  return XmlUnescape(elements.front().inner);
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const size_t semi = text.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 12) {
      out += '&';
      continue;
    }
    const std::string_view ref = text.substr(i + 1, semi - i - 1);
    if (ref == "amp") {
      out += '&';
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (auto cp = CharReference(ref)) {
      AppendUtf8(out, *cp);
    } else {
      out += '&';
      continue;
    }
    i = semi;
  }
  return out;
}

std::optional<std::string> XmlAttribute(std::string_view attributes, std::string_view name) {
  size_t pos = 0;
  while ((pos = attributes.find(name, pos)) != std::string_view::npos) {
    const bool starts = pos == 0 || std::isspace(static_cast<unsigned char>(attributes[pos - 1]));
    size_t i = pos + name.size();
    while (i < attributes.size() && std::isspace(static_cast<unsigned char>(attributes[i]))) ++i;
    if (!starts || i >= attributes.size() || attributes[i] != '=') {
      pos += name.size();
      continue;
    }
    ++i;
    while (i < attributes.size() && std::isspace(static_cast<unsigned char>(attributes[i]))) ++i;
    if (i >= attributes.size() || (attributes[i] != '"' && attributes[i] != '\'')) {
      return std::nullopt;
    }
    const char quote = attributes[i];
    const size_t end = attributes.find(quote, i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return XmlUnescape(attributes.substr(i + 1, end - i - 1));
  }
  return std::nullopt;
}

}  // namespace vc::blob
