// Chapter 6: the closed-form quality criterion against a direct per-neuron least-squares oracle
// on explicit rows (the residual d̂ written out, v solved by Gaussian elimination, the correlation
// measured on held-out rows), for single-pattern and two-component estimators; plus its ordering
// on data where the answer is known.
#include "pn/core/linalg.h"
#include "pn/core/rng.h"
#include "pn/explain/estimator.h"
#include "pn/explain/pattern_stats.h"
#include "pn/explain/quality.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using pn::Shape;
using pn::Tensor;
namespace ex = pn::explain;

struct Split {
  std::vector<float> x, z;
  std::int64_t rows;
};

// x = 2 signal components + noise along a few directions + isotropic noise; z = Wx + b.
Split make_split(std::int64_t rows, const Tensor& w, const Tensor& b, std::uint64_t seed) {
  const std::int64_t o = w.dim(0), d = w.dim(1);
  pn::Rng rng(seed);
  Split s{{}, {}, rows};
  for (std::int64_t r = 0; r < rows; ++r) {
    const double s1 = rng.normal(), s2 = rng.uniform(-1, 1), e = rng.normal();
    std::vector<float> xr(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < d; ++i) {
      xr[static_cast<std::size_t>(i)] =
          static_cast<float>(s1 * (i == 0) + s2 * (i == 1) + e * (i % 2 ? 1.0 : -0.5) + 0.3 * rng.normal() + 0.2);
    }
    s.x.insert(s.x.end(), xr.begin(), xr.end());
    for (std::int64_t j = 0; j < o; ++j) {
      double zz = b[j];
      for (std::int64_t i = 0; i < d; ++i) zz += static_cast<double>(w[j * d + i]) * xr[static_cast<std::size_t>(i)];
      s.z.push_back(static_cast<float>(zz));
    }
  }
  return s;
}

ex::PatternStats stats_of(const Split& s, std::int64_t d, std::int64_t o) {
  ex::PatternStats st(d, o, true);
  st.accumulate_rows(s.x.data(), s.z.data(), s.rows);
  return st;
}

// The oracle: rows written out, everything in double.
double oracle_rho(const Split& fit, const Split& eval, const Tensor& w, const Tensor& ap, const Tensor& an,
                  std::int64_t j, double ridge) {
  const std::int64_t o = w.dim(0), d = w.dim(1);
  const auto residual = [&](const Split& s, std::int64_t r, std::vector<double>& dh, double& y) {
    y = 0;
    for (std::int64_t i = 0; i < d; ++i) y += static_cast<double>(w[j * d + i]) * s.x[static_cast<std::size_t>(r * d + i)];
    const bool on = s.z[static_cast<std::size_t>(r * o + j)] > 0.0f;
    for (std::int64_t i = 0; i < d; ++i)
      dh[static_cast<std::size_t>(i)] = s.x[static_cast<std::size_t>(r * d + i)] - static_cast<double>(on ? ap[j * d + i] : an[j * d + i]) * y;
  };
  // Fit: cov(d̂) + λI, cov(d̂, y) on the fitting split; λ from the input covariance's trace.
  std::vector<double> mx(static_cast<std::size_t>(d), 0), md(static_cast<std::size_t>(d), 0), dh(static_cast<std::size_t>(d));
  double my = 0, trace = 0;
  const double n = static_cast<double>(fit.rows);
  for (std::int64_t r = 0; r < fit.rows; ++r) {
    double y;
    residual(fit, r, dh, y);
    my += y / n;
    for (std::int64_t i = 0; i < d; ++i) {
      md[static_cast<std::size_t>(i)] += dh[static_cast<std::size_t>(i)] / n;
      mx[static_cast<std::size_t>(i)] += fit.x[static_cast<std::size_t>(r * d + i)] / n;
    }
  }
  std::vector<double> A(static_cast<std::size_t>(d * d), 0), rhs(static_cast<std::size_t>(d), 0);
  for (std::int64_t r = 0; r < fit.rows; ++r) {
    double y;
    residual(fit, r, dh, y);
    for (std::int64_t i = 0; i < d; ++i) {
      const double di = dh[static_cast<std::size_t>(i)] - md[static_cast<std::size_t>(i)];
      rhs[static_cast<std::size_t>(i)] += di * (y - my) / n;
      for (std::int64_t k = 0; k < d; ++k) A[static_cast<std::size_t>(i * d + k)] += di * (dh[static_cast<std::size_t>(k)] - md[static_cast<std::size_t>(k)]) / n;
      const double xi = fit.x[static_cast<std::size_t>(r * d + i)] - mx[static_cast<std::size_t>(i)];
      trace += xi * xi / n;
    }
  }
  for (std::int64_t i = 0; i < d; ++i) A[static_cast<std::size_t>(i * d + i)] += ridge * trace / static_cast<double>(d);
  EXPECT_TRUE(pn::linalg::solve_small(A, rhs, d));
  // Evaluate: Pearson correlation of y and vᵀd̂ on the held-out split.
  double sy = 0, sv = 0, syy = 0, svv = 0, syv = 0;
  const double m = static_cast<double>(eval.rows);
  for (std::int64_t r = 0; r < eval.rows; ++r) {
    double y;
    residual(eval, r, dh, y);
    double p = 0;
    for (std::int64_t i = 0; i < d; ++i) p += rhs[static_cast<std::size_t>(i)] * dh[static_cast<std::size_t>(i)];
    sy += y, sv += p, syy += y * y, svv += p * p, syv += y * p;
  }
  const double cov = syv / m - (sy / m) * (sv / m);
  const double corr = cov / std::sqrt((syy / m - (sy / m) * (sy / m)) * (svv / m - (sv / m) * (sv / m)));
  return 1.0 - corr;
}

TEST(Quality, ClosedFormEqualsTheLeastSquaresOracle) {
  const std::int64_t d = 6, o = 4;
  pn::Rng rng(1);
  Tensor w(Shape{o, d}), b(Shape{o});
  rng.fill_normal(w.values(), 0.0f, 1.0f);
  rng.fill_uniform(b.values(), -0.5f, 0.5f);
  const Split s1 = make_split(5000, w, b, 11), s2 = make_split(5000, w, b, 12), s3 = make_split(5000, w, b, 13);
  const ex::PatternStats st1 = stats_of(s1, d, o), st2 = stats_of(s2, d, o), st3 = stats_of(s3, d, o);
  ex::FitReport r1, r2, r3, r4;
  const Tensor lin = ex::linear_pattern(st1, w, r1);
  const auto two = ex::two_component_pattern(st1, w, r2);
  const Tensor filt = ex::filter_pattern(w, r3);
  pn::Rng prng(2);
  const Tensor rand = ex::random_pattern(w, prng, r4);
  const double ridge = 1e-4;
  struct Case {
    const char* name;
    const Tensor& ap;
    const Tensor& an;
  };
  for (const Case& c : {Case{"linear", lin, lin}, Case{"two_component", two.positive, two.negative}, Case{"filter", filt, filt},
                        Case{"random", rand, rand}}) {
    const ex::LayerQuality q = ex::layer_quality(st2, st3, w, b, c.ap, c.an, ridge);
    ASSERT_EQ(q.rho.size(), static_cast<std::size_t>(o));
    EXPECT_EQ(q.undefined, 0) << c.name;
    for (std::int64_t j = 0; j < o; ++j) {
      const double want = oracle_rho(s2, s3, w, c.ap, c.an, j, ridge);
      EXPECT_NEAR(q.rho[static_cast<std::size_t>(j)], want, 1e-6) << c.name << " neuron " << j;
    }
  }
  // All four at once (shared factorisation and solves) against the same oracle.
  const std::vector<ex::LayerQuality> all = ex::layer_quality(
      st2, st3, w, b, std::vector<ex::EstimatorPatterns>{{&lin, &lin}, {&two.positive, &two.negative}, {&filt, &filt}, {&rand, &rand}},
      ridge);
  ASSERT_EQ(all.size(), 4u);
  const std::pair<const Tensor*, const Tensor*> pats[4] = {{&lin, &lin}, {&two.positive, &two.negative}, {&filt, &filt}, {&rand, &rand}};
  for (std::size_t e = 0; e < 4; ++e)
    for (std::int64_t j = 0; j < o; ++j) {
      const double want = oracle_rho(s2, s3, w, *pats[e].first, *pats[e].second, j, ridge);
      EXPECT_NEAR(all[e].rho[static_cast<std::size_t>(j)], want, 1e-6) << "estimator " << e << " neuron " << j;
    }
}

TEST(Quality, OrdersEstimatorsOnLinearData) {
  // Signal along a_s, distractor along a_d, isotropic noise (spec §2.2): S_a removes the
  // correlation, S_w some, a random direction almost none.
  const std::int64_t d = 2, o = 1;
  Tensor w = Tensor::from(Shape{1, 2}, std::vector<float>{1.0f, -1.0f}), b = Tensor::zeros(Shape{1});
  const auto make = [&](std::uint64_t seed) {
    pn::Rng rng(seed);
    Split s{{}, {}, 20000};
    for (std::int64_t r = 0; r < s.rows; ++r) {
      const double y = rng.uniform(-1, 1), e = rng.normal();
      const float x0 = static_cast<float>(y + e + 0.05 * rng.normal()), x1 = static_cast<float>(e + 0.05 * rng.normal());
      s.x.push_back(x0), s.x.push_back(x1);
      s.z.push_back(x0 - x1);
    }
    return s;
  };
  const Split s1 = make(21), s2 = make(22), s3 = make(23);
  const auto st1 = stats_of(s1, d, o), st2 = stats_of(s2, d, o), st3 = stats_of(s3, d, o);
  ex::FitReport r;
  const Tensor lin = ex::linear_pattern(st1, w, r), filt = ex::filter_pattern(w, r);
  const Tensor rand = Tensor::from(Shape{1, 2}, std::vector<float>{0.2f, -0.8f});  // wᵀu = 1
  const double ra = ex::layer_quality(st2, st3, w, b, lin, lin).mean;
  const double rw = ex::layer_quality(st2, st3, w, b, filt, filt).mean;
  const double rr = ex::layer_quality(st2, st3, w, b, rand, rand).mean;
  EXPECT_GT(ra, 0.9);
  EXPECT_GT(ra, rw);
  EXPECT_GT(rw, rr);
  // S_w's value has a closed form in the noise-free limit: 1 - σ_y / sqrt(σ_y² + 4 σ_ε²).
  const double sy = std::sqrt(1.0 / 3.0);
  EXPECT_NEAR(rw, 1 - sy / std::sqrt(sy * sy + 4.0), 0.02);
}

}  // namespace
