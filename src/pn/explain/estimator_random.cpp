// S_rand, the random-direction baseline of the paper's Fig. 3: S(x) = u (wᵀx) / (wᵀu) with u drawn
// from a standard normal distribution per neuron. Any u with wᵀu ≠ 0 satisfies wᵀS(x) = wᵀx —
// which is exactly why a quality criterion is needed to choose among estimators (paper §4.1).
// The distribution of u is not given in the paper; the Gaussian is the natural choice.
#include "pn/explain/estimator.h"

namespace pn::explain {

Tensor random_pattern(const Tensor& w, Rng& rng, FitReport& report) {
  report.neurons = w.dim(0);
  std::vector<double> num(static_cast<std::size_t>(w.numel()));
  for (double& v : num) v = rng.normal();
  return normalise_patterns(num, w, report.dead, report.max_constraint_error);
}

}  // namespace pn::explain
