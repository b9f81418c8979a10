#include <type_traits>

#include "config/sources.hpp"

namespace vc::config {

void StoreValue(const KeySpec& spec, const Value& value, Config& config) {
  std::visit(
      [&](auto* field) {
        using Field = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, Secret<>>) {
          *field = Secret<>(std::get<std::string>(value));
        } else if constexpr (std::is_same_v<Field, int>) {
          // The schema range keeps every int key inside int.
          *field = static_cast<int>(std::get<int64_t>(value));
        } else {
          *field = std::get<Field>(value);
        }
      },
      spec.bind(config));
}

Value LoadValue(const KeySpec& spec, Config& config) {
  return std::visit(
      [](auto* field) -> Value {
        using Field = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, Secret<>>) {
          return field->Reveal();
        } else if constexpr (std::is_same_v<Field, int>) {
          return static_cast<int64_t>(*field);
        } else {
          return *field;
        }
      },
      spec.bind(config));
}

}  // namespace vc::config
