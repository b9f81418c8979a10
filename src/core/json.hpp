// Strict reading of JSON from outside the process. A missing field, a wrong type or an
// out-of-range number becomes a Protocol error naming the JSON path, never an exception and
// never a default that silently hides a broken response.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc {

using Json = nlohmann::json;

// Parses text from a service; the error names `what` and the byte offset, not the content
// (which may hold secrets or be huge).
Result<Json> ParseJson(std::string_view text, std::string_view what);

// Reads fields of one JSON object and remembers the first problem. Accessors return a neutral
// value after a problem, so a model can be read top to bottom and checked once at the end.
class JsonReader {
 public:
  JsonReader(const Json& object, std::string path);

  std::string Str(std::string_view key);
  std::optional<std::string> OptStr(std::string_view key);  // missing or null -> nullopt
  int64_t Int(std::string_view key, int64_t min = std::numeric_limits<int64_t>::min(),
              int64_t max = std::numeric_limits<int64_t>::max());
  std::optional<int64_t> OptInt(std::string_view key,
                                int64_t min = std::numeric_limits<int64_t>::min(),
                                int64_t max = std::numeric_limits<int64_t>::max());
  bool Bool(std::string_view key);
  std::optional<bool> OptBool(std::string_view key);
  // Array or object members; a missing key gives an empty array when optional.
  const Json& Array(std::string_view key);
  const Json& OptArray(std::string_view key);
  const Json& Object(std::string_view key);
  std::vector<std::string> StrArray(std::string_view key, bool optional = true);

  bool ok() const { return !error_.has_value(); }
  Status status() const;
  std::string PathOf(std::string_view key) const;
  void Fail(std::string_view key, std::string_view problem);

 private:
  const Json* Find(std::string_view key, bool required);

  const Json& object_;
  std::string path_;
  std::optional<Error> error_;
};

}  // namespace vc
