// S_a, the linear estimator: S(x) = a (wᵀx) with a = cov[x, y] / σ_y² (paper Eq. 3-4), computed as
// cov[x, y] / (wᵀ cov[x, y]) — the same number, because wᵀ cov[x, y] = cov[y, y] for y = wᵀx, and
// a form that makes wᵀa = 1 exact. These are Haufe et al.'s activation patterns. The covariance
// does not depend on the bias, so y may include it.
#include "pn/explain/estimator.h"

namespace pn::explain {

Tensor linear_pattern(const PatternStats& stats, const Tensor& w, FitReport& report) {
  const std::int64_t o = w.dim(0), d = w.numel() / o;
  report.neurons = o;
  std::vector<double> num(static_cast<std::size_t>(o * d));
  for (std::int64_t j = 0; j < o; ++j) {
    const std::vector<double> c = stats.cov_xy(j);
    std::copy(c.begin(), c.end(), num.begin() + j * d);
  }
  return normalise_patterns(num, w, report.dead, report.max_constraint_error);
}

}  // namespace pn::explain
