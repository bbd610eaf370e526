#include "pn/explain/backward_pass.h"

#include "pn/core/error.h"
#include "pn/core/finite.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace pn::explain {

std::vector<std::int64_t> choose_targets(const Tensor& output, std::optional<std::int64_t> index) {
  const std::int64_t n = output.dim(0), k = output.numel() / std::max<std::int64_t>(1, n);
  std::vector<std::int64_t> t(static_cast<std::size_t>(n));
  if (index && (*index < 0 || *index >= k)) throw Error("--target {} is outside the model's {} outputs (0..{})", *index, k, k - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    if (index) {
      t[static_cast<std::size_t>(i)] = *index;
      continue;
    }
    const float* row = output.data() + i * k;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    t[static_cast<std::size_t>(i)] = best;
  }
  return t;
}

Tensor start_signal(const Tensor& output, const std::vector<std::int64_t>& targets, Start start) {
  Tensor r = Tensor::zeros(output.shape());
  const std::int64_t k = output.numel() / std::max<std::int64_t>(1, output.dim(0));
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::int64_t at = static_cast<std::int64_t>(i) * k + targets[i];
    r[at] = start == Start::one ? 1.0f : output[at];
  }
  return r;
}

namespace {

LayerFlow measure(const std::string& layer, const std::string& rule, const Tensor& r_out, const Tensor& r_in) {
  LayerFlow f;
  f.layer = layer;
  f.rule = rule;
  for (float v : r_out.values()) f.sum_out += v;
  f.min_in = std::numeric_limits<double>::infinity();
  f.max_in = -f.min_in;
  for (float v : r_in.values()) {
    if (!std::isfinite(v)) {
      ++f.non_finite;
      continue;
    }
    f.sum_in += v;
    f.min_in = std::min(f.min_in, static_cast<double>(v));
    f.max_in = std::max(f.max_in, static_cast<double>(v));
  }
  if (f.non_finite == r_in.numel()) f.min_in = f.max_in = 0;
  return f;
}

// What to try when a rule's result is not finite. The LRP rules divide by a denominator z that
// can come arbitrarily close to zero (chapter 4, "Stabilisers"); the others only multiply.
const char* non_finite_hint(nn::Kind kind, const std::string& rule) {
  if (rule.rfind("lrp_", 0) == 0) return ": a denominator of the rule is nearly zero; a larger --epsilon (lrp_epsilon) or another rule avoids it";
  if (kind == nn::Kind::linear || kind == nn::Kind::conv2d) return ": the weights, patterns or the signal overflow float32";
  return "";
}

}  // namespace

namespace {

// The pattern of kernel layer i when its rule needs one.
const Tensor* pattern_for(const KernelRuleParams& p, const Method& m, const Patterns* patterns, const std::string& layer) {
  if (p.rule != KernelRule::pattern && p.rule != KernelRule::pattern_attribution) return nullptr;
  const LayerPatterns* lp = patterns ? patterns->find(layer) : nullptr;
  if (!lp) throw Error("--method {}: the patterns have no entry for layer '{}'", m.name, layer);
  return &lp->a;
}

}  // namespace

std::vector<RuleWeights> prepare_rule_weights(const nn::Sequential& model, const Method& m, const Patterns* patterns,
                                              std::int64_t budget_floats) {
  if (m.needs_patterns && !patterns) throw Error("--method {} needs patterns: pass --patterns P.safetensors (from `patternnet fit-patterns`)", m.name);
  std::vector<RuleWeights> out(model.size());
  std::int64_t used = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const nn::Layer& layer = model.layer(i);
    if (layer.spec.kind != nn::Kind::linear && layer.spec.kind != nn::Kind::conv2d) continue;
    const KernelRuleParams& p = kernel_rule_for(m, model, i);
    const std::int64_t need = derived_floats(p.rule, layer.weight.value().numel());
    // Left out, the layer's tensors are derived (and its pattern checked) by each backward pass.
    if (budget_floats >= 0 && used + need > budget_floats) continue;
    used += need;
    Shape sample{1};
    for (std::int64_t d : i == 0 ? model.input_shape() : model.output_shape(i - 1)) sample.push_back(d);
    out[i] = derive_rule_weights(p, layer.spec, layer.weight.value(), layer.bias.value(), pattern_for(p, m, patterns, layer.spec.name), sample);
  }
  return out;
}

Tensor backward_pass(const nn::Sequential& model, const nn::Trace& trace, const Method& m, const Patterns* patterns,
                     Tensor r, std::vector<LayerFlow>* flows, const std::vector<RuleWeights>* prepared) {
  if (prepared && prepared->size() != model.size()) throw Error("backward pass: prepared rule weights for {} layers, the model has {}", prepared->size(), model.size());
  if (trace.layers.size() != model.size()) throw Error("backward pass: the trace has {} layers, the model {}", trace.layers.size(), model.size());
  if (r.shape() != trace.output.shape()) {
    throw Error("backward pass: the start signal has shape {} but the output is {}", r.shape().str(), trace.output.shape().str());
  }
  if (m.needs_patterns && !patterns) throw Error("--method {} needs patterns: pass --patterns P.safetensors (from `patternnet fit-patterns`)", m.name);
  require_finite(r, "backward pass: the start signal");
  if (flows) flows->clear();
  for (std::size_t i = model.size(); i-- > 0;) {
    const nn::Layer& layer = model.layer(i);
    const nn::LayerSpec& spec = layer.spec;
    const Tensor& x = trace.layers[i].input;
    const Tensor& y = i + 1 < model.size() ? trace.layers[i + 1].input : trace.output;
    Tensor r_in;
    std::string rule;
    switch (spec.kind) {
      case nn::Kind::linear:
      case nn::Kind::conv2d: {
        const KernelRuleParams& p = kernel_rule_for(m, model, i);
        const Tensor* pattern = pattern_for(p, m, patterns, spec.name);
        const RuleWeights* w = prepared && (*prepared)[i].derived ? &(*prepared)[i] : nullptr;
        const KernelLayerView view{spec, layer.weight.value(), layer.bias.value(), x, y, pattern, w};
        const std::int64_t in_features = layer.weight.value().numel() / std::max<std::int64_t>(1, layer.weight.value().dim(0));
        if (!w && spec.kind == nn::Kind::linear && derived_floats(p.rule, layer.weight.value().numel()) > kDenseBlockFloats) {
          r_in = apply_dense_rule_in_blocks(p, view, r, std::max<std::int64_t>(1, kDenseBlockFloats / in_features));
        } else {
          r_in = apply_kernel_rule(p, view, r);
        }
        rule = kernel_rule_name(p.rule);
        break;
      }
      case nn::Kind::relu:
        // The rule overwrites the signal it is given; with flows, r is still measured below.
        r_in = apply_relu_rule(m.relu, x, flows ? r.clone() : std::exchange(r, Tensor()));
        rule = relu_rule_name(m.relu);
        break;
      case nn::Kind::maxpool2d:
        r_in = apply_maxpool_rule(spec, x, trace.layers[i].switches, r);
        rule = "switches";
        break;
      case nn::Kind::avgpool2d:
        r_in = apply_avgpool_rule(m.avgpool, spec, x, y, r);
        rule = m.avgpool == AvgPoolRule::gradient ? "average" : "lrp_z";
        break;
      case nn::Kind::flatten:
        r_in = r.clone().reshaped(x.shape());
        rule = "reshape";
        break;
      case nn::Kind::dropout:
        r_in = std::move(r);
        r = r_in.clone();
        rule = "identity";
        break;
    }
    // The signal from above is finite (the start signal is, and every layer below checks its own):
    // a NaN or infinity here was made by this layer's rule, so the message names it.
    if (const std::int64_t at = find_non_finite(r_in); at >= 0) {
      throw Error("--method {}: layer '{}' (rule {}) turned a finite signal into {} (element {} of {}){}", m.name, spec.name, rule,
                  r_in.data()[at], at, r_in.shape(), non_finite_hint(spec.kind, rule));
    }
    if (flows) flows->push_back(measure(spec.name, rule, r, r_in));
    r = std::move(r_in);
  }
  if (flows) std::reverse(flows->begin(), flows->end());
  return r;
}

}  // namespace pn::explain
