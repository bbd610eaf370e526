// Fitting patterns over a data set: one forward pass per batch, recording every dense and conv
// layer's input and pre-activation, fed to that layer's PatternStats; then each estimator turns the
// statistics into patterns. Chapter 5.
#pragma once

#include "pn/explain/pattern_stats.h"
#include "pn/explain/patterns.h"
#include "pn/nn/sequential.h"

#include <string>
#include <vector>

namespace pn::explain {

class StatsCollector {
public:
  // second_moments: also Σx·xᵀ per layer (for rho(S); D² doubles per layer). regimes: also the
  // positive-regime sums of the two-component estimator (three times the work of linear alone).
  StatsCollector(const nn::Sequential& model, bool second_moments, bool regimes = true);
  // Statistics of the given model layers only (indices into the model, dense or conv layers).
  StatsCollector(const nn::Sequential& model, bool second_moments, bool regimes, const std::vector<std::size_t>& model_layers);

  // x is a batch (N, input...) of the model's input; checks finiteness and shape.
  void add_batch(const Tensor& x);
  // Fixes every layer's reference point from the data set's first batch without adding it (see
  // PatternStats::set_reference_rows): what a part of a data set (a shard, an MPI rank) does
  // before its own batches, so that its sums merge with the other parts' as one pass's would.
  void set_reference(const Tensor& first_batch);

  // Conv layers' sums in double too (PatternStats::set_exact): about 1e-13 relative instead of
  // about 1e-9, at a few times the cost. Dense layers are always summed in double.
  void set_exact(bool exact) {
    for (PatternStats& s : stats_) s.set_exact(exact);
  }

  const std::vector<std::size_t>& layer_indices() const { return layers_; }  // model layer of each stats
  const std::vector<PatternStats>& stats() const { return stats_; }
  std::vector<PatternStats>& stats() { return stats_; }
  double rows_seen() const { return images_; }
  // Resuming from saved sums (read_stats_sums fills stats()): the samples behind them. Continuing
  // with add_batch then gives the same bits as one uninterrupted pass, as the saved sums include
  // the reference points the first batch fixed.
  void set_rows_seen(double images) { images_ = images; }
  // The model's names of the layers of stats(), in order.
  std::vector<std::string> layer_names() const;

private:
  const nn::Sequential& model_;
  std::vector<std::size_t> layers_;
  std::vector<PatternStats> stats_;
  double images_ = 0;
};

// The model's dense and conv layers (indices into the model), in order.
std::vector<std::size_t> kernel_layers(const nn::Sequential& model);

// Patterns of the given estimator for every dense and conv layer. identity has no pattern (an
// error); filter and random need no statistics (collector may be null for them). With a collector
// of some layers only, the linear and two-component patterns of the other layers are left empty.
Patterns fit_patterns(const nn::Sequential& model, const StatsCollector* collector, Estimator estimator,
                      std::uint64_t seed = 1);

}  // namespace pn::explain
