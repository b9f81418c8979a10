#include "http/gzip.hpp"

#include <fmt/format.h>
#include <zlib.h>

namespace vc::http {

Result<std::string> Gunzip(std::string_view compressed, size_t max_output) {
  z_stream zs{};
  // 15 window bits + 16: gzip wrapper only (a raw or zlib stream is not what MDE sends).
  if (inflateInit2(&zs, 15 + 16) != Z_OK)
    return MakeError(ErrorCode::kInternal, "zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return MakeError(ErrorCode::kProtocol,
                       fmt::format("download is not valid gzip ({} bytes): {}", compressed.size(),
                                   zs.msg ? zs.msg : "truncated or corrupt"));
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (out.size() > max_output) {
      inflateEnd(&zs);
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("file is larger than the {} byte limit (vmray.max_file_size_bytes)",
                      max_output));
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return MakeError(ErrorCode::kProtocol, "download ends before the end of the gzip stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[64 * 1024];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = deflate(&zs, Z_FINISH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  } while (rc == Z_OK);
  deflateEnd(&zs);
  return out;
}

}  // namespace vc::http
