// Microsoft Graph's error envelope {"error":{"code","message","innerError":{"request-id"}}} as a
// vc::Error with service "graph": one mapping for every Graph client, so a 403 always names the
// application permission to grant and a 429 always carries Retry-After.
#pragma once

#include <string>

#include "core/result.hpp"
#include "http/request.hpp"

namespace vc::graph {

struct GraphErrorContext {
  std::string permission;  // the application permission a 403 asks for, e.g. Mail.Send
  std::string subject;     // what a 404 did not find, e.g. "the incident"
};

Error MapGraphError(const http::Response& r, const std::string& what,
                    const GraphErrorContext& context);

}  // namespace vc::graph
