// Splitting a data set into shards: contiguous runs of whole batches, so that the parts together
// form exactly the batches of a single pass (chapter 11). Used by `fit-patterns --shard`, by MPI
// ranks and by `merge-stats`'s completeness check.
#pragma once

#include <cstdint>
#include <string>

namespace pn::dist {

// Shard `index` of `count` (0 <= index < count).
struct Shard {
  std::int64_t index = 0, count = 1;
  std::string text() const;  // "I/N"
};

// Parses "I/N" (I counted from 0); throws pn::Error naming `flag` otherwise.
Shard parse_shard(const std::string& text, const char* flag);

// Samples [begin, end) of a shard of n samples read in batches of `batch`.
struct Range {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// Of the B = ceil(n/batch) batches, the first B mod N shards take floor(B/N) + 1 consecutive ones
// and the others floor(B/N): every batch belongs to exactly one shard, sizes differ by at most one
// batch, and when there are fewer batches than shards the last shards are empty.
Range shard_range(std::int64_t n, std::int64_t batch, Shard s);

}  // namespace pn::dist
