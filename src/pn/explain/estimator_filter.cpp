// S_w, the filter-based estimator: S(x) = w (wᵀx) / (wᵀw), the signal taken along the filter
// itself. It is what DeConvNet and Guided BackProp implicitly assume, and it fails on the toy
// example: w must cancel the distractor, so it is not the signal direction (paper §4.1).
#include "pn/explain/estimator.h"

#include <cmath>

namespace pn::explain {

Tensor normalise_patterns(const std::vector<double>& num, const Tensor& w, std::int64_t& dead, double& max_error) {
  const std::int64_t o = w.dim(0), d = w.numel() / o;
  Tensor a(w.shape());
  for (std::int64_t j = 0; j < o; ++j) {
    const float* wj = w.data() + j * d;
    const double* nj = num.data() + j * d;
    double den = 0;
    for (std::int64_t i = 0; i < d; ++i) den += static_cast<double>(wj[i]) * nj[i];
    float* aj = a.data() + j * d;
    if (den == 0.0 || !std::isfinite(den)) {
      // No signal direction can be defined: a dead neuron gets the zero pattern, never NaN.
      for (std::int64_t i = 0; i < d; ++i) aj[i] = 0.0f;
      ++dead;
      continue;
    }
    double check = 0;
    for (std::int64_t i = 0; i < d; ++i) {
      aj[i] = static_cast<float>(nj[i] / den);
      check += static_cast<double>(wj[i]) * aj[i];
    }
    max_error = std::max(max_error, std::fabs(check - 1.0));
  }
  return a;
}

Tensor filter_pattern(const Tensor& w, FitReport& report) {
  report.neurons = w.dim(0);
  std::vector<double> num(static_cast<std::size_t>(w.numel()));
  for (std::int64_t i = 0; i < w.numel(); ++i) num[static_cast<std::size_t>(i)] = w[i];
  return normalise_patterns(num, w, report.dead, report.max_constraint_error);
}

}  // namespace pn::explain
