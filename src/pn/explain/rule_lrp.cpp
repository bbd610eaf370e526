// The relevance rules of layer-wise relevance propagation and Deep Taylor decomposition for a
// kernel layer (dense or conv). Chapter 8 (paper §3, DTD view). Each rule is a few forward and
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

Tensor positive_part(const Tensor& t) {
  Tensor out = t.clone();
  for (float& v : out.values()) v = v > 0.0f ? v : 0.0f;
  return out;
}

Tensor negative_part(const Tensor& t) {
  Tensor out = t.clone();
  for (float& v : out.values()) v = v < 0.0f ? v : 0.0f;
  return out;
}

// r / z elementwise with 0 where z == 0.
Tensor ratio(const Tensor& r, const Tensor& z) {
  Tensor s(r.shape());
  for (std::int64_t i = 0; i < r.numel(); ++i) s[i] = safe_divide(r[i], z[i]);
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
Tensor alpha_beta_half(const KernelLayerView& l, const Tensor& xp, const Tensor& xn, bool has_negative, const Tensor& w1,
                       const Tensor& w2, const Tensor* b1, const Tensor* b2, const Tensor& r) {
  Tensor z = map_forward(l.spec, w1, xp, b1);
  if (has_negative) {
    const Tensor z2 = map_forward(l.spec, w2, xn, b2);
    for (std::int64_t i = 0; i < z.numel(); ++i) z[i] += z2[i];
  } else if (b2) {
    const std::int64_t inner = bias_stride(z), o = b2->numel();
    for (std::int64_t i = 0; i < z.numel(); ++i) z[i] += (*b2)[(i / inner) % o];
  }
  const Tensor s = ratio(r, z);
  Tensor out = map_transpose(l.spec, w1, s, l.x.shape());
  for (std::int64_t i = 0; i < out.numel(); ++i) out[i] *= xp[i];
  if (has_negative) add_product(out, xn, map_transpose(l.spec, w2, s, l.x.shape()), 1.0f);
  return out;
}

Tensor alpha_beta_rule(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r) {
  const Tensor xp = positive_part(l.x), xn = negative_part(l.x);
  const Tensor wp = positive_part(l.weight), wn = negative_part(l.weight);
  const Tensor bp = positive_part(l.bias), bn = negative_part(l.bias);
  const Tensor* bias_p = p.ignore_bias ? nullptr : &bp;
  const Tensor* bias_n = p.ignore_bias ? nullptr : &bn;
  bool has_negative = false;
  for (float v : l.x.values()) has_negative = has_negative || v < 0.0f;
  Tensor out = alpha_beta_half(l, xp, xn, has_negative, wp, wn, bias_p, bias_n, r);
  for (float& v : out.values()) v *= static_cast<float>(p.alpha);
  if (p.beta != 0.0) {
    const Tensor inhibit = alpha_beta_half(l, xp, xn, has_negative, wn, wp, bias_n, bias_p, r);
    add_product(out, inhibit, Tensor::full(out.shape(), 1.0f), static_cast<float>(-p.beta));
  }
  return out;
}

// w² and flat: the denominator is the layer with the modified weights m applied to an input of
// ones, so a border output of a padded convolution counts only the inputs it really sees. It needs
// no convolution: with S[o][ky][kx] = Σ_c m[o][c][ky][kx], output (oy, ox) sums S over the taps
// that land inside the image, and which taps do factorises into rows and columns.
Tensor ones_response(const KernelLayerView& l, const Tensor& m, const Shape& z_shape) {
  Tensor z(z_shape);
  const std::int64_t n = z_shape.dim(0), o = m.dim(0), per_o = m.numel() / o;
  if (l.spec.kind != nn::Kind::conv2d) {
    for (std::int64_t j = 0; j < o; ++j) {
      double s = 0;
      for (std::int64_t i = 0; i < per_o; ++i) s += m[j * per_o + i];
      for (std::int64_t b = 0; b < n; ++b) z[b * o + j] = static_cast<float>(s);
    }
    return z;
  }
  const std::int64_t c = m.dim(1), kh = m.dim(2), kw = m.dim(3), oh = z_shape.dim(2), ow = z_shape.dim(3);
  const std::int64_t ih = l.x.dim(2), iw = l.x.dim(3), st = l.spec.stride, pad = l.spec.padding;
  std::vector<double> taps(static_cast<std::size_t>(o * kh * kw), 0.0);
  for (std::int64_t j = 0; j < o; ++j)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t k = 0; k < kh * kw; ++k) taps[static_cast<std::size_t>(j * kh * kw + k)] += m[(j * c + ch) * kh * kw + k];
  for (std::int64_t j = 0; j < o; ++j)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        double s = 0;
        for (std::int64_t ky = 0; ky < kh; ++ky) {
          const std::int64_t iy = oy * st + ky - pad;
          if (iy < 0 || iy >= ih) continue;
          for (std::int64_t kx = 0; kx < kw; ++kx) {
            const std::int64_t ix = ox * st + kx - pad;
            if (ix >= 0 && ix < iw) s += taps[static_cast<std::size_t>((j * kh + ky) * kw + kx)];
          }
        }
        for (std::int64_t b = 0; b < n; ++b) z[((b * o + j) * oh + oy) * ow + ox] = static_cast<float>(s);
      }
  return z;
}

Tensor input_free_rule(const KernelLayerView& l, const Tensor& m, const Tensor& r) {
  const Tensor z = ones_response(l, m, r.shape());
  return map_transpose(l.spec, m, ratio(r, z), l.x.shape());
}

Tensor zbox_rule(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r) {
  if (!(p.low < p.high)) throw Error("layer '{}': the bounded rule needs --low < --high, got {} and {}", l.spec.name, p.low, p.high);
  const Tensor lo = Tensor::full(l.x.shape(), static_cast<float>(p.low));
  const Tensor hi = Tensor::full(l.x.shape(), static_cast<float>(p.high));
  const Tensor wp = positive_part(l.weight), wn = negative_part(l.weight);
  Tensor z = map_forward(l.spec, l.weight, l.x, nullptr);
  const Tensor zl = map_forward(l.spec, wp, lo, nullptr), zh = map_forward(l.spec, wn, hi, nullptr);
  for (std::int64_t i = 0; i < z.numel(); ++i) z[i] -= zl[i] + zh[i];
  const Tensor s = ratio(r, z);
  Tensor out = Tensor::zeros(l.x.shape());
  add_product(out, l.x, map_transpose(l.spec, l.weight, s, l.x.shape()), 1.0f);
  add_product(out, lo, map_transpose(l.spec, wp, s, l.x.shape()), -1.0f);
  add_product(out, hi, map_transpose(l.spec, wn, s, l.x.shape()), -1.0f);
  return out;
}

}  // namespace

Tensor apply_kernel_rule(const KernelRuleParams& p, const KernelLayerView& l, const Tensor& r) {
  switch (p.rule) {
    case KernelRule::weights:
    case KernelRule::pattern:
    case KernelRule::pattern_attribution: return apply_substitute_rule(p, l, r);
    case KernelRule::lrp_z:
    case KernelRule::lrp_epsilon: return z_rule(p, l, r);
    case KernelRule::lrp_alpha_beta: return alpha_beta_rule(p, l, r);
    case KernelRule::lrp_w_square: {
      Tensor w2 = l.weight.clone();
      for (float& v : w2.values()) v *= v;
      return input_free_rule(l, w2, r);
    }
    case KernelRule::lrp_flat: return input_free_rule(l, Tensor::full(l.weight.shape(), 1.0f), r);
    case KernelRule::lrp_zbox: return zbox_rule(p, l, r);
  }
  throw Error("unknown kernel rule");
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
