#include "pn/autograd/grad_check.h"

#include "pn/core/error.h"

#include <algorithm>
#include <cmath>

namespace pn::ag {

Tensor numeric_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x, double h) {
  Tensor probe = x.clone();
  Tensor g(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float orig = x[i];
    const float up = static_cast<float>(static_cast<double>(orig) + h);
    const float down = static_cast<float>(static_cast<double>(orig) - h);
    probe[i] = up;
    const double fu = f(probe);
    probe[i] = down;
    const double fd = f(probe);
    probe[i] = orig;
    g[i] = static_cast<float>((fu - fd) / (static_cast<double>(up) - static_cast<double>(down)));
  }
  return g;
}

GradCheck compare_gradients(const Tensor& analytic, const Tensor& numeric, double floor) {
  require_shape(numeric, analytic.shape(), "compare_gradients", "numeric gradient");
  GradCheck r;
  for (std::int64_t i = 0; i < analytic.numel(); ++i) {
    const double a = analytic[i], n = numeric[i];
    const double abs_err = std::fabs(a - n);
    const double rel = abs_err / std::max({std::fabs(a), std::fabs(n), floor});
    r.max_abs_error = std::max(r.max_abs_error, abs_err);
    if (rel > r.max_rel_error) {
      r.max_rel_error = rel;
      r.worst_index = i;
    }
  }
  return r;
}

}  // namespace pn::ag
