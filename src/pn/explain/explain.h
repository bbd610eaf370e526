// explain(): one forward pass with a trace, the start signal at each sample's target, and the
// method's backward pass (several of them for SmoothGrad and Integrated Gradients). Chapter 4.
// The softmax is never explained: models end with their logits.
#pragma once

#include "pn/explain/backward_pass.h"

#include <optional>
#include <string>
#include <vector>

namespace pn::explain {

struct Explanation {
  Tensor result;                       // the input's shape: (N, C, H, W) or (N, D)
  std::vector<std::int64_t> targets;   // explained output unit per sample
  std::vector<float> target_outputs;   // the model's output there
  std::vector<LayerFlow> flows;        // per layer, when requested (first sample pass only)
};

// The forward half of an explanation: one traced forward pass of x and the explained output unit
// of every sample. Computed once, it is shared by every method that explains the same input (the
// method montage of `patternnet explain --methods`): each method's backward pass then reads the
// same trace and starts at the same targets, so its result is bit-identical to explaining alone
// (Explainer::operator() is this plus Explainer::explain_traced).
struct TracedForward {
  const nn::Sequential* model = nullptr;  // the model that ran the pass
  Tensor x;                               // a copy of the input: SmoothGrad, Integrated Gradients
                                          // and input x gradient need it again
  nn::Trace trace;                        // trace.output holds the logits (N, outputs)
  std::vector<std::int64_t> targets;      // explained output unit per sample
  std::vector<float> target_outputs;      // the logits there
};

// Checks x against the model (shape; NaN/Inf refused) and runs the traced forward pass. target:
// an output index for every sample, or the arg-max per sample when empty. The model must outlive
// the result and keep its values.
TracedForward trace_forward(const nn::Sequential& model, const Tensor& x, std::optional<std::int64_t> target = std::nullopt);

// A model, a method and (for the pattern methods) patterns, bound together: the constructor checks
// the patterns against the model once (fingerprint, layers, shapes) and derives the rules'
// input-independent tensors once (RuleWeights: w ⊙ a, w², w⁺, w⁻, denominators), so that every
// call then costs one traced forward and one backward pass (SmoothGrad and Integrated Gradients:
// one per sample / step). The model and the patterns must outlive the Explainer and keep their
// values: the prepared tensors are derived from them.
class Explainer {
 public:
  // patterns_source names the patterns in error messages (e.g. their file). prepare_budget_floats
  // (prepare_rule_weights): -1 prepares every layer's rule tensors once, the fastest for many
  // calls; a budget bounds the memory they hold, the rest is derived on every call.
  Explainer(const nn::Sequential& model, Method method, const Patterns* patterns, const std::string& patterns_source = "the patterns",
            std::int64_t prepare_budget_floats = -1);

  // target: an output index for every sample, or the arg-max per sample when empty.
  Explanation operator()(const Tensor& x, std::optional<std::int64_t> target = std::nullopt, bool record_flows = false) const;

  // The method's backward pass(es) on a forward pass already traced by trace_forward(), with its
  // targets: no forward pass of x is repeated (SmoothGrad and Integrated Gradients still run their
  // own passes on the perturbed inputs). Throws pn::Error when f was traced on another model.
  Explanation explain_traced(const TracedForward& f, bool record_flows = false) const;

  const Method& method() const { return method_; }

 private:
  Tensor one_pass(const Tensor& x, const std::vector<std::int64_t>& targets, std::vector<LayerFlow>* flows) const;

  const nn::Sequential& model_;
  Method method_;
  const Patterns* patterns_;
  std::vector<RuleWeights> prepared_;
};

// One explanation without keeping an Explainer (it prepares and checks on every call).
// patterns: required by pattern_net / pattern_attribution, checked against the model.
Explanation explain(const nn::Sequential& model, const Tensor& x, const Method& m, const Patterns* patterns,
                    std::optional<std::int64_t> target = std::nullopt, bool record_flows = false);

}  // namespace pn::explain
