// The one layer-wise backward pass every explanation method shares. Chapter 4 (paper §3.2).
// From a start signal at the network's output it walks the layers from last to first and lets
// the method's table pick each layer's rule; the trace of the forward pass supplies every layer's
// input, the ReLU pre-activations and the max-pooling switches. Patterns (for PatternNet and
// PatternAttribution) are looked up by layer name.
#pragma once

#include "pn/explain/method.h"
#include "pn/explain/patterns.h"
#include "pn/nn/trace.h"

#include <optional>
#include <vector>

namespace pn::explain {

// Per sample: the explained output unit (arg-max of the output when index is empty). Throws for
// an index outside the output.
std::vector<std::int64_t> choose_targets(const Tensor& output, std::optional<std::int64_t> index);

// (N, outputs): zero except at each sample's target, where it is 1 or the output's value.
Tensor start_signal(const Tensor& output, const std::vector<std::int64_t>& targets, Start start);

// r (the model's output shape) -> the signal / relevance at the input. With flows, records what
// every layer did to the total (LayerFlow, in layer order). prepared (optional, one entry per
// layer, from prepare_rule_weights) holds the rules' input-independent tensors.
Tensor backward_pass(const nn::Sequential& model, const nn::Trace& trace, const Method& m, const Patterns* patterns,
                     Tensor r, std::vector<LayerFlow>* flows = nullptr, const std::vector<RuleWeights>* prepared = nullptr);

// RuleWeights for every kernel layer of the model under method m (empty entries elsewhere).
// Checks the patterns' presence and shapes for the pattern methods. With budget_floats >= 0 the
// derived tensors of all prepared layers together stay within that many floats: a layer that does
// not fit is left underived (RuleWeights::derived false) and derived on the spot by every backward
// pass, a large dense layer then block by block (kDenseBlockFloats).
std::vector<RuleWeights> prepare_rule_weights(const nn::Sequential& model, const Method& m, const Patterns* patterns,
                                              std::int64_t budget_floats = -1);

// A dense layer whose rule derives more floats than this, and has no prepared RuleWeights, is
// explained in blocks of output neurons (apply_dense_rule_in_blocks) of about this many weights.
inline constexpr std::int64_t kDenseBlockFloats = std::int64_t{4} << 20;  // 16 MiB

}  // namespace pn::explain
