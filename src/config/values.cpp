#include "config/values.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

namespace vc::config {
namespace {

constexpr size_t kMaxShown = 80;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Quoted, shortened and free of control characters, so a value cannot garble the output.
std::string ShowText(std::string_view text) {
  std::string shown = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    shown.push_back(std::iscntrl(c) ? '?' : static_cast<char>(c));
  }
  if (text.size() > kMaxShown) shown += "...";
  shown += "\"";
  return shown;
}

std::string Shown(const KeySpec& spec, std::string_view text) {
  if (spec.type == KeyType::kSecret) return "a value that is not shown because it is secret";
  return ShowText(text);
}

std::string QuotedList(const std::vector<std::string_view>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + std::string(values[i]) + "\"";
  }
  return out;
}

std::string DescribeNode(const KeySpec& spec, const toml::node& node) {
  std::string kind;
  if (node.is_string()) {
    kind = "a string";
  } else if (node.is_integer()) {
    kind = "an integer";
  } else if (node.is_floating_point()) {
    kind = "a float";
  } else if (node.is_boolean()) {
    kind = "a boolean";
  } else if (node.is_array()) {
    kind = "an array";
  } else if (node.is_table()) {
    kind = "a table";
  } else {
    kind = "a date/time";
  }
  if (spec.type == KeyType::kSecret) return kind + " (not shown because the key is secret)";
  if (auto s = node.value_exact<std::string>()) return kind + " " + ShowText(*s);
  if (auto i = node.value_exact<int64_t>()) return kind + " " + std::to_string(*i);
  if (auto d = node.value_exact<double>()) return kind + " " + fmt::format("{}", *d);
  if (auto b = node.value_exact<bool>()) return kind + (*b ? " true" : " false");
  return kind;
}

Result<Value> CheckInt(const KeySpec& spec, int64_t value) {
  if (value < spec.min || value > spec.max) {
    return Invalid(fmt::format("{} is out of range: expected {}", value, AcceptedValues(spec)));
  }
  return Value(value);
}

// Shared by environment and TOML once the raw input is known to be text.
Result<Value> CheckString(const KeySpec& spec, std::string text) {
  switch (spec.type) {
    case KeyType::kEnum: {
      if (auto canonical = MatchEnum(spec.values, Trim(text))) return Value(*canonical);
      return Invalid(fmt::format("expected {}, got {}", AcceptedValues(spec), Shown(spec, text)));
    }
    case KeyType::kUrl: {
      if (Trim(text).empty()) return Value(std::string());
      auto url = CheckUrl(Trim(text));
      if (!url) return url.error();
      return Value(std::move(url).value());
    }
    default:
      return Value(std::move(text));
  }
}

Result<Value> CheckList(const KeySpec& spec, const std::vector<std::string>& raw) {
  std::vector<std::string> items;
  for (const auto& item : raw) {
    std::string_view trimmed = Trim(item);
    if (!trimmed.empty()) items.emplace_back(trimmed);
  }
  if (spec.type != KeyType::kEnumList) return Value(std::move(items));
  if (items.empty())
    return Invalid(fmt::format("expected {}, got an empty list", AcceptedValues(spec)));
  std::vector<std::string> canonical;
  std::vector<std::string> unknown;
  for (const auto& item : items) {
    auto match = MatchEnum(spec.values, item);
    if (!match) {
      unknown.push_back(ShowText(item));
    } else if (std::find(canonical.begin(), canonical.end(), *match) == canonical.end()) {
      canonical.push_back(*match);
    }
  }
  if (!unknown.empty()) {
    return Invalid(fmt::format("unknown value{} {}; expected {}", unknown.size() > 1 ? "s" : "",
                               fmt::join(unknown, ", "), AcceptedValues(spec)));
  }
  return Value(std::move(canonical));
}

}  // namespace

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ToUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<bool> ParseBool(std::string_view text) {
  text = Trim(text);
  for (std::string_view yes : {"true", "1", "yes"}) {
    if (IEquals(text, yes)) return true;
  }
  for (std::string_view no : {"false", "0", "no"}) {
    if (IEquals(text, no)) return false;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<std::vector<std::string>> ParseList(std::string_view text) {
  std::string_view trimmed = Trim(text);
  std::vector<std::string> items;
  // The Logic App parameters were written as JSON arrays; accept them as they were.
  if (!trimmed.empty() && trimmed.front() == '[') {
    auto json = nlohmann::json::parse(trimmed, nullptr, /*allow_exceptions=*/false);
    bool ok = json.is_array() &&
              std::all_of(json.begin(), json.end(), [](const auto& e) { return e.is_string(); });
    if (!ok) {
      return Invalid(
          "starts with [ but is not a JSON array of strings; write [\"New\",\"InProgress\"] or "
          "the comma-separated form New,InProgress");
    }
    for (const auto& element : json) {
      std::string_view item = Trim(element.template get_ref<const std::string&>());
      if (!item.empty()) items.emplace_back(item);
    }
    return items;
  }
  size_t pos = 0;
  while (pos <= trimmed.size()) {
    size_t comma = trimmed.find(',', pos);
    if (comma == std::string_view::npos) comma = trimmed.size();
    std::string_view item = Trim(trimmed.substr(pos, comma - pos));
    if (!item.empty()) items.emplace_back(item);
    pos = comma + 1;
  }
  return items;
}

std::optional<std::string> MatchEnum(const std::vector<std::string_view>& values,
                                     std::string_view text) {
  text = Trim(text);
  for (std::string_view value : values) {
    if (IEquals(value, text)) return std::string(value);
  }
  return std::nullopt;
}

bool IsLoopbackHost(std::string_view host) {
  return IEquals(host, "localhost") || host == "127.0.0.1" || host == "::1" || host == "[::1]";
}

Result<std::string> CheckUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Invalid(
        fmt::format("expected an absolute URL starting with https://, got {}", ShowText(url)));
  }
  std::string scheme = ToLower(url.substr(0, scheme_end));
  if (scheme != "https" && scheme != "http") {
    return Invalid(fmt::format("expected an https:// URL, got scheme {} in {}", ShowText(scheme),
                               ShowText(url)));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    // Not shown: the part before '@' is a user name and maybe a password.
    return Invalid("must not contain a user name or password (user:password@host)");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Invalid(fmt::format("must not contain a query or fragment, got {}", ShowText(url)));
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return Invalid(fmt::format("has an unterminated IPv6 address, got {}", ShowText(url)));
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') {
      return Invalid(fmt::format("has text after the IPv6 address, got {}", ShowText(url)));
    }
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  if (host.empty() || host == "[]") {
    return Invalid(fmt::format("has no host, got {}", ShowText(url)));
  }
  bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '[' || c == ']';
  });
  if (!host_ok) return Invalid(fmt::format("has an invalid host, got {}", ShowText(url)));
  if (!port.empty()) {
    auto number = ParseInt(port.substr(1));
    if (port.size() < 2 || !number || *number < 1 || *number > 65535 ||
        !std::isdigit(static_cast<unsigned char>(port[1]))) {
      return Invalid(fmt::format("has an invalid port, got {}", ShowText(url)));
    }
  }
  std::string_view bare_host = host;
  if (bare_host.front() == '[') bare_host = bare_host.substr(1, bare_host.size() - 2);
  if (scheme == "http" && !IsLoopbackHost(bare_host)) {
    return Invalid(fmt::format(
        "plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost) because "
        "API keys and tokens would otherwise travel in clear text; use https://, got {}",
        ShowText(url)));
  }
  while (!url.empty() && url.back() == '/' && url.size() > scheme_end + 3 + authority.size()) {
    url.remove_suffix(1);
  }
  return std::string(url);
}

std::string AcceptedValues(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kString:
    case KeyType::kSecret:
      return "a string";
    case KeyType::kBool:
      return "true or false (in the environment also True/False, 1/0, yes/no)";
    case KeyType::kInt:
      return fmt::format("an integer from {} to {}", spec.min, spec.max);
    case KeyType::kEnum:
      return "one of " + QuotedList(spec.values) + " (any letter case)";
    case KeyType::kStringList:
      return "a list of strings";
    case KeyType::kEnumList:
      return "a non-empty list of " + QuotedList(spec.values) + " (any letter case)";
    case KeyType::kUrl:
      return "an https:// URL (http:// only for 127.0.0.1, ::1 or localhost)";
  }
  return "";
}

Result<Value> ValueFromText(const KeySpec& spec, std::string_view text) {
  switch (spec.type) {
    case KeyType::kBool: {
      if (auto value = ParseBool(text)) return Value(*value);
      return Invalid(fmt::format("expected {}, got {}", AcceptedValues(spec), ShowText(text)));
    }
    case KeyType::kInt: {
      auto value = ParseInt(text);
      if (!value) {
        return Invalid(fmt::format("expected {}, got {}", AcceptedValues(spec), ShowText(text)));
      }
      return CheckInt(spec, *value);
    }
    case KeyType::kStringList:
    case KeyType::kEnumList: {
      auto items = ParseList(text);
      if (!items) return items.error();
      return CheckList(spec, *items);
    }
    default:
      return CheckString(spec, std::string(text));
  }
}

Result<Value> ValueFromToml(const KeySpec& spec, const toml::node& node) {
  auto wrong_type = [&] {
    return Invalid(
        fmt::format("expected {}, got {}", AcceptedValues(spec), DescribeNode(spec, node)));
  };
  switch (spec.type) {
    case KeyType::kBool: {
      if (auto value = node.value_exact<bool>()) return Value(*value);
      return wrong_type();
    }
    case KeyType::kInt: {
      if (auto value = node.value_exact<int64_t>()) return CheckInt(spec, *value);
      return wrong_type();
    }
    case KeyType::kStringList:
    case KeyType::kEnumList: {
      const toml::array* array = node.as_array();
      if (array == nullptr) return wrong_type();
      std::vector<std::string> items;
      for (const auto& element : *array) {
        auto text = element.value_exact<std::string>();
        if (!text) {
          return Invalid(fmt::format("expected {}, got an array holding {}", AcceptedValues(spec),
                                     DescribeNode(spec, element)));
        }
        items.push_back(std::move(*text));
      }
      return CheckList(spec, items);
    }
    default: {
      auto text = node.value_exact<std::string>();
      if (!text) return wrong_type();
      return CheckString(spec, std::move(*text));
    }
  }
}

std::string QuoteToml(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (std::iscntrl(static_cast<unsigned char>(c))) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

std::string ToTomlText(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return QuoteToml(*text);
  if (const auto* flag = std::get_if<bool>(&value)) return *flag ? "true" : "false";
  if (const auto* number = std::get_if<int64_t>(&value)) return std::to_string(*number);
  const auto& items = std::get<std::vector<std::string>>(value);
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += QuoteToml(items[i]);
  }
  return out + "]";
}

}  // namespace vc::config
