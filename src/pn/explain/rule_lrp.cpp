// The relevance rules of layer-wise relevance propagation and Deep Taylor decomposition for a
// kernel layer (dense or conv). Chapter 7 (paper §3, DTD view). Each rule is a few forward and
// transposed products of the layer with modified weights and elementwise divisions:
//   z-rule      R_i = x_i Σ_j w_ji s_j,  s = R / z          (z with or without the bias)
//   epsilon     s = R / (z + ε sign z), sign(0) = +1
//   alpha-beta  positive and negative contributions x_i w_ji split into z⁺ and z⁻:
//               R_i = α x_i Σ_j w_ji⁺⁻ R_j / z_j⁺ − β ...   (z⁺-rule: α = 1, β = 0, bias ignored)
//   w²          R_i = Σ_j w_ji² R_j / Σ_i' w_ji'²            (input-independent)
//   flat        the w² rule with every weight 1
//   zB          bounded inputs l <= x <= h: z_ij = x_i w_ji − l_i w_ji⁺ − h_i w_ji⁻
// A zero denominator gives zero (0/0 -> 0), as in the reference implementations.
#include "pn/core/error.h"
#include "pn/explain/rules.h"

#include <algorithm>

#include <vector>

namespace pn::explain {

namespace {

// Elements per bias value: the spatial size of one output channel (1 for a dense layer).
std::int64_t bias_stride(const Tensor& z) { return z.rank() == 4 ? z.dim(2) * z.dim(3) : 1; }

Tensor without_bias(const Tensor& z, const Tensor& bias) {
  Tensor out = z.clone();
  const std::int64_t inner = bias_stride(z), o = bias.numel();
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] -= bias[(i / inner) % o];
  return out;
}

// r / z elementwise with 0 where z == 0.
Tensor ratio(const Tensor& r, const Tensor& z) {
  Tensor s(r.shape());
  for (std::int64_t i = 0; i < r.numel(); ++i) s[i] = safe_divide(r[i], z[i]);
  return s;
}

// r / z for a z of one sample, the same for every sample of r.
Tensor ratio_per_sample(const Tensor& r, const Tensor& z) {
  Tensor s(r.shape());
  const std::int64_t per = z.numel();
  for (std::int64_t i = 0; i < r.numel(); ++i) s[i] = safe_divide(r[i], z[i % per]);
  return s;
}

void add_product(Tensor& acc, const Tensor& a, const Tensor& b, float sign) {
  for (std::int64_t i = 0; i < acc.numel(); ++i) acc[i] += sign * a[i] * b[i];
}

Tensor z_rule(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r) {
  Tensor z = p.ignore_bias ? without_bias(l.z, l.bias) : l.z.clone();
  if (p.rule == KernelRule::lrp_epsilon) {
    const auto eps = static_cast<float>(p.epsilon);
    for (float& v : z.values()) v += v >= 0.0f ? eps : -eps;
  }
  const Tensor c = map_transpose(l.spec, l.weight, ratio(r, z), l.x.shape());
  Tensor out(l.x.shape());
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] = l.x[i] * c[i];
  return out;
}

// One half of the alpha-beta rule: the contributions x⁺w¹ and x⁻w² (w¹, w² the positive or
// negative weights) share the denominator z = w¹x⁺ + w²x⁻ (+ the bias parts b¹ + b² when the
// bias is used: the convention of iNNvestigate, whose conformance data this matches).
// Behind a ReLU the input has no negative part (has_negative false): the x⁻ products vanish and are
// skipped, which halves the work of the rule.
// z_half, when given, is the half's denominator computed by the caller (see alpha_beta_rule).
Tensor alpha_beta_half(const KernelLayerView& l, const Tensor& xp, const Tensor& xn, bool has_negative, const Tensor& w1,
                       const Tensor& w2, const Tensor* b1, const Tensor* b2, const Tensor& r, Tensor* z_half = nullptr,
                       Tensor* z_out = nullptr) {
  Tensor z = z_half ? std::move(*z_half) : map_forward(l.spec, w1, xp, b1);
  if (z_half) {
    // already complete
  } else if (has_negative) {
    const Tensor z2 = map_forward(l.spec, w2, xn, b2);
    for (std::int64_t i = 0; i < z.numel(); ++i) z[i] += z2[i];
  } else if (b2) {
    const std::int64_t inner = bias_stride(z), o = b2->numel();
    for (std::int64_t i = 0; i < z.numel(); ++i) z[i] += (*b2)[(i / inner) % o];
  }
  const Tensor s = ratio(r, z);
  if (z_out) *z_out = std::move(z);
  Tensor out = map_transpose(l.spec, w1, s, l.x.shape());
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] *= xp[i];
  if (has_negative) add_product(out, xn, map_transpose(l.spec, w2, s, l.x.shape()), 1.0f);
  return out;
}

Tensor alpha_beta_rule(const KernelRuleParams& p, const KernelLayerView& l, const RuleWeights& w, const Tensor& r) {
  bool has_negative = false;
  for (float v : l.x.values()) has_negative = has_negative || v < 0.0f;
  // Behind a ReLU x is its own positive part: use it in place instead of copying it.
  const Tensor xp_split = has_negative ? positive_part(l.x) : Tensor();
  const Tensor& xp = has_negative ? xp_split : l.x;
  const Tensor xn = has_negative ? negative_part(l.x) : Tensor();
  const Tensor* bias_p = p.ignore_bias ? nullptr : &w.bp;
  const Tensor* bias_n = p.ignore_bias ? nullptr : &w.bn;
  Tensor z_excite;
  Tensor out = alpha_beta_half(l, xp, xn, has_negative, w.wp, w.wn, bias_p, bias_n, r, nullptr, &z_excite);
  for (float& v : out.values()) v *= static_cast<float>(p.alpha);
  if (p.beta != 0.0) {
    // Behind a ReLU (x >= 0) the inhibitory denominator needs no second forward product:
    // W⁻x = Wx − W⁺x, and the forward pass already holds z = Wx + b. With the bias,
    // z⁻ = W⁻x + b⁻ + b⁺ = z − (W⁺x + b); without it, z⁻ = (z − b) − W⁺x.
    Tensor z_inhibit;
    if (!has_negative) {
      z_inhibit = Tensor(l.z.shape());
      if (p.ignore_bias) {
        const Tensor plain = without_bias(l.z, l.bias);
        for (std::int64_t i = 0; i < plain.numel(); ++i) z_inhibit[i] = plain[i] - z_excite[i];
      } else {
        const std::int64_t inner = bias_stride(l.z), o = l.bias.numel();
        for (std::int64_t i = 0; i < l.z.numel(); ++i) z_inhibit[i] = l.z[i] - z_excite[i] + l.bias[(i / inner) % o];
      }
    }
    const Tensor inhibit = alpha_beta_half(l, xp, xn, has_negative, w.wn, w.wp, bias_n, bias_p, r,
                                           has_negative ? nullptr : &z_inhibit);
    add_product(out, inhibit, Tensor::full(out.shape(), 1.0f), static_cast<float>(-p.beta));
  }
  return out;
}

// w² and flat: R_i = Σ_j m_ji R_j / (m applied to ones)_j, both from RuleWeights.
Tensor input_free_rule(const KernelLayerView& l, const RuleWeights& w, const Tensor& r) {
  return map_transpose(l.spec, w.m, ratio_per_sample(r, w.response), l.x.shape());
}

Tensor zbox_rule(const KernelRuleParams& p, const KernelLayerView& l, const RuleWeights& w, const Tensor& r) {
  // z = w x − (l w⁺ + h w⁻); the bracket is w.response, the same for every sample.
  Tensor z = map_forward(l.spec, l.weight, l.x, nullptr);
  const std::int64_t per = w.response.numel();
  for (std::int64_t i = 0; i < z.numel(); ++i) z[i] -= w.response[i % per];
  const Tensor s = ratio(r, z);
  Tensor out = map_transpose(l.spec, l.weight, s, l.x.shape());
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] *= l.x[i];
  const Tensor tp = map_transpose(l.spec, w.wp, s, l.x.shape()), tn = map_transpose(l.spec, w.wn, s, l.x.shape());
  const auto lo = static_cast<float>(p.low), hi = static_cast<float>(p.high);
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] -= lo * tp[i] + hi * tn[i];
  return out;
}

}  // namespace

Tensor apply_kernel_rule(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r) {
  RuleWeights derived;
  if (!l.prepared) {
    Shape sample{1};
    for (int i = 1; i < l.x.rank(); ++i) sample.push_back(l.x.dim(i));
    derived = derive_rule_weights(p, l.spec, l.weight, l.bias, l.pattern, sample);
  }
  const RuleWeights& w = l.prepared ? *l.prepared : derived;
  switch (p.rule) {
    case KernelRule::weights:
    case KernelRule::pattern:
    case KernelRule::pattern_attribution: return apply_substitute_rule(p, l, w, r);
    case KernelRule::lrp_z:
    case KernelRule::lrp_epsilon: return z_rule(p, l, r);
    case KernelRule::lrp_alpha_beta: return alpha_beta_rule(p, l, w, r);
    case KernelRule::lrp_w_square:
    case KernelRule::lrp_flat: return input_free_rule(l, w, r);
    case KernelRule::lrp_zbox: return zbox_rule(p, l, w, r);
  }
  throw Error("unknown kernel rule");
}

Tensor apply_dense_rule_in_blocks(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r,
                                  std::int64_t rows_per_block) {
  if (l.spec.kind != nn::Kind::linear) throw Error("layer '{}': only dense layers are explained in blocks of outputs", l.spec.name);
  if (rows_per_block < 1) throw Error("layer '{}': blocks of {} outputs", l.spec.name, rows_per_block);
  const std::int64_t outs = l.weight.dim(0), ins = l.weight.dim(1), n = r.dim(0);
  if (r.shape() != Shape{n, outs} || l.z.shape() != r.shape()) {
    throw Error("layer '{}': signal {} and output {} do not match the weight {}", l.spec.name, r.shape().str(), l.z.shape().str(),
                l.weight.shape().str());
  }
  Tensor total = Tensor::zeros(l.x.shape());
  for (std::int64_t j0 = 0; j0 < outs; j0 += rows_per_block) {
    const std::int64_t nb = std::min(rows_per_block, outs - j0);
    const auto rows = [&](const Tensor& t) {  // rows [j0, j0 + nb) of an (outs, ins) tensor
      Tensor b(Shape{nb, ins});
      std::copy_n(t.data() + j0 * ins, nb * ins, b.data());
      return b;
    };
    const auto columns = [&](const Tensor& t) {  // columns [j0, j0 + nb) of an (n, outs) tensor
      Tensor b(Shape{n, nb});
      for (std::int64_t s = 0; s < n; ++s) std::copy_n(t.data() + s * outs + j0, nb, b.data() + s * nb);
      return b;
    };
    const Tensor wb = rows(l.weight);
    Tensor bb(Shape{nb});
    std::copy_n(l.bias.data() + j0, nb, bb.data());
    const Tensor pb = l.pattern ? rows(*l.pattern) : Tensor();
    const Tensor zb = columns(l.z);
    nn::LayerSpec spec = l.spec;
    spec.out = nb;
    const Tensor part = apply_kernel_rule(p, KernelLayerView{spec, wb, bb, l.x, zb, l.pattern ? &pb : nullptr, nullptr}, columns(r));
    for (std::int64_t i = 0; i < total.numel(); ++i) total[i] += part[i];
  }
  return total;
}

const char* kernel_rule_name(KernelRule r) {
  switch (r) {
    case KernelRule::weights: return "weights";
    case KernelRule::pattern: return "pattern";
    case KernelRule::pattern_attribution: return "pattern_attribution";
    case KernelRule::lrp_z: return "lrp_z";
    case KernelRule::lrp_epsilon: return "lrp_epsilon";
    case KernelRule::lrp_alpha_beta: return "lrp_alpha_beta";
    case KernelRule::lrp_w_square: return "lrp_w_square";
    case KernelRule::lrp_flat: return "lrp_flat";
    case KernelRule::lrp_zbox: return "lrp_zbox";
  }
  return "?";
}

}  // namespace pn::explain
