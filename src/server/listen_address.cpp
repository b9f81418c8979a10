#include "server/listen_address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace vc::server {
namespace {

Error Bad(std::string_view text, std::string_view why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("ops.listen \"{}\" {}; write host:port, e.g. 127.0.0.1:9464 "
                               "(or [::1]:9464 for IPv6)",
                               text, why));
}

bool IsIpv4(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Bad(text, "has no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  bool bracketed = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  }
  if (host.empty()) return Bad(text, "has no host");
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return Bad(text, "has no valid port (0 to 65535)");
  }
  ListenAddress address{std::string(host), port};
  if (bracketed ? !IsIpv6(address.host) : !(IsIpv4(address.host) || address.host == "localhost")) {
    return Bad(text, "needs an IP address literal or localhost as host");
  }
  return address;
}

bool IsLoopback(const ListenAddress& address) {
  if (address.host == "localhost" || address.host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, address.host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

}  // namespace vc::server
