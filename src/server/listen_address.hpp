// The ops listener's address as configured ("host:port"), checked before anything binds.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc::server {

struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 literal, or "localhost"
  int port = 0;      // 0: any free port (tests)
};

// "127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", "localhost:0". The error names the key and
// shows the accepted form.
Result<ListenAddress> ParseListenAddress(std::string_view text);
bool IsLoopback(const ListenAddress& address);

}  // namespace vc::server
