// The last stage of the pipeline: puts a Request on the wire. Transport errors (no connection,
// timeout, TLS failure, oversized answer) are Errors; every HTTP answer is a Response.
#pragma once

#include "core/result.hpp"
#include "http/request.hpp"

namespace vc::http {

// service_code values set on transport errors, so policies can tell "never sent" from "lost".
inline constexpr std::string_view kTransportConnect =
    "transport:connect";  // never reached the server
inline constexpr std::string_view kTransportTimeout = "transport:timeout";
inline constexpr std::string_view kTransportIo = "transport:io";  // sent, answer lost or cut
inline constexpr std::string_view kTransportTls = "transport:tls";
inline constexpr std::string_view kTransportTooLarge = "transport:too-large";

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Response> Send(const Request& request) = 0;
};

}  // namespace vc::http
