// Distance between names, to suggest the key a user most likely meant.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vc::config {

// Damerau-Levenshtein distance (optimal string alignment): insertions, deletions,
// substitutions and transpositions of two neighbouring characters each cost 1. Case-sensitive.
size_t EditDistance(std::string_view a, std::string_view b);

struct Suggestion {
  std::string name;
  size_t distance = 0;
};

// The candidate closest to `name` if it is at most `max_distance` away; the first one wins a
// tie, so candidates should be ordered by preference.
std::optional<Suggestion> Closest(std::string_view name, const std::vector<std::string>& candidates,
                                  size_t max_distance);

}  // namespace vc::config
