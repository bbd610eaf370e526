// The input-independent half of the kernel rules (RuleWeights in rules.h): everything a rule
// computes from its layer's weight, bias and pattern alone. Chapter 7. An Explainer derives it
// once per model, method and patterns; a rule called without it derives it on the spot, through
// this same function, so both paths give the same numbers.
#include "pn/core/error.h"
#include "pn/explain/rules.h"

#include <vector>

namespace pn::explain {

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

namespace {

void check_pattern(const KernelRuleParams& p, const nn::LayerSpec& spec, const Tensor& weight, const Tensor* pattern) {
  if (!pattern) throw Error("layer '{}': the {} rule needs a pattern for this layer (pass --patterns)", spec.name, kernel_rule_name(p.rule));
  if (pattern->shape() != weight.shape()) {
    throw Error("layer '{}': the pattern has shape {} but the weight has shape {}", spec.name, pattern->shape().str(), weight.shape().str());
  }
}

// One sample of the layer's output: (1, O) or (1, O, OH, OW).
Shape sample_out_shape(const nn::LayerSpec& spec, const Tensor& m, const Shape& sample_in) {
  if (spec.kind != nn::Kind::conv2d) return Shape{1, m.dim(0)};
  const std::int64_t oh = (sample_in.dim(2) + 2 * spec.padding - m.dim(2)) / spec.stride + 1;
  const std::int64_t ow = (sample_in.dim(3) + 2 * spec.padding - m.dim(3)) / spec.stride + 1;
  return Shape{1, m.dim(0), oh, ow};
}

// The layer with weights m applied to an input of ones, without bias: the denominator of the w²
// and flat rules, so that a border output of a padded convolution counts only the inputs it really
// sees. It needs no convolution: with S[o][ky][kx] = Σ_c m[o][c][ky][kx], output (oy, ox) sums S
// over the taps that land inside the image. Sums run in double; the result is per sample.
Tensor ones_response(const nn::LayerSpec& spec, const Tensor& m, const Shape& sample_in) {
  Tensor z(sample_out_shape(spec, m, sample_in));
  const std::int64_t o = m.dim(0), per_o = m.numel() / o;
  if (spec.kind != nn::Kind::conv2d) {
    for (std::int64_t j = 0; j < o; ++j) {
      double s = 0;
      for (std::int64_t i = 0; i < per_o; ++i) s += m[j * per_o + i];
      z[j] = static_cast<float>(s);
    }
    return z;
  }
  const std::int64_t c = m.dim(1), kh = m.dim(2), kw = m.dim(3), oh = z.dim(2), ow = z.dim(3);
  const std::int64_t ih = sample_in.dim(2), iw = sample_in.dim(3), st = spec.stride, pad = spec.padding;
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
        z[(j * oh + oy) * ow + ox] = static_cast<float>(s);
      }
  return z;
}

}  // namespace

std::int64_t derived_floats(KernelRule rule, std::int64_t weight_floats) {
  switch (rule) {
    case KernelRule::weights:
    case KernelRule::pattern:
    case KernelRule::lrp_z:
    case KernelRule::lrp_epsilon: return 0;
    case KernelRule::pattern_attribution:
    case KernelRule::lrp_w_square:
    case KernelRule::lrp_flat: return weight_floats;
    case KernelRule::lrp_alpha_beta:
    case KernelRule::lrp_zbox: return 2 * weight_floats;
  }
  return 2 * weight_floats;
}

RuleWeights derive_rule_weights(const KernelRuleParams& p, const nn::LayerSpec& spec, const Tensor& weight, const Tensor& bias,
                                const Tensor* pattern, const Shape& sample_in) {
  RuleWeights w;
  w.derived = true;
  switch (p.rule) {
    case KernelRule::weights:
    case KernelRule::lrp_z:
    case KernelRule::lrp_epsilon: break;
    // [book:pattern_weights]
    case KernelRule::pattern: check_pattern(p, spec, weight, pattern); break;
    case KernelRule::pattern_attribution:
      check_pattern(p, spec, weight, pattern);
      w.m = weight.clone();
      for (std::int64_t i = 0; i < w.m.numel(); ++i) w.m[i] *= (*pattern)[i];
      break;
    // [/book:pattern_weights]
    case KernelRule::lrp_alpha_beta:
      w.wp = positive_part(weight), w.wn = negative_part(weight);
      w.bp = positive_part(bias), w.bn = negative_part(bias);
      break;
    case KernelRule::lrp_w_square:
      w.m = weight.clone();
      for (float& v : w.m.values()) v *= v;
      w.response = ones_response(spec, w.m, sample_in);
      break;
    case KernelRule::lrp_flat:
      w.m = Tensor::full(weight.shape(), 1.0f);
      w.response = ones_response(spec, w.m, sample_in);
      break;
    case KernelRule::lrp_zbox: {
      if (!(p.low < p.high)) throw Error("layer '{}': the bounded rule needs --low < --high, got {} and {}", spec.name, p.low, p.high);
      w.wp = positive_part(weight), w.wn = negative_part(weight);
      // l·w⁺ + h·w⁻: the part of the zB denominator that does not depend on x.
      w.response = map_forward(spec, w.wp, Tensor::full(sample_in, static_cast<float>(p.low)), nullptr);
      const Tensor zh = map_forward(spec, w.wn, Tensor::full(sample_in, static_cast<float>(p.high)), nullptr);
      for (std::int64_t i = 0; i < w.response.numel(); ++i) w.response[i] += zh[i];
      break;
    }
  }
  return w;
}

}  // namespace pn::explain
