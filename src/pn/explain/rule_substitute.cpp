// Backprop with substituted weights: r_in = Mᵀ r, where M is the layer's weight w (the gradient,
// DeConvNet and Guided BackProp: they differ only at the ReLUs), its pattern a (PatternNet) or
// w ⊙ a (PatternAttribution). Chapters 4 and 7 (paper §3). The transpose of a dense layer is one
// GEMM, of a convolution the backward-data convolution: the kernels training uses.
#include "pn/core/error.h"
#include "pn/explain/rules.h"
#include "pn/ops/ops.h"

namespace pn::explain {

Tensor map_forward(const nn::LayerSpec& spec, const Tensor& m, const Tensor& x, const Tensor* bias) {
  if (spec.kind == nn::Kind::conv2d) return ops::conv2d_forward(x, m, bias, ops::Conv2dSpec{spec.stride, spec.padding});
  return ops::linear_forward(x, m, bias);
}

Tensor map_transpose(const nn::LayerSpec& spec, const Tensor& m, const Tensor& r, const Shape& x_shape) {
  if (spec.kind == nn::Kind::conv2d) return ops::conv2d_backward_data(r, m, x_shape, ops::Conv2dSpec{spec.stride, spec.padding});
  // r (N, O) · m (O, D) = (N, D).
  Tensor out = ops::matmul(r, m);
  out.reshape(x_shape);
  return out;
}

Tensor apply_substitute_rule(const KernelRuleParams& p, const KernelLayerView& layer, const RuleWeights& w, const Tensor& r) {
  switch (p.rule) {
    case KernelRule::weights: return map_transpose(layer.spec, layer.weight, r, layer.x.shape());
    case KernelRule::pattern:
      if (!layer.pattern) throw Error("layer '{}': the pattern rule needs a pattern for this layer (pass --patterns)", layer.spec.name);
      return map_transpose(layer.spec, *layer.pattern, r, layer.x.shape());
    case KernelRule::pattern_attribution: return map_transpose(layer.spec, w.m, r, layer.x.shape());
    default: throw Error("layer '{}': {} is not a substitution rule", layer.spec.name, kernel_rule_name(p.rule));
  }
}

}  // namespace pn::explain
