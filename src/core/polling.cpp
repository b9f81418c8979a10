#include "core/polling.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

namespace vc {
namespace {

std::optional<int> Number(std::string_view s) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n <= 0) return std::nullopt;
  return n;
}

}  // namespace

std::optional<Millis> ParsePolling(std::string_view text) {
  using std::chrono::hours;
  using std::chrono::minutes;
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.size() >= 2 && (text.back() == 'm' || text.back() == 'h')) {
    auto n = Number(text.substr(0, text.size() - 1));
    if (!n) return std::nullopt;
    return text.back() == 'm' ? Millis(minutes(*n)) : Millis(hours(*n));
  }
  // Five-field cron, only the interval forms the original offered (and their siblings).
  std::vector<std::string_view> f;
  size_t start = 0;
  while (start < text.size()) {
    const size_t space = text.find(' ', start);
    const size_t end = space == std::string_view::npos ? text.size() : space;
    if (end > start) f.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (f.size() != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*") return std::nullopt;
  if (f[1] == "*") {
    if (f[0] == "0") return Millis(hours(1));
    if (f[0].substr(0, 2) == "*/") {
      auto n = Number(f[0].substr(2));
      if (n && 60 % *n == 0) return Millis(minutes(*n));
    }
    return std::nullopt;
  }
  if (f[0] != "0") return std::nullopt;
  if (f[1] == "0") return Millis(hours(24));
  if (f[1].substr(0, 2) == "*/") {
    auto n = Number(f[1].substr(2));
    if (n && 24 % *n == 0) return Millis(hours(*n));
  }
  return std::nullopt;
}

TimePoint NextRun(TimePoint now, Millis interval) {
  const int64_t ms = ToUnixMillis(now);
  const int64_t step = std::max<int64_t>(1, interval.count());
  return FromUnixMillis((ms / step + 1) * step);
}

}  // namespace vc
