// rho(S) per layer and estimator over three data splits: the protocol of the paper's correlation
// plots (§5.2, Fig. 3). Patterns are fitted on the first split, the read-out v on the second and
// the correlation measured on the third, so no estimator can score by fitting noise. Chapter 6;
// used by `patternnet quality` and experiments/fig3_correlation.
#pragma once

#include "pn/dist/shard.h"
#include "pn/explain/estimator.h"
#include "pn/explain/pattern_stats.h"
#include "pn/explain/quality.h"
#include "pn/nn/data_source.h"
#include "pn/nn/sequential.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pn::explain {

struct QualityRow {
  std::string layer;
  Estimator estimator = Estimator::linear;
  LayerQuality quality;
  // Non-empty when the layer was left out because its rho would need more memory than the
  // budget (quality.mean and quality.median are then NaN, quality.rho is empty).
  std::string skipped;
};

// Bytes the rho of a layer with d inputs and o neurons needs: its statistics on the three splits
// (held for every evaluated layer at once, second moments D² on two of them) and the workspace of
// layer_quality (one layer at a time: three D x D matrices and about 15 D x O).
struct QualityMemory {
  double statistics = 0, workspace = 0;
};
QualityMemory quality_memory(std::int64_t d, std::int64_t o);
// The default budget: three quarters of the machine's physical memory.
double default_quality_memory_budget();

struct QualitySplits {
  nn::DataSource patterns, readout, evaluation;
};

// Splitting the work over processes (MPI ranks): this process collects shard `part` of each split
// (dist::shard_range) about the reference points of the split's first batch, then `reduce` sums
// every process's statistics; it returns true where the sums are complete (rank 0), and only
// there are rows computed. The default is one process doing everything.
struct QualityParts {
  dist::Shard part;
  std::function<bool(std::vector<PatternStats>&)> reduce;
};

// One row per dense/conv layer and estimator, layers in network order and estimators in the
// given order within a layer. Shows progress bars on a terminal. identity is refused (its
// residual is zero, so rho is undefined). Layers are taken in network order while the memory of
// quality_memory() fits memory_budget bytes (0: default_quality_memory_budget()); a layer that
// does not fit is skipped (QualityRow::skipped says why) and the later ones are still tried: on
// VGG-16, fc6 (25088 inputs) would need about 45 GB.
std::vector<QualityRow> quality_per_layer(const nn::Sequential& model, const QualitySplits& splits,
                                          const std::vector<Estimator>& estimators, double ridge = 1e-6,
                                          std::uint64_t seed = 1, std::int64_t batch = 128,
                                          const QualityParts& parts = {}, double memory_budget = 0);

// The rows as CSV: layer,estimator,mean_rho,median_rho,neurons,undefined (skipped layers: nan and 0).
std::string quality_csv(const std::vector<QualityRow>& rows);

}  // namespace pn::explain
