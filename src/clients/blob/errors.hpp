// Blob service answers as vc::Error: the service's code (from <Error><Code> or, for HEAD and
// other bodiless answers, the x-ms-error-code header), the x-ms-request-id for a support ticket,
// and a message that says what to do. Messages never carry a signature or a key.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "http/request.hpp"

namespace vc::blob {

// service_code of errors this client raises itself (not the service).
inline constexpr std::string_view kBlobTooLarge = "blob:too-large";

// `what` completes "Azure Storage refused to ..." ("read blob c/b"); `container` is named when
// the answer is ContainerNotFound.
Error MapBlobError(const http::Response& response, std::string_view what,
                   std::string_view container);

}  // namespace vc::blob
