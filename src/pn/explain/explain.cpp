#include "pn/explain/explain.h"

#include "pn/core/error.h"
#include "pn/core/rng.h"

#include <algorithm>
#include <cmath>

namespace pn::explain {
namespace {

void accumulate(Tensor& acc, const Tensor& t, float scale) {
  for (std::int64_t i = 0; i < acc.numel(); ++i) acc[i] += scale * t[i];
}

}  // namespace

Explainer::Explainer(const nn::Sequential& model, Method method, const Patterns* patterns, const std::string& patterns_source,
                     std::int64_t prepare_budget_floats)
    : model_(model), method_(std::move(method)), patterns_(patterns) {
  if (method_.needs_patterns) {
    if (!patterns_) throw Error("--method {} needs patterns: pass --patterns P.safetensors (from `patternnet fit-patterns`)", method_.name);
    check_patterns_match(*patterns_, model_, patterns_source);
  }
  prepared_ = prepare_rule_weights(model_, method_, patterns_, prepare_budget_floats);
}

// One traced forward and the method's backward pass for fixed targets.
Tensor Explainer::one_pass(const Tensor& x, const std::vector<std::int64_t>& targets, std::vector<LayerFlow>* flows) const {
  nn::Trace trace;
  model_.forward(x, &trace);
  Tensor r = start_signal(trace.output, targets, method_.start);
  return backward_pass(model_, trace, method_, patterns_, std::move(r), flows, &prepared_);
}

Explanation explain(const nn::Sequential& model, const Tensor& x, const Method& m, const Patterns* patterns,
                    std::optional<std::int64_t> target, bool record_flows) {
  return Explainer(model, m, patterns)(x, target, record_flows);
}

TracedForward trace_forward(const nn::Sequential& model, const Tensor& x, std::optional<std::int64_t> target) {
  model.check_input(x, "explain");
  for (float v : x.values()) {
    if (!std::isfinite(v)) throw Error("explain: the input contains {} (NaN/Inf inputs are refused)", v);
  }
  TracedForward f;
  f.model = &model;
  f.x = x.clone();
  const Tensor out = model.forward(x, &f.trace);
  model.check_finite(f.trace, "explain");
  f.targets = choose_targets(out, target);
  const std::int64_t k = out.numel() / std::max<std::int64_t>(1, out.dim(0));
  for (std::size_t i = 0; i < f.targets.size(); ++i) f.target_outputs.push_back(out[static_cast<std::int64_t>(i) * k + f.targets[i]]);
  return f;
}

Explanation Explainer::operator()(const Tensor& x, std::optional<std::int64_t> target, bool record_flows) const {
  return explain_traced(trace_forward(model_, x, target), record_flows);
}

Explanation Explainer::explain_traced(const TracedForward& f, bool record_flows) const {
  // The trace holds the layers' inputs of this model only; another model's (even one of the same
  // architecture) would silently mix two networks' activations and weights.
  if (f.model != &model_) throw Error("explain: the traced forward pass was run on another model than this Explainer's");
  const nn::Sequential& model = model_;
  const Method& m = method_;
  const Tensor& x = f.x;
  Explanation e;
  e.targets = f.targets;
  e.target_outputs = f.target_outputs;
  std::vector<LayerFlow>* flows = record_flows ? &e.flows : nullptr;

  switch (m.wrapper) {
    case Method::Wrapper::none:
      // The shared forward (traced once) and one backward pass.
      e.result = backward_pass(model, f.trace, m, patterns_, start_signal(f.trace.output, e.targets, m.start), flows, &prepared_);
      if (m.times_input) {
        for (std::int64_t i = 0; i < x.numel(); ++i) e.result[i] *= x[i];
      }
      break;
    case Method::Wrapper::smoothgrad: {
      // Average gradient over noisy copies: noise std = sigma · (max - min) of each sample.
      const std::int64_t n = x.dim(0), per = x.numel() / std::max<std::int64_t>(1, n);
      std::vector<float> std_dev(static_cast<std::size_t>(n));
      for (std::int64_t s = 0; s < n; ++s) {
        const auto [lo, hi] = std::minmax_element(x.data() + s * per, x.data() + (s + 1) * per);
        std_dev[static_cast<std::size_t>(s)] = static_cast<float>(m.sigma) * (*hi - *lo);
      }
      Rng rng(m.seed);
      e.result = Tensor::zeros(x.shape());
      for (std::int64_t k2 = 0; k2 < m.samples; ++k2) {
        Tensor noisy = x.clone();
        for (std::int64_t i = 0; i < noisy.numel(); ++i) noisy[i] += static_cast<float>(rng.normal()) * std_dev[static_cast<std::size_t>(i / per)];
        const Tensor g = one_pass(noisy, e.targets, k2 == 0 ? flows : nullptr);
        accumulate(e.result, g, 1.0f / static_cast<float>(m.samples));
      }
      break;
    }
    case Method::Wrapper::integrated_gradients: {
      // (x - x0) ⊙ mean of the gradients at x0 + (k / steps)(x - x0), k = 0 .. steps-1 (left
      // Riemann sum; baseline x0 = 0).
      e.result = Tensor::zeros(x.shape());
      for (std::int64_t k2 = 0; k2 < m.steps; ++k2) {
        Tensor xs = x.clone();
        const float alpha = static_cast<float>(k2) / static_cast<float>(m.steps);
        for (float& v : xs.values()) v *= alpha;
        const Tensor g = one_pass(xs, e.targets, k2 + 1 == m.steps ? flows : nullptr);
        accumulate(e.result, g, 1.0f / static_cast<float>(m.steps));
      }
      for (std::int64_t i = 0; i < x.numel(); ++i) e.result[i] *= x[i];
      break;
    }
  }
  return e;
}

}  // namespace pn::explain
