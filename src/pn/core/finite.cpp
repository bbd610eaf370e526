#include "pn/core/finite.h"

#include "pn/core/error.h"

#include <cmath>

namespace pn {

std::int64_t find_non_finite(const Tensor& t) {
  const float* d = t.data();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (!std::isfinite(d[i])) return i;
  }
  return -1;
}

void require_finite(const Tensor& t, std::string_view what) {
  if (const std::int64_t i = find_non_finite(t); i >= 0) throw Error("{} holds {} at element {} of {}", what, t.data()[i], i, t.shape());
}

}  // namespace pn
