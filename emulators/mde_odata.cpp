#include "mde_odata.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "core/time.hpp"

namespace vc::emu::odata {
namespace {

struct Token {
  enum Kind { kWord, kString, kOpen, kClose, kComma, kEnd } kind = kEnd;
  std::string text;
  size_t pos = 0;
};

// Splits the filter into words, quoted strings and punctuation; an unterminated quote is the
// only lexical error.
std::variant<std::vector<Token>, std::string> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')' || c == ',') {
      out.push_back({c == '('   ? Token::kOpen
                     : c == ')' ? Token::kClose
                                : Token::kComma,
                     std::string(1, c), i});
      ++i;
    } else if (c == '\'') {
      const size_t start = i++;
      std::string text;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            text.push_back('\'');
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        text.push_back(s[i++]);
      }
      if (!closed) {
        return fmt::format(
            "Syntax error: there is an unterminated string literal at position {} "
            "in '{}'.",
            start, s);
      }
      out.push_back({Token::kString, std::move(text), start});
    } else {
      const size_t start = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' &&
             s[i] != ')' && s[i] != ',' && s[i] != '\'') {
        ++i;
      }
      out.push_back({Token::kWord, std::string(s.substr(start, i - start)), start});
    }
  }
  out.push_back({Token::kEnd, "", s.size()});
  return out;
}

std::string TypeName(FieldType t) {
  switch (t) {
    case FieldType::kString:
      return "Edm.String";
    case FieldType::kEnum:
      return "Enum";
    case FieldType::kDateTime:
      return "Edm.DateTimeOffset";
    case FieldType::kNumber:
      return "Edm.Int64";
  }
  return "";
}

std::string Describe(const Token& t) {
  return t.kind == Token::kEnd ? "the end of the filter" : "'" + t.text + "'";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::vector<FieldSpec>& fields, std::string_view entity)
      : tokens_(std::move(tokens)), fields_(fields), entity_(entity) {}

  std::variant<Filter, std::string> Run() {
    Filter filter;
    while (true) {
      Clause clause;
      if (auto problem = ParseClause(clause)) return *problem;
      filter.clauses.push_back(std::move(clause));
      const Token& t = Next();
      if (t.kind == Token::kEnd) break;
      if (t.kind == Token::kWord && t.text == "and") continue;
      if (t.kind == Token::kWord && (t.text == "or" || t.text == "not")) {
        return fmt::format(
            "The '{}' operator is not supported in this $filter; join clauses with "
            "'and', or use '<field> in (...)' for alternatives.",
            t.text);
      }
      return fmt::format(
          "Syntax error at position {}: expected 'and' or the end of the filter "
          "but found {}.",
          t.pos, Describe(t));
    }
    return filter;
  }

 private:
  const Token& Next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }

  std::optional<std::string> ParseClause(Clause& clause) {
    const Token& name = Next();
    if (name.kind != Token::kWord) {
      return fmt::format("Syntax error at position {}: expected a property name but found {}.",
                         name.pos, Describe(name));
    }
    auto index = FieldIndex(fields_, name.text);
    if (!index) {
      std::string known;
      for (const auto& f : fields_) known += (known.empty() ? "" : ", ") + f.name;
      return fmt::format(
          "Could not find a property named '{}' on type '{}' that can be used in "
          "$filter. Filterable properties: {}.",
          name.text, entity_, known);
    }
    clause.field = *index;
    const FieldSpec& field = fields_[*index];
    const Token& op = Next();
    static const std::pair<const char*, Op> kOps[] = {
        {"eq", Op::kEq}, {"ne", Op::kNe}, {"gt", Op::kGt}, {"ge", Op::kGe},
        {"lt", Op::kLt}, {"le", Op::kLe}, {"in", Op::kIn}};
    bool found = false;
    for (const auto& [text, value] : kOps) {
      if (op.kind == Token::kWord && op.text == text) {
        clause.op = value;
        found = true;
      }
    }
    if (!found) {
      return fmt::format(
          "Syntax error at position {}: expected an operator (eq, ne, gt, ge, lt, "
          "le, in) after '{}' but found {}.",
          op.pos, name.text, Describe(op));
    }
    if (field.type == FieldType::kEnum && clause.op != Op::kEq && clause.op != Op::kNe &&
        clause.op != Op::kIn) {
      return fmt::format(
          "The operator '{}' cannot be applied to the enumeration property '{}'; "
          "use eq, ne or in.",
          op.text, field.name);
    }
    if (clause.op != Op::kIn) {
      auto value = ParseValue(field, clause.op);
      if (auto* problem = std::get_if<std::string>(&value)) return *problem;
      clause.values.push_back(std::get<Value>(std::move(value)));
      return std::nullopt;
    }
    if (const Token& open = Next(); open.kind != Token::kOpen) {
      return fmt::format(
          "Syntax error at position {}: 'in' must be followed by a parenthesized "
          "list such as ('a','b') but found {}.",
          open.pos, Describe(open));
    }
    while (true) {
      auto value = ParseValue(field, Op::kIn);
      if (auto* problem = std::get_if<std::string>(&value)) return *problem;
      clause.values.push_back(std::get<Value>(std::move(value)));
      const Token& sep = Next();
      if (sep.kind == Token::kClose) return std::nullopt;
      if (sep.kind != Token::kComma) {
        return fmt::format(
            "Syntax error at position {}: expected ',' or ')' in the 'in' list but "
            "found {}.",
            sep.pos, Describe(sep));
      }
    }
  }

  std::variant<Value, std::string> ParseValue(const FieldSpec& field, Op op) {
    const Token& t = Next();
    if (t.kind == Token::kWord && t.text == "null") {
      if (op != Op::kEq && op != Op::kNe) {
        return fmt::format("null can only be compared with eq or ne (property '{}').", field.name);
      }
      return Value::Null();
    }
    switch (field.type) {
      case FieldType::kString:
      case FieldType::kEnum:
        if (t.kind != Token::kString) {
          return fmt::format(
              "A binary operator with incompatible types was detected: property "
              "'{}' is {} but the value {} is not a quoted string; write {} eq "
              "'value'.",
              field.name, TypeName(field.type), Describe(t), field.name);
        }
        if (field.type == FieldType::kEnum) {
          bool valid = false;
          std::string list;
          for (const auto& v : field.enum_values) {
            valid = valid || v == t.text;
            list += (list.empty() ? "" : ", ") + v;
          }
          if (!valid) {
            return fmt::format(
                "The string '{}' is not a valid enumeration value for property "
                "'{}'. Valid values (case-sensitive): {}.",
                t.text, field.name, list);
          }
        }
        return Value::Text(t.text);
      case FieldType::kDateTime:
        if (t.kind == Token::kWord) {
          if (auto time = ParseIso8601(t.text)) return Value::Time(*time);
        }
        return fmt::format(
            "The value {} for property '{}' is not a valid Edm.DateTimeOffset; "
            "write an unquoted ISO-8601 UTC time such as "
            "{} ge 2021-01-26T20:33:57Z.",
            Describe(t), field.name, field.name);
      case FieldType::kNumber: {
        int64_t n = 0;
        if (t.kind == Token::kWord) {
          const char* end = t.text.data() + t.text.size();
          auto [ptr, ec] = std::from_chars(t.text.data(), end, n);
          if (ec == std::errc() && ptr == end) return Value::Number(n);
        }
        return fmt::format(
            "The value {} for property '{}' is not a valid Edm.Int64; write an "
            "unquoted integer.",
            Describe(t), field.name);
      }
    }
    return std::string("unreachable");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const std::vector<FieldSpec>& fields_;
  std::string_view entity_;
};

// <0, 0, >0 like strcmp; only for two non-null values of the same field type.
int Compare(const Value& a, const Value& b) {
  if (!a.text.empty() || !b.text.empty()) return a.text.compare(b.text);
  if (a.time != b.time) return a.time < b.time ? -1 : 1;
  if (a.number != b.number) return a.number < b.number ? -1 : 1;
  return 0;
}

bool Holds(const Clause& clause, const Value& v) {
  if (clause.op == Op::kIn) {
    if (v.is_null) return false;
    for (const auto& candidate : clause.values) {
      if (Compare(v, candidate) == 0) return true;
    }
    return false;
  }
  const Value& want = clause.values.front();
  if (v.is_null || want.is_null) {
    const bool both_null = v.is_null && want.is_null;
    if (clause.op == Op::kEq) return both_null;
    if (clause.op == Op::kNe) return !both_null;
    return false;
  }
  const int c = Compare(v, want);
  switch (clause.op) {
    case Op::kEq:
      return c == 0;
    case Op::kNe:
      return c != 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kIn:
      break;
  }
  return false;
}

}  // namespace

httplib::Params ParseQuery(const std::string& target) {
  httplib::Params params;
  const size_t q = target.find('?');
  if (q == std::string::npos) return params;
  const std::string query = target.substr(q + 1);
  size_t start = 0;
  while (start <= query.size()) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const std::string key = pair.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      params.emplace(httplib::detail::decode_url(key, true),
                     httplib::detail::decode_url(value, true));
    }
    start = amp + 1;
  }
  return params;
}

bool HasParam(const httplib::Params& params, const std::string& name) {
  return params.count(name) > 0;
}

std::string ParamValue(const httplib::Params& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::optional<size_t> FieldIndex(const std::vector<FieldSpec>& fields, std::string_view name) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return i;
  }
  return std::nullopt;
}

std::variant<Filter, std::string> ParseFilter(std::string_view text,
                                              const std::vector<FieldSpec>& fields,
                                              std::string_view entity) {
  auto tokens = Lex(text);
  if (auto* problem = std::get_if<std::string>(&tokens))
    return "Invalid filter clause: " + *problem;
  Parser parser(std::get<std::vector<Token>>(std::move(tokens)), fields, entity);
  auto result = parser.Run();
  if (auto* problem = std::get_if<std::string>(&result))
    return "Invalid filter clause: " + *problem;
  return result;
}

bool Matches(const Filter& filter, const std::vector<Value>& row) {
  for (const auto& clause : filter.clauses) {
    if (!Holds(clause, row[clause.field])) return false;
  }
  return true;
}

std::optional<int64_t> ParseCount(const std::string& text) {
  int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return n;
}

std::variant<Paging, std::string> ReadPaging(const httplib::Params& params,
                                             const std::vector<FieldSpec>& fields,
                                             std::string_view entity) {
  Paging p;
  if (HasParam(params, "$filter")) {
    auto parsed = ParseFilter(ParamValue(params, "$filter"), fields, entity);
    if (auto* problem = std::get_if<std::string>(&parsed)) return *problem;
    p.filter = std::get<Filter>(std::move(parsed));
  }
  if (HasParam(params, "$top")) {
    auto top = ParseCount(ParamValue(params, "$top"));
    if (!top || *top < 1 || *top > kMaxTop) {
      return fmt::format("Invalid $top '{}': use an integer from 1 to {}.",
                         ParamValue(params, "$top"), kMaxTop);
    }
    p.top = static_cast<size_t>(*top);
  }
  if (HasParam(params, "$skip")) {
    auto skip = ParseCount(ParamValue(params, "$skip"));
    if (!skip || *skip < 0) {
      return fmt::format("Invalid $skip '{}': it must be a non-negative integer.",
                         ParamValue(params, "$skip"));
    }
    p.skip = static_cast<size_t>(*skip);
  }
  return p;
}

}  // namespace vc::emu::odata
