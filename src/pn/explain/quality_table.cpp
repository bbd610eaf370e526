#include "pn/explain/quality_table.h"

#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/explain/fit_patterns.h"

#include <fmt/core.h>

namespace pn::explain {
namespace {

void collect(StatsCollector& c, const nn::DataSource& x, std::int64_t batch, const char* label, dist::Shard part) {
  const dist::Range r = dist::shard_range(x.size(), batch, part);
  // A part after the first centres its values on the first batch's reference points, as one pass would.
  if (r.begin > 0 || r.size() == 0) c.set_reference(x.batch(0, std::min(x.size(), batch)));
  Progress bar(label, r.size(), "img");
  for (std::int64_t b = r.begin; b < r.end; b += batch) {
    const std::int64_t e = std::min(r.end, b + batch);
    c.add_batch(x.batch(b, e));
    bar.advance(e - b);
  }
  bar.finish();
}

}  // namespace

std::vector<QualityRow> quality_per_layer(const nn::Sequential& model, const QualitySplits& splits,
                                          const std::vector<Estimator>& estimators, double ridge, std::uint64_t seed,
                                          std::int64_t batch, const QualityParts& parts) {
  if (estimators.empty()) throw Error("quality: no estimators given");
  for (Estimator e : estimators) {
    if (e == Estimator::identity) throw Error("quality: rho is undefined for identity (its residual is zero)");
  }
  for (const auto* s : {&splits.patterns, &splits.readout, &splits.evaluation}) {
    if (s->size() < 2) throw Error("quality: every split needs at least 2 samples, got {}", s->size());
  }
  // Patterns need first moments only; the read-out and the evaluation need second moments.
  StatsCollector fit_stats(model, false), v_stats(model, true), eval_stats(model, true);
  collect(fit_stats, splits.patterns, batch, "patterns split", parts.part);
  collect(v_stats, splits.readout, batch, "read-out split", parts.part);
  collect(eval_stats, splits.evaluation, batch, "evaluation split", parts.part);
  if (parts.reduce) {
    bool complete = true;
    for (StatsCollector* c : {&fit_stats, &v_stats, &eval_stats}) complete = parts.reduce(c->stats()) && complete;
    if (!complete) return {};
  }
  fit_stats.set_rows_seen(static_cast<double>(splits.patterns.size()));

  std::vector<Patterns> patterns;
  patterns.reserve(estimators.size());
  for (Estimator e : estimators) patterns.push_back(fit_patterns(model, &fit_stats, e, seed));
  std::vector<QualityRow> rows;
  const auto& layers = v_stats.layer_indices();
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const nn::Layer& l = model.layer(layers[k]);
    std::vector<EstimatorPatterns> ep;
    for (std::size_t ei = 0; ei < estimators.size(); ++ei) {
      const LayerPatterns& lp = patterns[ei].layers[k];
      ep.push_back({&lp.a, lp.a_negative.empty() ? &lp.a : &lp.a_negative});
    }
    std::vector<LayerQuality> q = layer_quality(v_stats.stats()[k], eval_stats.stats()[k], l.weight.value(), l.bias.value(), ep, ridge);
    for (std::size_t ei = 0; ei < estimators.size(); ++ei) rows.push_back({l.spec.name, estimators[ei], std::move(q[ei])});
  }
  return rows;
}

std::string quality_csv(const std::vector<QualityRow>& rows) {
  std::string csv = "layer,estimator,mean_rho,median_rho,neurons,undefined\n";
  for (const QualityRow& r : rows) {
    csv += fmt::format("{},{},{:.6f},{:.6f},{},{}\n", r.layer, estimator_name(r.estimator), r.quality.mean, r.quality.median,
                       r.quality.rho.size(), r.quality.undefined);
  }
  return csv;
}

}  // namespace pn::explain
