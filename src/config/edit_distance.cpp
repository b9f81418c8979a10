#include "config/edit_distance.hpp"

#include <algorithm>

namespace vc::config {

size_t EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  // Three rows suffice: the transposition step looks two rows back.
  std::vector<size_t> before(m + 1), previous(m + 1), current(m + 1);
  for (size_t j = 0; j <= m; ++j) previous[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[m];
}

std::optional<Suggestion> Closest(std::string_view name, const std::vector<std::string>& candidates,
                                  size_t max_distance) {
  std::optional<Suggestion> best;
  for (const auto& candidate : candidates) {
    size_t distance = EditDistance(name, candidate);
    if (distance <= max_distance && (!best || distance < best->distance)) {
      best = Suggestion{candidate, distance};
    }
  }
  return best;
}

}  // namespace vc::config
