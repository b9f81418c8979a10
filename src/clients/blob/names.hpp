// Azure Blob naming rules and the URL path of a blob. Names are checked before any request, so a
// bad name fails with a message that says which rule it broke instead of a bare 400 from the
// service; and a name assembled from alert data can never climb out of its container.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc::blob {

// 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit, no "--".
Status ValidateContainerName(std::string_view name);

// 1-1024 characters of valid UTF-8, at most 254 '/'-separated segments, none of them empty,
// "." or "..", no trailing '.' or '/'. Stricter than the service on purpose: control characters
// and '\' are refused too, because some clients and proxies turn '\' into '/' and control
// characters do not survive logs and scripts.
Status ValidateBlobName(std::string_view name);

// The blob name as a URL path: each segment percent-encoded (UTF-8), joined by '/'.
std::string EncodeBlobPath(std::string_view name);

// Turns arbitrary text (an alert id, a file name from a device) into one safe path segment:
// '/', '\', control characters and invalid UTF-8 become '_', a segment made only of dots or
// ending in one is fixed, and the result is cut to `max_bytes` on a character boundary. The
// result always passes ValidateBlobName on its own.
std::string BlobNameSegment(std::string_view text, size_t max_bytes = 200);

}  // namespace vc::blob
