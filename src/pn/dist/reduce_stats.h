// Summing pattern statistics over MPI ranks (chapter 11). Every rank collected the sums of its own
// shard about the same reference points (StatsCollector::set_reference); the sums of all ranks are
// then added element-wise onto rank 0, in double, which is exactly PatternStats::merge for
// parts that share a reference point.
#pragma once

#include "pn/explain/pattern_stats.h"

#include <vector>

namespace pn::dist {

// Collective: every rank calls it with its statistics of the same layers. Afterwards rank 0 holds
// the sums over all ranks (the others' are unspecified). Throws pn::Error on every rank when the
// ranks' reference points differ (they would not add up to one pass's sums).
void reduce_stats(std::vector<explain::PatternStats>& stats);

}  // namespace pn::dist
