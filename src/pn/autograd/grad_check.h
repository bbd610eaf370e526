// Gradient checking by central differences. Chapter 2's demonstration that backward() is right.
// numeric_gradient() perturbs one element at a time by ±h and divides the change of f (a double)
// by the step actually taken after rounding x ± h to float, so float inputs do not bias the
// quotient. Pair it with a double-precision implementation of f (tests/oracle) and it checks the
// float autograd against an independent reference.
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <functional>

namespace pn::ag {

Tensor numeric_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x, double h);

struct GradCheck {
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |a - n| / max(|a|, |n|, floor)
  std::int64_t worst_index = -1;
};

GradCheck compare_gradients(const Tensor& analytic, const Tensor& numeric, double floor = 1e-3);

}  // namespace pn::ag
