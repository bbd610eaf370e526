// S_a+-, the two-component estimator (paper §4.4, Eq. 5-8): a ReLU neuron only has to cancel the
// distractor where it fires, so the positive regime (z > 0, z the bias-inclusive pre-activation)
// and the negative regime get a pattern each:
//   a_k = (E_k[x y] - E_k[x] E[y]) / wᵀ(E_k[x y] - E_k[x] E[y]),   k = +, -,
// with E[y] taken over ALL rows (not the regime's own mean; every reference implementation agrees).
// PatternNet and PatternAttribution use a_+ only (a closed gate stops the backward signal); a_- is
// needed to evaluate rho(S_a+-).
#include "pn/explain/estimator.h"

namespace pn::explain {

// [book:two_component]
TwoComponentPattern two_component_pattern(const PatternStats& stats, const Tensor& w, FitReport& report) {
  const std::int64_t o = w.dim(0), d = w.numel() / o;
  report.neurons = o;
  std::vector<double> pos(static_cast<std::size_t>(o * d)), neg(static_cast<std::size_t>(o * d));
  for (std::int64_t j = 0; j < o; ++j) {
    const std::vector<double> p = stats.regime_numerator(j, true);
    const std::vector<double> n = stats.regime_numerator(j, false);
    std::copy(p.begin(), p.end(), pos.begin() + j * d);
    std::copy(n.begin(), n.end(), neg.begin() + j * d);
  }
  TwoComponentPattern r;
  r.positive = normalise_patterns(pos, w, report.dead, report.max_constraint_error);
  r.negative = normalise_patterns(neg, w, report.dead_negative, report.max_constraint_error);
  return r;
}
// [/book:two_component]

}  // namespace pn::explain
