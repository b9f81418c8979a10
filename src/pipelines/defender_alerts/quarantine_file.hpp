// Microsoft Defender quarantine resource files (ResourceData\<xx>\<SHA-1>): the original file,
// RC4-encrypted with a fixed key from mpengine.dll behind a small header. The collection
// script's "encrypted" mode uploads such a file as it is, so no malware is restored on the
// device; the connector decrypts it here. Format as published by ERNW and defender-dump:
//   decrypted[0x08..0x0C)  = security descriptor length (sd_len, little endian)
//   header length          = 0x28 + sd_len
//   decrypted[sd_len+0x1C] = original size (8 bytes, little endian)
//   original bytes         = decrypted[header length, header length + size)
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc::defender {

// The original file; kProtocol when the data is too short or the sizes do not fit,
// kInvalidArgument when the original is larger than `max_output`.
Result<std::string> DecryptQuarantineResource(std::string_view encrypted, size_t max_output);

// Builds a resource file around `original` (emulators and tests model the device with it).
std::string EncryptQuarantineResource(std::string_view original, size_t sd_len = 0x24);

}  // namespace vc::defender
