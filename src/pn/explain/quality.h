// The quality criterion rho(S) of a signal estimator (paper §5, Eq. 1), in closed form.
// Chapter 6.
//   d̂ = x - S(x),  y = wᵀx,  rho(S) = 1 - max_v corr(y, vᵀd̂)
// The best v is a least-squares read-out of y from the residual; the paper fits it by SGD. Here
// it comes from second moments: with q = m·y (m the neuron's ReLU gate) and an estimator
// S(x) = a₋·y + δ·q (δ = a₊ - a₋ for S_a+-, δ = 0 for the single-pattern estimators),
//   cov[d̂]    = Σ + U C Uᵀ,   U = [a₋, δ, cov(x,y), cov(x,q)],  C a 4 x 4 matrix of var(y), var(q),
//                                                               cov(y,q) and -1s,
//   cov[d̂, y] = cov(x,y) - a₋ var(y) - δ cov(q,y)   (a combination of U's columns),
// so one Cholesky factorisation of the layer's input covariance Σ (+ a ridge λI, which also
// regularises the direction w in which the residual of S_a has no variance) and the Woodbury
// identity give v for every neuron: v = (Σλ + U C Uᵀ)⁻¹ cov[d̂, y]. v is fitted on one split of
// the data and the correlation is evaluated on another, so an estimator cannot score by fitting
// noise.
#pragma once

#include "pn/core/tensor.h"
#include "pn/explain/pattern_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::explain {

struct LayerQuality {
  std::vector<double> rho;     // per neuron; NaN where undefined (var(y) = 0)
  double mean = 0, median = 0; // over defined neurons
  std::int64_t undefined = 0;
};

// fit and eval: statistics of two disjoint splits, both with second moments. w (O, ...) and bias
// (O) are the layer's; a_neg/a_pos: the estimator's patterns (O, ...). For a single-pattern
// estimator pass the same tensor twice. ridge is relative to the mean variance of the inputs.
LayerQuality layer_quality(const PatternStats& fit, const PatternStats& eval, const Tensor& w, const Tensor& bias,
                           const Tensor& a_pos, const Tensor& a_neg, double ridge = 1e-6);

// Several estimators of one layer at once: the factorisation of Σλ, the neurons' moments and the
// solves for the pattern-independent columns of U are shared, which makes four estimators cost
// little more than one (the solves dominate for wide layers).
struct EstimatorPatterns {
  const Tensor* a_pos = nullptr;
  const Tensor* a_neg = nullptr;
};
std::vector<LayerQuality> layer_quality(const PatternStats& fit, const PatternStats& eval, const Tensor& w, const Tensor& bias,
                                        const std::vector<EstimatorPatterns>& estimators, double ridge = 1e-6);

}  // namespace pn::explain
