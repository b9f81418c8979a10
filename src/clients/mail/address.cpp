#include "clients/mail/address.hpp"

#include <fmt/format.h>

#include <cctype>
#include <string>

namespace vc::mail {
namespace {

bool IsAtext(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return false;
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}

// Printable ASCII only, so the error can quote the address without carrying a line break.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 120)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

Error Invalid(std::string_view address, std::string_view why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("invalid e-mail address \"{}\": {}; write it as name@example.com",
                               Printable(address), why));
}

}  // namespace

Status ValidateAddress(std::string_view address) {
  if (address.empty()) return Invalid(address, "it is empty");
  if (address.size() > 254) return Invalid(address, "it is longer than 254 characters");
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) return Invalid(address, "it has no '@'");
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64) {
    return Invalid(address, "the part before '@' must be 1 to 64 characters");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return Invalid(address, "the part before '@' has a misplaced '.'");
  }
  for (char c : local) {
    if (c != '.' && !IsAtext(c)) {
      return Invalid(
          address,
          "the part before '@' may hold only letters, digits, '.' and !#$%&'*+/=?^_`{|}~-");
    }
  }
  if (domain.empty()) return Invalid(address, "the domain after '@' is empty");
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    const std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63) {
      return Invalid(address, "the domain has an empty or over-long label");
    }
    if (label.front() == '-' || label.back() == '-') {
      return Invalid(address, "a domain label starts or ends with '-'");
    }
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80 || !(std::isalnum(u) || c == '-')) {
        return Invalid(address, "the domain may hold only letters, digits, '-' and '.'");
      }
    }
    start = dot + 1;
  }
  return Ok();
}

std::string DomainOf(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

}  // namespace vc::mail
