// Backward rules: how one layer passes a signal or relevance from its output to its input.
// Chapters 4 and 7 (paper §3). A method (method.h) is a table choosing one rule per layer; the
// single layer-wise walk (backward_pass.h) applies them. The rules live in three files:
//   rule_substitute.cpp  r_in = Mᵀ r for M = w (gradient, DeConvNet, Guided BackProp), M = a
//                        (PatternNet) or M = w ⊙ a (PatternAttribution): backprop with substituted
//                        weights, through the same backward-data kernels as training;
//   rule_lrp.cpp         the relevance rules: z, epsilon, alpha-beta (z⁺), w², flat, zB (bounded);
//   rule_routing.cpp     ReLU gates (gradient, DeConvNet, Guided BackProp, pass-through) and the
//                        pooling / flatten / dropout routing.
#pragma once

#include "pn/core/tensor.h"
#include "pn/nn/layer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::explain {

enum class KernelRule {
  weights,              // Mᵀ r with M = w
  pattern,              // Mᵀ r with M = a (PatternNet)
  pattern_attribution,  // Mᵀ r with M = w ⊙ a (PatternAttribution)
  lrp_z,                // R_i = Σ_j x_i w_ji / z_j · R_j
  lrp_epsilon,          // z_j + ε·sign(z_j), sign(0) = +1
  lrp_alpha_beta,       // α · positive part − β · negative part (z⁺ = α 1, β 0, bias ignored)
  lrp_w_square,         // R_i = Σ_j w_ji² / Σ_i' w_ji'² · R_j
  lrp_flat,             // R_i = Σ_j 1 / |receptive field of j| · R_j
  lrp_zbox,             // bounded input domain [low, high] (Deep Taylor's zB rule)
};

enum class ReluRule {
  gate,     // r · 1[z > 0]: the gradient, PatternNet, PatternAttribution
  rectify,  // max(r, 0): DeConvNet (the forward gate is ignored)
  guided,   // max(r, 0) · 1[z > 0]: Guided BackProp
  pass,     // r: relevance passes a ReLU unchanged (LRP, Deep Taylor)
};

enum class AvgPoolRule {
  gradient,  // r / k² to every input of the window
  lrp_z,     // the average as a linear layer under the z-rule: x_i / (k² z_j) · R_j
};

struct KernelRuleParams {
  KernelRule rule = KernelRule::weights;
  double epsilon = 1e-7;
  double alpha = 1.0, beta = 0.0;
  double low = 0.0, high = 0.0;  // lrp_zbox
  bool ignore_bias = false;      // leave the bias out of the LRP denominators
};

const char* kernel_rule_name(KernelRule r);
const char* relu_rule_name(ReluRule r);

// What one layer's rule did to the total relevance (diagnostics; --report).
struct LayerFlow {
  std::string layer, rule;
  double sum_out = 0, sum_in = 0;  // Σ r at the layer's output and input
  double min_in = 0, max_in = 0;
  std::int64_t non_finite = 0;     // NaN/Inf values in r_in
};

// What a kernel rule derives from its layer's weight, bias and pattern alone, independent of the
// input: w ⊙ a, w², w⁺, w⁻ and the denominators of the input-free rules. A rule derives these on
// every call unless it is handed them ready-made: an Explainer (explain.h) derives them once per
// model, method and patterns, so that each explanation costs one forward and one backward pass
// and not, in addition, a pass over the 138 million weights of VGG-16. Tensors a rule does not
// use stay empty.
struct RuleWeights {
  Tensor m;         // the substituted matrix: w ⊙ a (PatternAttribution), w² (w²-rule), ones (flat)
  Tensor response;  // per sample: m applied to an input of ones (w², flat) or the bound term
                    // l·w⁺ + h·w⁻ (zB); shaped like one sample of the layer's output
  Tensor wp, wn;    // w⁺, w⁻ (alpha-beta, zB)
  Tensor bp, bn;    // b⁺, b⁻ (alpha-beta)
  bool derived = false;  // set by derive_rule_weights; an entry left false is derived on the spot
};

// Floats derive_rule_weights allocates for a rule on a weight of weight_floats values (0, 1x or 2x).
std::int64_t derived_floats(KernelRule rule, std::int64_t weight_floats);

// A kernel layer (linear or conv2d) as a rule sees it: its spec and parameters, its input x from
// the trace, its bias-inclusive output z (also from the trace), for the pattern rules the pattern
// of the same layout as the weight and, when prepared, the rule's RuleWeights.
struct KernelLayerView {
  const nn::LayerSpec& spec;
  const Tensor& weight;
  const Tensor& bias;
  const Tensor& x;
  const Tensor& z;
  const Tensor* pattern = nullptr;
  const RuleWeights* prepared = nullptr;
};

// The input-independent part of rule p on a layer (checks the pattern's presence and shape for
// the pattern rules). sample_in is the shape of one input sample of the layer: (1, C, H, W) or
// (1, D); it fixes which taps of a padded convolution fall inside the image.
RuleWeights derive_rule_weights(const KernelRuleParams& p, const nn::LayerSpec& spec, const Tensor& weight, const Tensor& bias,
                                const Tensor* pattern, const Shape& sample_in);

// r is (N, outputs of the layer) in the layer's output shape; returns r_in in x's shape.
Tensor apply_kernel_rule(const KernelRuleParams& p, const KernelLayerView& layer, const Tensor& r);
// A dense layer's rule applied to blocks of rows_per_block output neurons (rows of the weight) in
// turn, the blocks' r_in added up. Every kernel rule's r_in is a sum over the output neurons, each
// term depending on that neuron's weights, bias, pattern and output alone, so the sum is the whole
// layer's r_in (up to the order of float additions), while the rule's derived tensors (w⁺ and w⁻,
// w ⊙ a, ...) exist for one block at a time: fc6's w⁺ and w⁻ are 822 MB, a block of 167 rows 33 MB.
Tensor apply_dense_rule_in_blocks(const KernelRuleParams& p, const KernelLayerView& layer, const Tensor& r,
                                  std::int64_t rows_per_block);
// The three substitution rules alone (rule_substitute.cpp); apply_kernel_rule dispatches to it
// with the layer's RuleWeights (prepared or derived on the spot).
Tensor apply_substitute_rule(const KernelRuleParams& p, const KernelLayerView& layer, const RuleWeights& w, const Tensor& r);
// r is taken by value and overwritten: pass std::move(r) when the caller no longer needs it.
Tensor apply_relu_rule(ReluRule rule, const Tensor& z, Tensor r);
Tensor apply_maxpool_rule(const nn::LayerSpec& spec, const Tensor& x, const std::vector<std::int32_t>& switches,
                          const Tensor& r);
Tensor apply_avgpool_rule(AvgPoolRule rule, const nn::LayerSpec& spec, const Tensor& x, const Tensor& y, const Tensor& r);

// The linear map of a kernel layer with its weight replaced by m (same layout): forward m·x
// (+ bias when given) and transpose mᵀ·r. Shared by the rules and the tests.
Tensor map_forward(const nn::LayerSpec& spec, const Tensor& m, const Tensor& x, const Tensor* bias);
Tensor map_transpose(const nn::LayerSpec& spec, const Tensor& m, const Tensor& r, const Shape& x_shape);

// Elementwise max(t, 0) and min(t, 0).
Tensor positive_part(const Tensor& t);
Tensor negative_part(const Tensor& t);

// a / b with 0 where b == 0 (the convention of the reference implementations).
inline float safe_divide(float a, float b) { return b == 0.0f ? 0.0f : a / b; }

}  // namespace pn::explain
