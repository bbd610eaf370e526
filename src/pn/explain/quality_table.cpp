#include "pn/explain/quality_table.h"

#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/explain/fit_patterns.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

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

QualityMemory quality_memory(std::int64_t d, std::int64_t o) {
  const double dd = static_cast<double>(d), od = static_cast<double>(o);
  // Statistics: three splits with regime sums (3 x O x D each), second moments on two (D x D).
  // Workspace: the input covariance, its factor and the evaluation covariance (D x D each), and
  // the solves and read-out vectors of layer_quality (about 15 x D x O).
  return {8.0 * (9.0 * od * dd + 2.0 * dd * dd), 8.0 * (3.0 * dd * dd + 15.0 * dd * od)};
}

double default_quality_memory_budget() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 8.0 * (1 << 30);
  return 0.75 * static_cast<double>(pages) * static_cast<double>(page);
}

std::vector<QualityRow> quality_per_layer(const nn::Sequential& model, const QualitySplits& splits,
                                          const std::vector<Estimator>& estimators, double ridge, std::uint64_t seed,
                                          std::int64_t batch, const QualityParts& parts, double memory_budget) {
  if (estimators.empty()) throw Error("quality: no estimators given");
  for (Estimator e : estimators) {
    if (e == Estimator::identity) throw Error("quality: rho is undefined for identity (its residual is zero)");
  }
  for (const auto* s : {&splits.patterns, &splits.readout, &splits.evaluation}) {
    if (s->size() < 2) throw Error("quality: every split needs at least 2 samples, got {}", s->size());
  }
  // The layers whose statistics and workspace fit the budget, in network order.
  if (memory_budget <= 0) memory_budget = default_quality_memory_budget();
  std::vector<std::size_t> chosen;
  std::vector<std::string> skipped_why(model.size());
  double held = 0, work = 0;
  for (std::size_t i : kernel_layers(model)) {
    const Tensor& w = model.layer(i).weight.value();
    const QualityMemory m = quality_memory(w.numel() / w.dim(0), w.dim(0));
    if (held + m.statistics + std::max(work, m.workspace) > memory_budget) {
      skipped_why[i] = fmt::format("its rho needs {:.1f} GB ({:.1f} GB of statistics, {:.1f} GB to solve), more than the "
                                   "{:.1f} GB budget left of {:.1f} GB",
                                   (m.statistics + m.workspace) / 1e9, m.statistics / 1e9, m.workspace / 1e9,
                                   (memory_budget - held - work) / 1e9, memory_budget / 1e9);
      continue;
    }
    chosen.push_back(i);
    held += m.statistics;
    work = std::max(work, m.workspace);
  }
  // Patterns need first moments only; the read-out and the evaluation need second moments.
  StatsCollector fit_stats(model, false, true, chosen), v_stats(model, true, true, chosen), eval_stats(model, true, true, chosen);
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
  const std::vector<std::size_t> all = kernel_layers(model);
  std::size_t k = 0;  // index into the collectors' layers
  for (std::size_t pk = 0; pk < all.size(); ++pk) {
    const nn::Layer& l = model.layer(all[pk]);
    if (!skipped_why[all[pk]].empty()) {
      for (Estimator e : estimators) {
        QualityRow r{l.spec.name, e, {}, skipped_why[all[pk]]};
        r.quality.mean = r.quality.median = std::numeric_limits<double>::quiet_NaN();
        rows.push_back(std::move(r));
      }
      continue;
    }
    std::vector<EstimatorPatterns> ep;
    for (std::size_t ei = 0; ei < estimators.size(); ++ei) {
      const LayerPatterns& lp = patterns[ei].layers[pk];
      ep.push_back({&lp.a, lp.a_negative.empty() ? &lp.a : &lp.a_negative});
    }
    std::vector<LayerQuality> q = layer_quality(v_stats.stats()[k], eval_stats.stats()[k], l.weight.value(), l.bias.value(), ep, ridge);
    for (std::size_t ei = 0; ei < estimators.size(); ++ei) rows.push_back({l.spec.name, estimators[ei], std::move(q[ei]), {}});
    ++k;
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
