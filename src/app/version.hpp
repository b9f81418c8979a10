#pragma once

#include <string_view>

namespace vc {

inline constexpr std::string_view kVersion = "0.1.0";
inline constexpr std::string_view kUserAgent = "vmray-connector/0.1.0";
// Microsoft's partner convention MdePartner-<Company>-<Product>/<Version>, as the original uses.
inline constexpr std::string_view kMdeUserAgent = "MdePartner-VMRay-VMRayConnector/0.1.0";
inline constexpr std::string_view kVmrayUserAgent = "VMRayRestAPI/5.2.1 (vmray-connector 0.1.0)";

}  // namespace vc
