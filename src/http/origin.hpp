// "scheme://host[:port]" of an absolute URL, lower-cased; empty when it is not one. Clients
// compare a service's next-page link with the origin they were configured with before they
// follow it: the pipeline puts the bearer token on every request, so a link to another host
// would hand the token to whoever wrote the link.
#pragma once

#include <string>
#include <string_view>

namespace vc::http {

std::string OriginOf(std::string_view url);

}  // namespace vc::http
