#include "pn/explain/fit_patterns.h"

#include "pn/core/error.h"
#include "pn/kernels/conv.h"

#include <algorithm>
#include <cmath>

namespace pn::explain {

std::vector<std::size_t> kernel_layers(const nn::Sequential& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model.layer(i).spec.has_params()) out.push_back(i);
  }
  return out;
}

StatsCollector::StatsCollector(const nn::Sequential& model, bool second_moments, bool regimes)
    : StatsCollector(model, second_moments, regimes, kernel_layers(model)) {}

StatsCollector::StatsCollector(const nn::Sequential& model, bool second_moments, bool regimes,
                               const std::vector<std::size_t>& model_layers)
    : model_(model) {
  for (std::size_t i : model_layers) {
    if (i >= model.size() || !model.layer(i).spec.has_params()) {
      throw Error("pattern statistics: model layer {} is not a dense or conv layer", i);
    }
    const Tensor& w = model.layer(i).weight.value();
    layers_.push_back(i);
    stats_.emplace_back(w.numel() / w.dim(0), w.dim(0), second_moments, regimes);
  }
}

std::vector<std::string> StatsCollector::layer_names() const {
  std::vector<std::string> names;
  for (std::size_t i : layers_) names.push_back(model_.layer(i).spec.name);
  return names;
}

namespace {

// One forward pass of x; then, for every dense/conv layer k, conv(stats[k], geometry, input, z) or
// rows(stats[k], input, z, row count), z being the layer's bias-inclusive output before any ReLU
// (the next layer's input in the trace).
template <class Conv, class Rows>
void visit_layers(const nn::Sequential& model, const std::vector<std::size_t>& layers, std::vector<PatternStats>& stats,
                  const Tensor& x, Conv conv, Rows rows) {
  nn::Trace trace;
  model.forward(x, &trace);
  model.check_finite(trace, "pattern statistics");
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const std::size_t i = layers[k];
    const auto& spec = model.layer(i).spec;
    const Tensor& in = trace.layers[i].input;
    const Tensor& z = i + 1 < trace.layers.size() ? trace.layers[i + 1].input : trace.output;
    if (spec.kind == nn::Kind::conv2d) {
      const auto g = kernels::make_conv_geom(in.dim(0), in.dim(1), in.dim(2), in.dim(3), spec.out, spec.kernel, spec.kernel,
                                             spec.stride, spec.padding);
      conv(stats[k], g, in.data(), z.data());
    } else {
      rows(stats[k], in.data(), z.data(), in.dim(0));
    }
  }
}

}  // namespace

void StatsCollector::set_reference(const Tensor& first_batch) {
  model_.check_input(first_batch, "pattern statistics (reference batch)");
  visit_layers(
      model_, layers_, stats_, first_batch,
      [](PatternStats& s, const kernels::ConvGeom& g, const float* in, const float* z) { s.set_reference_conv(g, in, z); },
      [](PatternStats& s, const float* in, const float* z, std::int64_t n) { s.set_reference_rows(in, z, n); });
}

void StatsCollector::add_batch(const Tensor& x) {
  model_.check_input(x, "pattern statistics");
  for (float v : x.values()) {
    if (!std::isfinite(v)) throw Error("pattern statistics: the input batch contains {} (NaN/Inf inputs are refused)", v);
  }
  visit_layers(
      model_, layers_, stats_, x,
      [](PatternStats& s, const kernels::ConvGeom& g, const float* in, const float* z) { s.accumulate_conv(g, in, z); },
      [](PatternStats& s, const float* in, const float* z, std::int64_t n) { s.accumulate_rows(in, z, n); });
  images_ += static_cast<double>(x.dim(0));
}

Patterns fit_patterns(const nn::Sequential& model, const StatsCollector* collector, Estimator estimator, std::uint64_t seed) {
  if (estimator == Estimator::identity) throw Error("the identity estimator S_x has no pattern to fit");
  const bool needs_stats = estimator == Estimator::linear || estimator == Estimator::two_component;
  if (needs_stats && (!collector || collector->rows_seen() == 0)) {
    throw Error("fitting {} patterns needs data: the data set is empty", estimator_name(estimator));
  }
  Patterns p;
  p.estimator = estimator;
  p.model_fingerprint = model.fingerprint();
  Rng rng(seed);
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    if (!l.spec.has_params()) continue;
    LayerPatterns lp;
    lp.layer = l.spec.name;
    const Tensor& w = l.weight.value();
    // The collector's statistics of this layer; a collector of some layers only leaves the
    // others' patterns empty.
    std::size_t k = 0;
    if (needs_stats) {
      const auto& have = collector->layer_indices();
      k = static_cast<std::size_t>(std::find(have.begin(), have.end(), i) - have.begin());
      if (k == have.size()) {
        p.layers.push_back(std::move(lp));
        continue;
      }
    }
    switch (estimator) {
      case Estimator::filter: lp.a = filter_pattern(w, lp.report); break;
      case Estimator::random: lp.a = random_pattern(w, rng, lp.report); break;
      case Estimator::linear:
        lp.a = linear_pattern(collector->stats()[k], w, lp.report);
        lp.rows = collector->stats()[k].rows();
        break;
      case Estimator::two_component: {
        auto two = two_component_pattern(collector->stats()[k], w, lp.report);
        lp.a = std::move(two.positive);
        lp.a_negative = std::move(two.negative);
        lp.rows = collector->stats()[k].rows();
        break;
      }
      case Estimator::identity: break;
    }
    p.layers.push_back(std::move(lp));
  }
  return p;
}

}  // namespace pn::explain
