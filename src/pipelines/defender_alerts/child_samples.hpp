// Reading the child samples of an analysed sample (files it dropped or downloaded, which VMRay
// analysed on their own), so the alert comment can report each one as the original connector did.
#pragma once

#include "clients/vmray/client.hpp"
#include "pipelines/defender_alerts/sample_result.hpp"

namespace vc::defender {

// Reads the descendants of `sample` breadth first through child_sample_ids, with one GetSample
// and one Vtis call each, into result.children. Each id is read once, even when a child points
// back to an ancestor or is named by two parents. At most `max` are read; the others known by
// id are counted in result.children_not_read. A descendant VMRay answers 404 for is skipped with
// a note in result.child_notes. Any other error is returned for the caller to retry the step;
// the reads start over then, as nothing of them is kept between attempts.
Status ReadChildSamples(vmray::Client& vmray, const vmray::Sample& sample, SampleResult& result,
                        size_t max = kMaxChildSamples);

}  // namespace vc::defender
