#include "http/origin.hpp"

#include <cctype>

namespace vc::http {

std::string OriginOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return "";
  const size_t host_end = url.find_first_of("/?#", scheme_end + 3);
  const std::string_view origin = url.substr(0, host_end);
  if (origin.size() == scheme_end + 3) return "";
  // userinfo ("https://graph.microsoft.com@evil.example") would make the host another one.
  if (origin.find('@') != std::string_view::npos) return "";
  std::string out(origin);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace vc::http
