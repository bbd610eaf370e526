// The rules of the layers without weights. Chapter 4 (paper §3.2): at a ReLU the methods differ
// (the gradient gates by the forward pre-activation, DeConvNet rectifies the backward signal,
// Guided BackProp does both, LRP passes relevance through); max-pooling routes every value to
// the arg-max of its window in all methods (the forward switches); average pooling spreads the
// signal evenly (gradient) or shares relevance in proportion to the inputs (LRP's z-rule);
// flatten reshapes and dropout (inference) is the identity.
#include "pn/core/error.h"
#include "pn/explain/rules.h"
#include "pn/ops/ops.h"

namespace pn::explain {
namespace {

// f(i) for every i < n, across the threads when n is large (a VGG-16 ReLU has 3.2 million values).
template <class F>
void elementwise(std::int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n >= (std::int64_t{1} << 16))
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace

// [book:relu_rules]
Tensor apply_relu_rule(ReluRule rule, const Tensor& z, Tensor r) {
  if (z.shape() != r.shape()) throw Error("relu rule: signal {} does not match the pre-activation {}", r.shape().str(), z.shape().str());
  const float* zi = z.data();
  float* ri = r.data();  // rewritten in place: no new activation-sized tensor per ReLU
  switch (rule) {
    case ReluRule::gate: elementwise(r.numel(), [=](std::int64_t i) { ri[i] = zi[i] > 0.0f ? ri[i] : 0.0f; }); break;
    case ReluRule::rectify: elementwise(r.numel(), [=](std::int64_t i) { ri[i] = ri[i] > 0.0f ? ri[i] : 0.0f; }); break;
    case ReluRule::guided:
      elementwise(r.numel(), [=](std::int64_t i) { ri[i] = zi[i] > 0.0f && ri[i] > 0.0f ? ri[i] : 0.0f; });
      break;
    case ReluRule::pass: break;
  }
  return r;
}
// [/book:relu_rules]

Tensor apply_maxpool_rule(const nn::LayerSpec& spec, const Tensor& x, const std::vector<std::int32_t>& switches,
                          const Tensor& r) {
  return ops::maxpool2d_backward(r, switches, x.shape(), ops::PoolSpec{spec.kernel, spec.stride});
}

Tensor apply_avgpool_rule(AvgPoolRule rule, const nn::LayerSpec& spec, const Tensor& x, const Tensor& y, const Tensor& r) {
  const ops::PoolSpec ps{spec.kernel, spec.stride};
  if (rule == AvgPoolRule::gradient) return ops::avgpool2d_backward(r, x.shape(), ps);
  // z-rule on the average y_j = Σ_i x_i / k²: R_i = x_i / k² · R_j / y_j = x_i · (avg-backward of R / y)_i.
  Tensor s(r.shape());
  for (std::int64_t i = 0; i < r.numel(); ++i) s[i] = safe_divide(r[i], y[i]);
  Tensor c = ops::avgpool2d_backward(s, x.shape(), ps);
  for (std::int64_t i = 0; i < c.numel(); ++i) c[i] *= x[i];
  return c;
}

const char* relu_rule_name(ReluRule r) {
  switch (r) {
    case ReluRule::gate: return "gate";
    case ReluRule::rectify: return "rectify";
    case ReluRule::guided: return "guided";
    case ReluRule::pass: return "pass";
  }
  return "?";
}

}  // namespace pn::explain
