// Signal estimators: per neuron, a pattern a with S(x) = a · (wᵀx), so that wᵀS(x) = wᵀx whenever
// wᵀa = 1. Chapter 5 (paper §4). Each estimator lives in its own file:
//   estimator_identity.cpp       S_x(x) = x              (no pattern; LRP's implicit choice)
//   estimator_filter.cpp         S_w: a = w / (wᵀw)      (DeConvNet / Guided BackProp's assumption)
//   estimator_random.cpp         S_rand: a = u / (wᵀu), u ~ N(0, I)   (the baseline of Fig. 3)
//   estimator_linear.cpp         S_a: a = cov[x, y] / (wᵀ cov[x, y])
//   estimator_two_component.cpp  S_a+-: a_+ and a_- from the positive and negative regimes (Eq. 8)
// Patterns have the layout of the layer's weight: (O, I) or (O, C, kH, kW).
#pragma once

#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/explain/pattern_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::explain {

enum class Estimator { identity, filter, random, linear, two_component };

const char* estimator_name(Estimator e);                   // "identity", "filter", "random", "linear", "two_component"
Estimator estimator_from_name(const std::string& name);    // throws pn::Error naming the choices

// What fitting one layer found: neurons whose pattern had to be set to zero (no rows in the
// regime, or wᵀ(numerator) == 0), and how well wᵀa = 1 holds for the others.
struct FitReport {
  std::int64_t neurons = 0;
  std::int64_t dead = 0;             // zero pattern (first regime for two_component)
  std::int64_t dead_negative = 0;    // two_component: zero a_-
  double max_constraint_error = 0.0; // max |wᵀa - 1| over live neurons and regimes
};

// Divides each numerator row by wᵀ(row); a zero denominator gives a zero row (a dead neuron,
// counted in report.dead). num is O x D in double, w the layer weight (O, ...).
Tensor normalise_patterns(const std::vector<double>& num, const Tensor& w, std::int64_t& dead, double& max_error);

Tensor filter_pattern(const Tensor& w, FitReport& report);
Tensor random_pattern(const Tensor& w, Rng& rng, FitReport& report);
Tensor linear_pattern(const PatternStats& stats, const Tensor& w, FitReport& report);

struct TwoComponentPattern {
  Tensor positive;  // a_+
  Tensor negative;  // a_-
};
TwoComponentPattern two_component_pattern(const PatternStats& stats, const Tensor& w, FitReport& report);

}  // namespace pn::explain
