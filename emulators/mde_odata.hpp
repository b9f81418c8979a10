// The subset of OData $filter the MDE API accepts: clauses `<field> <op> <value>` (eq, ne, gt,
// ge, lt, le) or `<field> in ('a','b')`, joined by `and`. Strings are single-quoted ('' escapes
// a quote), datetimes and numbers are bare, `null` compares with eq/ne. Anything else is an
// ODataError whose message names the problem, as the real service answers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <httplib.h>
#include "core/clock.hpp"

namespace vc::emu::odata {

enum class FieldType { kString, kEnum, kDateTime, kNumber };

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  std::vector<std::string> enum_values = {};  // kEnum only
};

// One field's value in a row; rows hand the evaluator a vector in FieldSpec order.
struct Value {
  bool is_null = true;
  std::string text;    // kString, kEnum
  TimePoint time{};    // kDateTime
  int64_t number = 0;  // kNumber

  static Value Null() { return {}; }
  static Value Text(std::string s) { return {false, std::move(s), {}, 0}; }
  static Value Time(TimePoint t) { return {false, {}, t, 0}; }
  static Value Number(int64_t n) { return {false, {}, {}, n}; }
};

enum class Op { kEq, kNe, kGt, kGe, kLt, kLe, kIn };

struct Clause {
  size_t field = 0;  // index into the FieldSpec list
  Op op = Op::kEq;
  std::vector<Value> values;  // one, or several for `in`
};

struct Filter {
  std::vector<Clause> clauses;  // all must hold
};

// `entity` names the type in messages ("Alert", "MachineAction").
std::variant<Filter, std::string> ParseFilter(std::string_view text,
                                              const std::vector<FieldSpec>& fields,
                                              std::string_view entity);

bool Matches(const Filter& filter, const std::vector<Value>& row);

// The query of a request target, decoded as ASP.NET does: '+' is a space (the documented
// `$filter=lastUpdateTime+ge+...` form depends on it).
httplib::Params ParseQuery(const std::string& target);
bool HasParam(const httplib::Params& params, const std::string& name);
std::string ParamValue(const httplib::Params& params, const std::string& name);

// The most a collection answers at once ($top), as the real service caps it.
inline constexpr int64_t kMaxTop = 10000;

// A decimal integer and nothing else around it; the caller checks the range.
std::optional<int64_t> ParseCount(const std::string& text);

// $filter, $top and $skip of a collection request. `top` is empty when the caller gave none
// (some collections then page with a next link, others answer up to kMaxTop).
struct Paging {
  Filter filter;
  std::optional<size_t> top;
  size_t skip = 0;
};

// The paging of a request, or the message of the 400 ODataError the service would answer.
std::variant<Paging, std::string> ReadPaging(const httplib::Params& params,
                                             const std::vector<FieldSpec>& fields,
                                             std::string_view entity);

// Index of `name` in `fields`, if any.
std::optional<size_t> FieldIndex(const std::vector<FieldSpec>& fields, std::string_view name);

}  // namespace vc::emu::odata
