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
};

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
// residual is zero, so rho is undefined).
std::vector<QualityRow> quality_per_layer(const nn::Sequential& model, const QualitySplits& splits,
                                          const std::vector<Estimator>& estimators, double ridge = 1e-6,
                                          std::uint64_t seed = 1, std::int64_t batch = 128,
                                          const QualityParts& parts = {});

// The rows as CSV: layer,estimator,mean_rho,median_rho,neurons,undefined.
std::string quality_csv(const std::vector<QualityRow>& rows);

}  // namespace pn::explain
