// explain(): one forward pass with a trace, the start signal at each sample's target, and the
// method's backward pass (several of them for SmoothGrad and Integrated Gradients). Chapter 7.
// The softmax is never explained: models end with their logits.
#pragma once

#include "pn/explain/backward_pass.h"

#include <optional>
#include <vector>

namespace pn::explain {

struct Explanation {
  Tensor result;                       // the input's shape: (N, C, H, W) or (N, D)
  std::vector<std::int64_t> targets;   // explained output unit per sample
  std::vector<float> target_outputs;   // the model's output there
  std::vector<LayerFlow> flows;        // per layer, when requested (first sample pass only)
};

// patterns: required by pattern_net / pattern_attribution, checked against the model. target:
// an output index for every sample, or the arg-max per sample when empty.
Explanation explain(const nn::Sequential& model, const Tensor& x, const Method& m, const Patterns* patterns,
                    std::optional<std::int64_t> target = std::nullopt, bool record_flows = false);

}  // namespace pn::explain
