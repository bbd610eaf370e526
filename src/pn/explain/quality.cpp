#include "pn/explain/quality.h"

#include "pn/core/error.h"
#include "pn/core/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pn::explain {
namespace {

// The moments of one neuron that the residual's covariance needs (see quality.h), from one split.
struct NeuronMoments {
  std::vector<double> c, cq;  // cov(x, y), cov(x, q)
  double syy = 0, sqq = 0, syq = 0;
};

NeuronMoments neuron_moments(const PatternStats& s, std::int64_t j, double b) {
  NeuronMoments m;
  m.c = s.cov_xy(j);  // y = z - b: the same covariance as z
  m.syy = s.var_y(j);
  const PatternStats::Regime pos = s.regime(j, true);
  const double frac = pos.n / s.rows();  // E[m]
  const std::vector<double> ex = s.mean_x();
  // q = m (z - b):  E[q] = E[m](E+[z] - b),  E[q²] = E[m] E+[(z - b)²],  E[x q] = E[m](E+[x z] - b E+[x]).
  const double eq = frac * (pos.mean_y - b);
  const double eqq = frac * (pos.mean_yy - 2 * b * pos.mean_y + b * b);
  const double ey = s.mean_y(j) - b;
  m.sqq = std::max(0.0, eqq - eq * eq);
  m.syq = eqq - ey * eq;  // y·q = m·y² = q²
  m.cq.resize(ex.size());
  for (std::size_t i = 0; i < ex.size(); ++i) m.cq[i] = frac * (pos.mean_xy[i] - b * pos.mean_x[i]) - ex[i] * eq;
  return m;
}

double dot(const double* a, const double* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// One estimator's rho per neuron, given the shared parts (see layer_quality).
LayerQuality quality_of(const Tensor& a_pos, const Tensor& a_neg, const std::vector<double>& sigma,
                        const std::vector<double>& sigma_e, const std::vector<double>& zc, const std::vector<NeuronMoments>& fm,
                        const std::vector<NeuronMoments>& em, std::int64_t d, std::int64_t o) {
  // U = [a₋, δ, c, c_q] of every neuron as columns of a D x 4O matrix, and Z = Σλ⁻¹ U.
  bool two_regimes = false;
  for (std::int64_t i = 0; i < a_pos.numel() && !two_regimes; ++i) two_regimes = a_pos[i] != a_neg[i];
  const std::int64_t solved = two_regimes ? 2 : 1;
  std::vector<double> za(static_cast<std::size_t>(d * solved * o), 0.0);
  std::vector<double> rhs(static_cast<std::size_t>(d * 4 * o));
  for (std::int64_t j = 0; j < o; ++j) {
    const auto& m = fm[static_cast<std::size_t>(j)];
    for (std::int64_t i = 0; i < d; ++i) {
      const double an = a_neg[j * d + i], ap = a_pos[j * d + i];
      rhs[static_cast<std::size_t>(i * 4 * o + 4 * j + 0)] = an;
      rhs[static_cast<std::size_t>(i * 4 * o + 4 * j + 1)] = ap - an;
      rhs[static_cast<std::size_t>(i * 4 * o + 4 * j + 2)] = m.c[static_cast<std::size_t>(i)];
      rhs[static_cast<std::size_t>(i * 4 * o + 4 * j + 3)] = m.cq[static_cast<std::size_t>(i)];
      za[static_cast<std::size_t>(i * solved * o + solved * j)] = an;
      if (two_regimes) za[static_cast<std::size_t>(i * solved * o + solved * j + 1)] = ap - an;
    }
  }
  linalg::cholesky_solve(sigma, d, za, solved * o);
  std::vector<double> z(static_cast<std::size_t>(d * 4 * o), 0.0);
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < o; ++j) {
      double* zi = z.data() + i * 4 * o + 4 * j;
      zi[0] = za[static_cast<std::size_t>(i * solved * o + solved * j)];
      zi[1] = two_regimes ? za[static_cast<std::size_t>(i * solved * o + solved * j + 1)] : 0.0;
      zi[2] = zc[static_cast<std::size_t>(i * 2 * o + 2 * j)];
      zi[3] = zc[static_cast<std::size_t>(i * 2 * o + 2 * j + 1)];
    }

  // v for every neuron (D x O), by Woodbury: v = t - Z (I + C UᵀZ)⁻¹ C Uᵀ t with t = Z ρ, where
  // cov[d̂, y] = U ρ, ρ = (-var y, -cov(q,y), 1, 0).
  std::vector<double> v(static_cast<std::size_t>(d * o), 0.0);
  std::vector<char> defined(static_cast<std::size_t>(o), 1);
  for (std::int64_t j = 0; j < o; ++j) {
    const auto& m = fm[static_cast<std::size_t>(j)];
    if (!(m.syy > 0)) {
      defined[static_cast<std::size_t>(j)] = 0;
      continue;
    }
    const double C[16] = {m.syy, m.syq, -1, 0, m.syq, m.sqq, 0, -1, -1, 0, 0, 0, 0, -1, 0, 0};
    const double rho[4] = {-m.syy, -m.syq, 1, 0};
    // G = Uᵀ Z (4 x 4) and h = Uᵀ t (4).
    double G[16] = {}, t_coef[4] = {rho[0], rho[1], rho[2], rho[3]};
    for (int p = 0; p < 4; ++p)
      for (int q = 0; q < 4; ++q) {
        double s = 0;
        for (std::int64_t i = 0; i < d; ++i)
          s += rhs[static_cast<std::size_t>(i * 4 * o + 4 * j + p)] * z[static_cast<std::size_t>(i * 4 * o + 4 * j + q)];
        G[p * 4 + q] = s;
      }
    double h[4] = {};
    for (int p = 0; p < 4; ++p)
      for (int q = 0; q < 4; ++q) h[p] += G[p * 4 + q] * t_coef[q];
    // Solve (I + C G) y = C h; then v = Z (t_coef - y).
    std::vector<double> M(16), rhs4(4);
    for (std::size_t p = 0; p < 4; ++p) {
      double ch = 0;
      for (std::size_t q = 0; q < 4; ++q) {
        double cg = 0;
        for (std::size_t r = 0; r < 4; ++r) cg += C[p * 4 + r] * G[r * 4 + q];
        M[p * 4 + q] = (p == q ? 1.0 : 0.0) + cg;
        ch += C[p * 4 + q] * h[q];
      }
      rhs4[p] = ch;
    }
    if (!linalg::solve_small(M, rhs4, 4)) {
      defined[static_cast<std::size_t>(j)] = 0;
      continue;
    }
    double coef[4];
    for (int p = 0; p < 4; ++p) coef[p] = t_coef[p] - rhs4[static_cast<std::size_t>(p)];
    for (std::int64_t i = 0; i < d; ++i) {
      double s = 0;
      for (int p = 0; p < 4; ++p) s += z[static_cast<std::size_t>(i * 4 * o + 4 * j + p)] * coef[p];
      v[static_cast<std::size_t>(i * o + j)] = s;
    }
  }

  // Evaluate on the other split: corr = vᵀ cov[d̂, y] / sqrt(vᵀ cov[d̂] v · var(y)), with
  // cov[d̂] = Σ + U C Uᵀ built from that split's moments and the same patterns.
  std::vector<double> sv(static_cast<std::size_t>(d * o), 0.0);  // Σ_eval · V
#pragma omp parallel for schedule(static) if (d * d * o > 1000000)
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t k = 0; k < d; ++k) {
      const double sik = sigma_e[static_cast<std::size_t>(i * d + k)];
      const double* vk = v.data() + k * o;
      double* out = sv.data() + i * o;
      for (std::int64_t j = 0; j < o; ++j) out[j] += sik * vk[j];
    }
  LayerQuality q;
  q.rho.assign(static_cast<std::size_t>(o), std::numeric_limits<double>::quiet_NaN());
  std::vector<double> good;
  for (std::int64_t j = 0; j < o; ++j) {
    const auto& m = em[static_cast<std::size_t>(j)];
    if (!defined[static_cast<std::size_t>(j)] || !(m.syy > 0)) {
      ++q.undefined;
      continue;
    }
    std::vector<double> vj(static_cast<std::size_t>(d)), an(static_cast<std::size_t>(d)), dl(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < d; ++i) {
      vj[static_cast<std::size_t>(i)] = v[static_cast<std::size_t>(i * o + j)];
      an[static_cast<std::size_t>(i)] = a_neg[j * d + i];
      dl[static_cast<std::size_t>(i)] = a_pos[j * d + i] - a_neg[j * d + i];
    }
    // [book:rho]
    double vsv = 0;
    for (std::int64_t i = 0; i < d; ++i) vsv += vj[static_cast<std::size_t>(i)] * sv[static_cast<std::size_t>(i * o + j)];
    // uᵀv for the columns of U, then vᵀ U C Uᵀ v.
    const double u[4] = {dot(an.data(), vj.data(), d), dot(dl.data(), vj.data(), d), dot(m.c.data(), vj.data(), d),
                         dot(m.cq.data(), vj.data(), d)};
    const double C[16] = {m.syy, m.syq, -1, 0, m.syq, m.sqq, 0, -1, -1, 0, 0, 0, 0, -1, 0, 0};
    double quad = vsv;
    for (int p = 0; p < 4; ++p)
      for (int r = 0; r < 4; ++r) quad += u[p] * C[p * 4 + r] * u[r];
    const double cov_vd_y = u[2] - u[0] * m.syy - u[1] * m.syq;  // vᵀ(c - a₋ var y - δ cov(q,y))
    if (!(quad > 0)) {
      ++q.undefined;
      continue;
    }
    // The criterion's max over v is never negative (-v is a read-out too); a v fitted on one split
    // that correlates negatively on another has recovered nothing, so it counts as zero and
    // rho stays in [0, 1].
    // A correlation above 1 is rounding (the read-out recovers y exactly): clamp it too.
    const double corr = std::clamp(cov_vd_y / std::sqrt(quad * m.syy), 0.0, 1.0);
    q.rho[static_cast<std::size_t>(j)] = 1.0 - corr;
    // [/book:rho]
    good.push_back(1.0 - corr);
  }
  if (!good.empty()) {
    double s = 0;
    for (double r : good) s += r;
    q.mean = s / static_cast<double>(good.size());
    std::sort(good.begin(), good.end());
    const std::size_t n = good.size();
    q.median = n % 2 ? good[n / 2] : 0.5 * (good[n / 2 - 1] + good[n / 2]);
  }
  return q;
}

}  // namespace

LayerQuality layer_quality(const PatternStats& fit, const PatternStats& eval, const Tensor& w, const Tensor& bias,
                           const Tensor& a_pos, const Tensor& a_neg, double ridge) {
  return layer_quality(fit, eval, w, bias, std::vector<EstimatorPatterns>{{&a_pos, &a_neg}}, ridge).front();
}

std::vector<LayerQuality> layer_quality(const PatternStats& fit, const PatternStats& eval, const Tensor& w, const Tensor& bias,
                                        const std::vector<EstimatorPatterns>& estimators, double ridge) {
  const std::int64_t o = w.dim(0), d = w.numel() / o;
  if (fit.inputs() != d || eval.inputs() != d || fit.neurons() != o || eval.neurons() != o) {
    throw Error("quality: statistics of D = {}, O = {} do not match a layer of weight shape {}", fit.inputs(), fit.neurons(), w.shape());
  }
  for (const EstimatorPatterns& e : estimators) {
    if (!e.a_pos || !e.a_neg) throw Error("quality: an estimator without patterns");
    require_shape(*e.a_pos, w.shape(), "quality", "positive-regime pattern");
    require_shape(*e.a_neg, w.shape(), "quality", "negative-regime pattern");
  }
  if (fit.rows() == 0 || eval.rows() == 0) throw Error("quality: a split holds no rows");

  // Σλ = cov(x) + λI on the fitting split, factorised once. With fewer rows than inputs (or
  // constant inputs) cov(x) is singular and rounding can make it slightly indefinite; the ridge
  // then grows tenfold until the factorisation succeeds (up to 1e-2 of the mean variance).
  const std::vector<double> cov = fit.cov_xx();
  double trace = 0;
  for (std::int64_t i = 0; i < d; ++i) trace += cov[static_cast<std::size_t>(i * d + i)];
  const double mean_var = std::max(trace / static_cast<double>(d), 1e-300);
  std::vector<double> sigma;
  for (double rel = ridge;; rel *= 10) {
    sigma = cov;
    for (std::int64_t i = 0; i < d; ++i) sigma[static_cast<std::size_t>(i * d + i)] += rel * mean_var;
    try {
      linalg::cholesky(sigma, d);
      break;
    } catch (const Error& e) {
      if (rel >= 1e-2) throw Error("quality: the input covariance stays singular even with a ridge of {} ({})", rel, e.what());
    }
  }

  // Everything that does not depend on the patterns is shared by the estimators: the factorisation
  // above, the neurons' moments on both splits, Σλ⁻¹[c, c_q] (two of U's four columns) and the
  // evaluation split's covariance. Per estimator only Σλ⁻¹a₋ remains, and Σλ⁻¹δ when the
  // estimator has two regimes (δ = a₊ - a₋ is zero for the single-pattern ones).
  std::vector<NeuronMoments> fm(static_cast<std::size_t>(o)), em(static_cast<std::size_t>(o));
  std::vector<double> zc(static_cast<std::size_t>(d * 2 * o));
  for (std::int64_t j = 0; j < o; ++j) {
    fm[static_cast<std::size_t>(j)] = neuron_moments(fit, j, bias[j]);
    em[static_cast<std::size_t>(j)] = neuron_moments(eval, j, bias[j]);
    const auto& m = fm[static_cast<std::size_t>(j)];
    for (std::int64_t i = 0; i < d; ++i) {
      zc[static_cast<std::size_t>(i * 2 * o + 2 * j + 0)] = m.c[static_cast<std::size_t>(i)];
      zc[static_cast<std::size_t>(i * 2 * o + 2 * j + 1)] = m.cq[static_cast<std::size_t>(i)];
    }
  }
  linalg::cholesky_solve(sigma, d, zc, 2 * o);
  const std::vector<double> sigma_e = eval.cov_xx();
  std::vector<LayerQuality> out;
  out.reserve(estimators.size());
  for (const EstimatorPatterns& est : estimators) {
    out.push_back(quality_of(*est.a_pos, *est.a_neg, sigma, sigma_e, zc, fm, em, d, o));
  }
  return out;
}

}  // namespace pn::explain
