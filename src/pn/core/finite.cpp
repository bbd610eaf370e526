#include "pn/core/finite.h"

#include "pn/core/error.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace pn {

namespace {

// The first non-finite index in [i0, i1), or -1. A float is NaN or infinite exactly when its
// exponent bits are all ones; each block is tested with a branch-free loop the compiler turns into
// vector code (an early exit per element would not vectorise), and only a block that holds such
// a value is searched element by element.
std::int64_t scan(const float* d, std::int64_t i0, std::int64_t i1) {
  constexpr std::int64_t kBlock = 1024;
  constexpr std::uint32_t kExp = 0x7f800000u;
  for (std::int64_t b = i0; b < i1; b += kBlock) {
    const std::int64_t e = std::min(i1, b + kBlock);
    std::uint32_t hit = 0;
    for (std::int64_t i = b; i < e; ++i) hit |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(d[i]) & kExp) == kExp);
    if (hit == 0) continue;
    for (std::int64_t i = b; i < e; ++i)
      if (!std::isfinite(d[i])) return i;
  }
  return -1;
}

}  // namespace

std::int64_t find_non_finite(const Tensor& t) {
  const float* d = t.data();
  const std::int64_t n = t.numel();
  // Every layer's output is checked on every call, so the check is worth both cores on large ones.
  constexpr std::int64_t kParallelFrom = std::int64_t{1} << 18;
  if (n < kParallelFrom || omp_in_parallel()) return scan(d, 0, n);
  std::int64_t first = -1;
#pragma omp parallel
  {
    const std::int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
    const std::int64_t found = scan(d, n * id / threads, n * (id + 1) / threads);
    // Threads scan consecutive ranges, so the smallest index found is the first in the tensor.
#pragma omp critical(pn_find_non_finite)
    if (found >= 0 && (first < 0 || found < first)) first = found;
  }
  return first;
}

void require_finite(const Tensor& t, std::string_view what) {
  if (const std::int64_t i = find_non_finite(t); i >= 0) throw Error("{} holds {} at element {} of {}", what, t.data()[i], i, t.shape());
}

}  // namespace pn
