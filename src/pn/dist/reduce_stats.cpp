#include "pn/dist/reduce_stats.h"

#include "pn/core/error.h"
#include "pn/core/hash.h"
#include "pn/dist/mpi.h"

namespace pn::dist {

void reduce_stats(std::vector<explain::PatternStats>& stats) {
  if (size() == 1) return;
  // A digest of the layout and every reference point: equal on all ranks, or the sums are about
  // different origins and adding them would be wrong without a shift (which merge() does).
  Hasher h;
  for (const auto& s : stats) {
    h.add_u64(static_cast<std::uint64_t>(s.inputs()));
    h.add_u64(static_cast<std::uint64_t>(s.neurons()));
    h.add_u64(s.has_reference() ? 1 : 0);
    h.add(s.reference_x().data(), s.reference_x().size() * sizeof(double));
    h.add(s.reference_y().data(), s.reference_y().size() * sizeof(double));
  }
  if (!all_agree(h.hex())) {
    throw Error("the {} MPI ranks hold statistics about different reference points or layers; every rank must fix them "
                "from the data set's first batch",
                size());
  }
  for (auto& s : stats) {
    for (std::span<double> v : s.additive_sums()) sum_to_root(v);
  }
}

}  // namespace pn::dist
