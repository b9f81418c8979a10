#include "pipelines/defender_alerts/child_samples.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <set>
#include <utility>

namespace vc::defender {

Status ReadChildSamples(vmray::Client& vmray, const vmray::Sample& sample, SampleResult& result,
                        size_t max) {
  result.children.clear();
  result.child_notes.clear();
  result.children_not_read = 0;
  // (child id, the sample that named it)
  std::deque<std::pair<int64_t, int64_t>> queue;
  for (int64_t id : sample.child_sample_ids) queue.emplace_back(id, sample.sample_id);
  std::set<int64_t> visited{sample.sample_id};
  std::set<int64_t> not_read;
  size_t read = 0;
  while (!queue.empty()) {
    const auto [id, parent] = queue.front();
    queue.pop_front();
    if (visited.count(id)) continue;
    if (read >= max) {
      not_read.insert(id);
      continue;
    }
    visited.insert(id);
    ++read;
    auto child = vmray.GetSample(id);
    Result<std::vector<vmray::Vti>> vtis = std::vector<vmray::Vti>{};
    if (child) vtis = vmray.Vtis(id);
    const Error* error = !child ? &child.error() : !vtis ? &vtis.error() : nullptr;
    if (error && error->code == ErrorCode::kNotFound) {
      // Deleted from VMRay since its parent's analysis: the rest of the tree is still worth
      // reporting.
      spdlog::info("VMRay child sample {} of sample {} is gone (404); skipped", id, parent);
      result.child_notes.push_back(
          fmt::format("Child sample {} was skipped: VMRay no longer has it.", id));
      continue;
    }
    if (error) {
      Error e = *error;  // keeps the code and Retry-After the retry plan goes by
      e.message = fmt::format("reading VMRay child sample {}: {}", id, e.message);
      return e;
    }
    for (int64_t grandchild : child->child_sample_ids) queue.emplace_back(grandchild, id);
    result.children.push_back(ChildSampleResult::From(*child, parent, std::move(*vtis)));
  }
  result.children_not_read = static_cast<int64_t>(not_read.size());
  return Ok();
}

}  // namespace vc::defender
