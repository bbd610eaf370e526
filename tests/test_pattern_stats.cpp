// Chapter 5: the streaming pattern statistics against a float64 two-pass computation (with
// inputs far from the origin), merged shards against one pass, conv statistics against the dense
// formula on an explicit im2col matrix (zero-padded borders, stride 2), and the estimators' wᵀa = 1.
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/explain/estimator.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/patterns.h"
#include "pn/nn/model_io.h"
#include "test_files.h"
#include "pn/explain/pattern_stats.h"
#include "pn/kernels/conv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace {

using pn::Shape;
using pn::Tensor;
namespace ex = pn::explain;

// The mean of column k of a rows x stride matrix, refined by a second pass over the residuals:
// values near 10^3 summed 10^6 times lose about 1e-10 in a plain double sum, which Eq. 8 then
// multiplies by E[x] = 10^3 (E_k[y] - E[y] must be exact to 1e-12 for a 1e-9 comparison).
double refined_mean(const std::vector<double>& v, std::int64_t k, std::int64_t stride, std::int64_t rows) {
  double s = 0;
  for (std::int64_t i = 0; i < rows; ++i) s += v[static_cast<std::size_t>(i * stride + k)];
  const double m = s / static_cast<double>(rows);
  double c = 0;
  for (std::int64_t i = 0; i < rows; ++i) c += v[static_cast<std::size_t>(i * stride + k)] - m;
  return m + c / static_cast<double>(rows);
}
// Exact (float64, two-pass) moments of rows x (R x D) and pre-activations z (R x O).
struct TwoPass {
  std::int64_t d, o, r;
  std::vector<double> mean_x, cov_xx;           // D, D x D
  std::vector<std::vector<double>> cov_xy;       // O x D
  std::vector<std::vector<double>> num_pos, num_neg;  // O x D, Eq. 8 numerators
  std::vector<double> var_y;

  TwoPass(const std::vector<double>& x, const std::vector<double>& z, std::int64_t d_, std::int64_t o_, std::int64_t r_)
      : d(d_), o(o_), r(r_) {
    mean_x.assign(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t k = 0; k < d; ++k) mean_x[static_cast<std::size_t>(k)] = refined_mean(x, k, d, r);
    cov_xx.assign(static_cast<std::size_t>(d * d), 0.0);
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t a = 0; a < d; ++a)
        for (std::int64_t b = 0; b < d; ++b)
          cov_xx[static_cast<std::size_t>(a * d + b)] += (x[static_cast<std::size_t>(i * d + a)] - mean_x[static_cast<std::size_t>(a)]) *
                                                         (x[static_cast<std::size_t>(i * d + b)] - mean_x[static_cast<std::size_t>(b)]) / static_cast<double>(r);
    for (std::int64_t j = 0; j < o; ++j) {
      const double my = refined_mean(z, j, o, r);
      double vy = 0;
      std::vector<double> c(static_cast<std::size_t>(d), 0.0);
      // Regime sums about the exact means (second pass), then Eq. 8: E_k[xy] - E_k[x]E[y]
      // = E_k[(x - μx)(y - μy)] - E_k[x - μx] E[y - μy] + μx (E_k[y] - E[y]); here E[y - μy] = 0.
      std::vector<double> sp(static_cast<std::size_t>(d), 0.0), sn(static_cast<std::size_t>(d), 0.0);
      std::vector<double> mxp(static_cast<std::size_t>(d), 0.0), mxn(static_cast<std::size_t>(d), 0.0);
      double np = 0, nn = 0, syp = 0, syn = 0;
      for (std::int64_t i = 0; i < r; ++i) {
        const double zy = z[static_cast<std::size_t>(i * o + j)];
        const double yc = zy - my;
        vy += yc * yc / static_cast<double>(r);
        const bool pos = zy > 0;
        (pos ? np : nn) += 1;
        (pos ? syp : syn) += yc;
        for (std::int64_t k = 0; k < d; ++k) {
          const double xc = x[static_cast<std::size_t>(i * d + k)] - mean_x[static_cast<std::size_t>(k)];
          c[static_cast<std::size_t>(k)] += xc * yc / static_cast<double>(r);
          (pos ? sp : sn)[static_cast<std::size_t>(k)] += xc * yc;
          (pos ? mxp : mxn)[static_cast<std::size_t>(k)] += x[static_cast<std::size_t>(i * d + k)];
        }
      }
      std::vector<double> p(static_cast<std::size_t>(d), 0.0), n(static_cast<std::size_t>(d), 0.0);
      for (std::int64_t k = 0; k < d; ++k) {
        const auto uk = static_cast<std::size_t>(k);
        if (np > 0) p[uk] = sp[uk] / np + mean_x[uk] * (syp / np);
        if (nn > 0) n[uk] = sn[uk] / nn + mean_x[uk] * (syn / nn);
      }
      cov_xy.push_back(c);
      num_pos.push_back(p);
      num_neg.push_back(n);
      var_y.push_back(vy);
    }
  }
};

double max_rel(const std::vector<double>& got, const std::vector<double>& want) {
  double scale = 0, err = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(got[i] - want[i]));
  }
  return err / std::max(scale, 1e-300);
}

struct Data {
  std::vector<float> x, z;
  std::vector<double> xd, zd;
};

// Rows x = offset + signal + noise and z = wᵀ(x - offset) + b: the inputs (and one neuron's
// outputs) sit far from the origin, so a naive float computation of E[xy] - E[x]E[y] would lose
// every digit.
Data make_rows(std::int64_t rows, std::int64_t d, std::int64_t o, double offset, std::uint64_t seed) {
  pn::Rng rng(seed);
  Data data;
  data.x.reserve(static_cast<std::size_t>(rows * d));
  data.xd.reserve(static_cast<std::size_t>(rows * d));
  data.z.reserve(static_cast<std::size_t>(rows * o));
  data.zd.reserve(static_cast<std::size_t>(rows * o));
  std::vector<double> w(static_cast<std::size_t>(o * d));
  for (double& v : w) v = rng.normal();
  for (std::int64_t i = 0; i < rows; ++i) {
    std::vector<double> xr(static_cast<std::size_t>(d));
    const double s = rng.normal();
    for (std::int64_t k = 0; k < d; ++k) {
      const float xv = static_cast<float>(offset + (k % 3 == 0 ? s : 0.0) + rng.normal(0, 0.5));
      xr[static_cast<std::size_t>(k)] = xv;
      data.x.push_back(xv);
      data.xd.push_back(xv);
    }
    for (std::int64_t j = 0; j < o; ++j) {
      // Biases: mixed regimes (0, ±0.5) and one neuron far from zero that always fires (1000).
      const double bias[4] = {0.0, 0.5, 1000.0, -0.5};
      double zz = bias[j % 4];
      for (std::int64_t k = 0; k < d; ++k) zz += w[static_cast<std::size_t>(j * d + k)] * (xr[static_cast<std::size_t>(k)] - offset);
      const float zf = static_cast<float>(zz);
      data.z.push_back(zf);
      data.zd.push_back(zf);
    }
  }
  return data;
}

void expect_matches(const ex::PatternStats& s, const TwoPass& t, double tol) {
  EXPECT_LT(max_rel(s.mean_x(), t.mean_x), tol);
  EXPECT_LT(max_rel(s.cov_xx(), t.cov_xx), tol);
  for (std::int64_t j = 0; j < t.o; ++j) {
    EXPECT_LT(max_rel(s.cov_xy(j), t.cov_xy[static_cast<std::size_t>(j)]), tol) << "neuron " << j;
    EXPECT_LT(max_rel(s.regime_numerator(j, true), t.num_pos[static_cast<std::size_t>(j)]), tol) << "neuron " << j;
    EXPECT_LT(max_rel(s.regime_numerator(j, false), t.num_neg[static_cast<std::size_t>(j)]), tol) << "neuron " << j;
    EXPECT_NEAR(s.var_y(j), t.var_y[static_cast<std::size_t>(j)], tol * t.var_y[static_cast<std::size_t>(j)]);
  }
}

// Precision: dense rows are centred and summed in double (kernels::dgemm_acc), so the streamed
// moments match the two-pass float64 ones to double rounding. Measured on these data (max over
// cov_xx, cov_xy and the regime numerators, relative to the largest entry): 6e-12 at 10^6 rows,
// 4.6e-11 at 10^7 (the regime numerators, whose two-pass reference itself subtracts means).
// Before, with the inputs rounded to float and float runs of 64 products, 2.0e-9 at 10^6 rows.
constexpr double kStreamingTolerance = 1e-9;

// Streams `rows` rows far from the origin through PatternStats in batches of 4096 and compares
// every moment with the float64 two-pass computation.
void expect_streaming_matches_two_pass(std::int64_t rows, std::int64_t d, std::int64_t o, std::uint64_t seed, double tol) {
  const Data data = make_rows(rows, d, o, 1000.0, seed);
  const TwoPass exact(data.xd, data.zd, d, o, rows);
  ex::PatternStats s(d, o, true);
  for (std::int64_t r = 0; r < rows; r += 4096) {
    const std::int64_t n = std::min<std::int64_t>(4096, rows - r);
    s.accumulate_rows(data.x.data() + r * d, data.z.data() + r * o, n);
  }
  EXPECT_EQ(s.rows(), static_cast<double>(rows));
  expect_matches(s, exact, tol);
}

TEST(PatternStats, MillionRowsFarFromTheOriginMatchTwoPassDouble) {
  expect_streaming_matches_two_pass(1000000, 6, 3, 1, kStreamingTolerance);
}

// 10^7 rows, the scale of a real fit: streamed in batches of 4096, as a fit over the Fashion-MNIST
// training set's 60000 images x 169 positions of a 3x3 conv layer would.
TEST(PatternStats, TenMillionRowsMatchTwoPassDouble) {
  expect_streaming_matches_two_pass(10000000, 3, 2, 7, kStreamingTolerance);
}

TEST(PatternStats, MergedShardsEqualOnePass) {
  const std::int64_t rows = 60000, d = 5, o = 4;
  const Data data = make_rows(rows, d, o, 1000.0, 2);
  const TwoPass exact(data.xd, data.zd, d, o, rows);
  ex::PatternStats one(d, o, true), a(d, o, true), b(d, o, true), c(d, o, true);
  for (std::int64_t r = 0; r < rows; r += 1000) {
    one.accumulate_rows(data.x.data() + r * d, data.z.data() + r * o, 1000);
    ex::PatternStats& shard = r < 20000 ? a : (r < 45000 ? b : c);
    shard.accumulate_rows(data.x.data() + r * d, data.z.data() + r * o, 1000);
  }
  ex::PatternStats merged = c;  // merge order does not matter
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.rows(), one.rows());
  expect_matches(one, exact, kStreamingTolerance);
  expect_matches(merged, exact, kStreamingTolerance);
  // The raw sums survive a serialisation round trip.
  const ex::PatternStats again = ex::PatternStats::from_raw(merged.raw());
  EXPECT_EQ(again.cov_xy(1), merged.cov_xy(1));
}

// Statistics without regimes (what the linear estimator needs) equal the full statistics' linear
// part, on the dense and the conv path, and refuse every regime question with a clear error.
TEST(PatternStats, LinearOnlyStatisticsEqualTheFullOnes) {
  const Data data = make_rows(5000, 7, 5, 10.0, 4);
  ex::PatternStats full(7, 5, true), lin(7, 5, true, false);
  for (std::int64_t r = 0; r < 5000; r += 1200) {
    const std::int64_t n = std::min<std::int64_t>(1200, 5000 - r);
    full.accumulate_rows(data.x.data() + r * 7, data.z.data() + r * 5, n);
    lin.accumulate_rows(data.x.data() + r * 7, data.z.data() + r * 5, n);
  }
  EXPECT_FALSE(lin.has_regimes());
  EXPECT_LT(max_rel(lin.cov_xx(), full.cov_xx()), 1e-12);
  EXPECT_LT(max_rel(lin.mean_x(), full.mean_x()), 1e-12);
  for (std::int64_t j = 0; j < 5; ++j) {
    EXPECT_LT(max_rel(lin.cov_xy(j), full.cov_xy(j)), 1e-12) << "neuron " << j;
    EXPECT_DOUBLE_EQ(lin.var_y(j), full.var_y(j));
  }
  EXPECT_NE(pntest::message_of([&] { (void)lin.regime_numerator(0, true); }).find("regime"), std::string::npos);
  EXPECT_NE(pntest::message_of([&] { (void)lin.regime(1, false); }).find("regime"), std::string::npos);
  EXPECT_NE(pntest::message_of([&] { (void)lin.positive_rows(0); }).find("regime"), std::string::npos);
  EXPECT_NE(pntest::message_of([&] { full.merge(lin); }).find("cannot absorb"), std::string::npos);
  // Merging and the raw round trip keep the mode.
  ex::PatternStats twice = lin;
  twice.merge(lin);
  EXPECT_EQ(twice.rows(), 2 * lin.rows());
  EXPECT_LT(max_rel(twice.cov_xy(2), lin.cov_xy(2)), 1e-12);
  const ex::PatternStats again = ex::PatternStats::from_raw(lin.raw());
  EXPECT_FALSE(again.has_regimes());
  EXPECT_EQ(again.cov_xy(3), lin.cov_xy(3));

  const auto g = pn::kernels::make_conv_geom(2, 3, 9, 8, 4, 3, 3, 2, 1);
  pn::Rng rng(5);
  std::vector<float> x(static_cast<std::size_t>(g.batch * g.in_c * g.in_h * g.in_w)), z(static_cast<std::size_t>(g.batch * g.out_c * g.positions()));
  for (float& v : x) v = static_cast<float>(rng.uniform(0, 2));
  for (float& v : z) v = static_cast<float>(rng.normal(0.3, 1));
  ex::PatternStats cfull(g.patch(), 4, false), clin(g.patch(), 4, false, false);
  cfull.accumulate_conv(g, x.data(), z.data());
  clin.accumulate_conv(g, x.data(), z.data());
  for (std::int64_t j = 0; j < 4; ++j) EXPECT_LT(max_rel(clin.cov_xy(j), cfull.cov_xy(j)), 1e-12) << "conv neuron " << j;
}

// The conv path against the dense formula of the paper's reference code on an explicit im2col
// matrix: rows = (image, position), zero-padded border patches included.
TEST(PatternStats, ConvEqualsDenseFormulaOnExplicitIm2col) {
  for (auto [stride, pad] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {2, 1}, {2, 0}}) {
    const auto g = pn::kernels::make_conv_geom(3, 2, 7, 6, 4, 3, 3, stride, pad);
    pn::Rng rng(3);
    std::vector<float> x(static_cast<std::size_t>(g.batch * g.in_c * g.in_h * g.in_w));
    for (float& v : x) v = static_cast<float>(rng.uniform(-1, 1) + 0.5);
    std::vector<float> w(static_cast<std::size_t>(g.out_c * g.patch())), b(static_cast<std::size_t>(g.out_c));
    for (float& v : w) v = static_cast<float>(rng.normal());
    for (float& v : b) v = static_cast<float>(rng.normal(0, 0.5));
    const std::int64_t P = g.positions(), D = g.patch(), R = g.batch * P;
    // Explicit im2col, written out independently of pn::kernels::im2col.
    std::vector<double> rows(static_cast<std::size_t>(R * D), 0.0), zr(static_cast<std::size_t>(R * g.out_c), 0.0);
    std::vector<float> z(static_cast<std::size_t>(g.batch * g.out_c * P));
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t oy = 0; oy < g.out_h; ++oy)
        for (std::int64_t ox = 0; ox < g.out_w; ++ox) {
          const std::int64_t row = n * P + oy * g.out_w + ox;
          for (std::int64_t c = 0; c < g.in_c; ++c)
            for (std::int64_t ky = 0; ky < 3; ++ky)
              for (std::int64_t kx = 0; kx < 3; ++kx) {
                const std::int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
                rows[static_cast<std::size_t>(row * D + (c * 3 + ky) * 3 + kx)] =
                    inside ? x[static_cast<std::size_t>(((n * g.in_c + c) * g.in_h + iy) * g.in_w + ix)] : 0.0;
              }
          for (std::int64_t j = 0; j < g.out_c; ++j) {
            double s = b[static_cast<std::size_t>(j)];
            for (std::int64_t k = 0; k < D; ++k) s += static_cast<double>(w[static_cast<std::size_t>(j * D + k)]) * rows[static_cast<std::size_t>(row * D + k)];
            zr[static_cast<std::size_t>(row * g.out_c + j)] = static_cast<float>(s);
            z[static_cast<std::size_t>((n * g.out_c + j) * P + oy * g.out_w + ox)] = static_cast<float>(s);
          }
        }
    for (std::size_t i = 0; i < zr.size(); ++i) zr[i] = static_cast<double>(static_cast<float>(zr[i]));
    const TwoPass exact(rows, zr, D, g.out_c, R);
    ex::PatternStats s(D, g.out_c, true);
    s.accumulate_conv(g, x.data(), z.data());
    SCOPED_TRACE(::testing::Message() << "stride " << stride << " pad " << pad);
    expect_matches(s, exact, 1e-6);
    // The exact path (double products and sums) agrees to double rounding.
    ex::PatternStats se(D, g.out_c, true);
    se.set_exact(true);
    se.accumulate_conv(g, x.data(), z.data());
    expect_matches(se, exact, 1e-12);

    // Patterns in the kernel's layout, and wᵀa = 1 for every neuron with rows in the regime.
    Tensor wt = Tensor::from(Shape{g.out_c, g.in_c, 3, 3}, w);
    ex::FitReport lin_report, two_report;
    const Tensor a = ex::linear_pattern(s, wt, lin_report);
    const auto two = ex::two_component_pattern(s, wt, two_report);
    EXPECT_EQ(a.shape(), wt.shape());
    EXPECT_EQ(two.positive.shape(), wt.shape());
    EXPECT_LT(lin_report.max_constraint_error, 1e-5);
    EXPECT_LT(two_report.max_constraint_error, 1e-5);
    for (std::int64_t j = 0; j < g.out_c; ++j) {
      double den = 0;
      for (std::int64_t k = 0; k < D; ++k) den += w[static_cast<std::size_t>(j * D + k)] * exact.num_pos[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)];
      for (std::int64_t k = 0; k < D; ++k) {
        EXPECT_NEAR(two.positive[j * D + k], exact.num_pos[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] / den, 1e-4);
      }
    }
  }
}

// Conv inputs far from the origin: images of 2 channels near 10^3 (noise 0.5), a 3x3 conv with
// out_c outputs (output 2 near 10^3 too), and the explicit patch rows (zero padding included)
// with their outputs for the two-pass oracle.
struct FarConv {
  pn::kernels::ConvGeom g;
  std::vector<float> x, z;          // (N, 2, H, W) inputs, (N, O, P) outputs
  std::vector<double> rows, zr;     // (R, D) patches, (R, O) outputs
};
FarConv far_conv(std::int64_t batch, std::int64_t side, std::int64_t out_c, std::int64_t pad) {
  FarConv f{pn::kernels::make_conv_geom(batch, 2, side, side, out_c, 3, 3, 1, pad), {}, {}, {}, {}};
  const auto& g = f.g;
  pn::Rng rng(11);
  f.x.resize(static_cast<std::size_t>(g.batch * g.in_c * g.in_h * g.in_w));
  for (float& v : f.x) v = static_cast<float>(1000.0 + rng.normal(0, 0.5));
  const std::int64_t P = g.positions(), D = g.patch(), R = g.batch * P;
  f.rows.resize(static_cast<std::size_t>(R * D));
  f.zr.resize(static_cast<std::size_t>(R * g.out_c));
  f.z.resize(static_cast<std::size_t>(g.batch * g.out_c * P));
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oy = 0; oy < g.out_h; ++oy)
      for (std::int64_t ox = 0; ox < g.out_w; ++ox) {
        const std::int64_t row = n * P + oy * g.out_w + ox;
        double sum = 0;
        for (std::int64_t c = 0; c < g.in_c; ++c)
          for (std::int64_t ky = 0; ky < 3; ++ky)
            for (std::int64_t kx = 0; kx < 3; ++kx) {
              const std::int64_t iy = oy + ky - pad, ix = ox + kx - pad;
              const bool in = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
              const double v = in ? f.x[static_cast<std::size_t>(((n * g.in_c + c) * g.in_h + iy) * g.in_w + ix)] : 0.0;
              f.rows[static_cast<std::size_t>(row * D + (c * 3 + ky) * 3 + kx)] = v;
              sum += (v - 1000.0) * static_cast<double>((c + ky + kx) % 3) - 0.2;
            }
        for (std::int64_t j = 0; j < g.out_c; ++j) {
          const auto zf = static_cast<float>(sum * static_cast<double>(j + 1) + (j == 2 ? 1000.0 : static_cast<double>(j) * 0.3));
          f.zr[static_cast<std::size_t>(row * g.out_c + j)] = zf;
          f.z[static_cast<std::size_t>((n * g.out_c + j) * P + oy * g.out_w + ox)] = zf;
        }
      }
  return f;
}

// No padding, so every patch value sits near 10^3: the conv path centres the im2col block with
// the same reference point it records, so the mean patch agrees with the im2col oracle as closely
// as on the dense path (a float-rounded shift subtracted from the rows while the double one is
// recorded would move mean_x by up to half a float ulp of 10^3, 3e-8 relative).
TEST(PatternStats, ConvFarFromTheOriginKeepsItsReferencePoint) {
  const FarConv f = far_conv(4, 9, 3, 0);
  const TwoPass exact(f.rows, f.zr, f.g.patch(), f.g.out_c, f.g.batch * f.g.positions());
  ex::PatternStats s(f.g.patch(), f.g.out_c, true);
  s.accumulate_conv(f.g, f.x.data(), f.z.data());
  EXPECT_LT(max_rel(s.mean_x(), exact.mean_x), 1e-10);
  expect_matches(s, exact, 1e-6);
}

// 10^6 conv rows far from the origin: 100 images of 2 x 100 x 100, 4 outputs. With padding 1 the
// border patches hold zeros, 10^3 away from everything else: the hardest case for centring.
// Streams the images in batches of 10 and compares with the two-pass float64 moments.
void expect_conv_million_rows(std::int64_t pad, bool exact_stats, double tol) {
  const FarConv f = far_conv(100, 100, 4, pad);
  const TwoPass exact(f.rows, f.zr, f.g.patch(), f.g.out_c, f.g.batch * f.g.positions());
  ex::PatternStats s(f.g.patch(), f.g.out_c, true);
  s.set_exact(exact_stats);
  auto part = f.g;
  part.batch = 10;
  const std::int64_t in_size = f.g.in_c * f.g.in_h * f.g.in_w, out_size = f.g.out_c * f.g.positions();
  for (std::int64_t n = 0; n < f.g.batch; n += part.batch) s.accumulate_conv(part, f.x.data() + n * in_size, f.z.data() + n * out_size);
  EXPECT_EQ(s.rows(), static_cast<double>(f.g.batch * f.g.positions()));
  expect_matches(s, exact, tol);
}

// The exact conv path (set_exact) meets the 1e-9 bar on the hardest data: measured 1.7e-11 (the
// regime numerators, whose two-pass reference itself subtracts means; cov_xx 3.8e-13).
TEST(PatternStats, ExactConvMillionRowsWithPaddingMatchTwoPassDouble) { expect_conv_million_rows(1, true, kStreamingTolerance); }

// The fast conv path (float runs of kF64Run added in double) on the same kind of data without
// the zero border: measured 2.5e-9 (cov_xy), 2.3e-9 (cov_xx), 2.1e-9 (regime numerators). With the
// border, cov_xx is off by 3.2e-7 (the zeros' centred value, -10^3, is rounded to float alike in
// every border patch); pattern_stats.h says so.
TEST(PatternStats, FastConvMillionRowsMatchTwoPassDouble) { expect_conv_million_rows(0, false, 4e-9); }

TEST(Estimators, DeadNeuronsGetZeroPatternsAndAreCounted) {
  // Neuron 1 never fires (z < 0 always): its a_+ is zero, never NaN.
  const std::int64_t d = 3, o = 2;
  std::vector<float> x, z;
  pn::Rng rng(4);
  for (int i = 0; i < 200; ++i) {
    const float a = static_cast<float>(rng.normal()), bb = static_cast<float>(rng.normal()), c = static_cast<float>(rng.normal());
    x.insert(x.end(), {a, bb, c});
    z.push_back(a + bb);
    z.push_back(-10.0f - std::fabs(c));
  }
  ex::PatternStats s(d, o, false);
  s.accumulate_rows(x.data(), z.data(), 200);
  const Tensor w = Tensor::from(Shape{2, 3}, std::vector<float>{1, 1, 0, 0, 0, 1});
  ex::FitReport r;
  const auto two = ex::two_component_pattern(s, w, r);
  EXPECT_EQ(r.dead, 1);
  EXPECT_EQ(r.dead_negative, 0);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(two.positive[3 + k], 0.0f);
    EXPECT_TRUE(std::isfinite(two.negative[3 + k]));
  }
  // Filter and random patterns satisfy wᵀa = 1 by construction.
  ex::FitReport fr, rr;
  const Tensor af = ex::filter_pattern(w, fr);
  pn::Rng rng2(5);
  const Tensor ar = ex::random_pattern(w, rng2, rr);
  EXPECT_LT(fr.max_constraint_error, 1e-6);
  EXPECT_LT(rr.max_constraint_error, 1e-5);
  EXPECT_FLOAT_EQ(af[0], 0.5f);  // w / wᵀw for w = (1, 1, 0)
  EXPECT_THROW((void)ex::estimator_from_name("quadratic"), pn::Error);
}

}  // namespace

namespace {

// A small network with every kind of layer that gets a pattern.
pn::nn::Sequential tiny_model() {
  auto m = pn::nn::Sequential::from_architecture_json(
      R"({"input": [1, 6, 6], "layers": [
        {"name": "conv1", "type": "conv2d", "in_channels": 1, "out_channels": 3, "kernel": 3, "stride": 1, "padding": 1},
        {"name": "relu1", "type": "relu"}, {"name": "pool1", "type": "maxpool2d", "kernel": 2, "stride": 2},
        {"name": "flat", "type": "flatten"}, {"name": "fc1", "type": "linear", "in_features": 27, "out_features": 4},
        {"name": "relu2", "type": "relu"}, {"name": "fc2", "type": "linear", "in_features": 4, "out_features": 2}]})");
  pn::Rng rng(8);
  m.init(rng);
  for (auto& p : m.parameters()) {
    if (p.shape().rank() == 1) rng.fill_uniform(p.mutable_value().values(), -0.2f, 0.2f);  // non-zero biases
  }
  return m;
}

TEST(Patterns, FitMatchesTheDenseFormulaAndRoundTrips) {
  auto model = tiny_model();
  pn::Rng rng(9);
  Tensor x1(Shape{40, 1, 6, 6}), x2(Shape{25, 1, 6, 6});
  rng.fill_uniform(x1.values(), 0.0f, 1.0f);
  rng.fill_uniform(x2.values(), 0.0f, 1.0f);
  ex::StatsCollector collector(model, false);
  collector.add_batch(x1);
  collector.add_batch(x2);
  EXPECT_EQ(collector.rows_seen(), 65.0);
  const ex::Patterns two = ex::fit_patterns(model, &collector, ex::Estimator::two_component);
  const ex::Patterns lin = ex::fit_patterns(model, &collector, ex::Estimator::linear);
  ASSERT_EQ(two.layers.size(), 3u);
  EXPECT_EQ(two.layers[0].rows, 65.0 * 36);  // every (image, position) of conv1 is a row
  EXPECT_EQ(two.layers[1].rows, 65.0);

  // fc1 by the reference code's dense formula (spec §10.3): mask = XWᵀ + b > 0, E[y] over all rows.
  std::vector<double> X, Z;
  for (const Tensor* xb : {&x1, &x2}) {
    pn::nn::Trace trace;
    model.forward(*xb, &trace);
    const std::size_t fc1 = *model.find("fc1");
    for (float v : trace.layers[fc1].input.values()) X.push_back(v);
    for (float v : trace.layers[fc1 + 1].input.values()) Z.push_back(v);
  }
  const TwoPass exact(X, Z, 27, 4, 65);
  const Tensor& w = model.layer(*model.find("fc1")).weight.value();
  for (std::int64_t j = 0; j < 4; ++j) {
    double den_p = 0, den_l = 0;
    for (std::int64_t k = 0; k < 27; ++k) {
      den_p += w[j * 27 + k] * exact.num_pos[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)];
      den_l += w[j * 27 + k] * exact.cov_xy[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)];
    }
    for (std::int64_t k = 0; k < 27; ++k) {
      if (den_p != 0) {
        EXPECT_NEAR(two.layers[1].a[j * 27 + k], exact.num_pos[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] / den_p, 1e-4);
      }
      EXPECT_NEAR(lin.layers[1].a[j * 27 + k], exact.cov_xy[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] / den_l, 1e-4);
    }
  }
  for (const auto& l : two.layers) EXPECT_LT(l.report.max_constraint_error, 1e-4) << l.layer;

  pntest::TempDir dir;
  ex::save_patterns(dir.file("p.safetensors"), two);
  const ex::Patterns back = ex::load_patterns(dir.file("p.safetensors"));
  EXPECT_EQ(back.estimator, ex::Estimator::two_component);
  EXPECT_EQ(back.model_fingerprint, model.fingerprint());
  ASSERT_EQ(back.layers.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.layers[i].a.shape(), two.layers[i].a.shape());
    for (std::int64_t k = 0; k < two.layers[i].a.numel(); ++k) {
      EXPECT_EQ(back.layers[i].a[k], two.layers[i].a[k]);
      EXPECT_EQ(back.layers[i].a_negative[k], two.layers[i].a_negative[k]);
    }
  }
  EXPECT_NO_THROW(ex::check_patterns_match(back, model, "p.safetensors"));
  // What an explanation keeps: a_+ untouched, a_- freed, still a match for the model.
  ex::Patterns kept = ex::load_patterns(dir.file("p.safetensors"));
  ex::release_negative_patterns(kept);
  for (std::size_t i = 0; i < kept.layers.size(); ++i) {
    EXPECT_EQ(kept.layers[i].a_negative.numel(), 0) << kept.layers[i].layer;
    ASSERT_EQ(kept.layers[i].a.shape(), back.layers[i].a.shape());
    for (std::int64_t k = 0; k < back.layers[i].a.numel(); ++k) EXPECT_EQ(kept.layers[i].a[k], back.layers[i].a[k]);
  }
  EXPECT_NO_THROW(ex::check_patterns_match(kept, model, "p.safetensors"));
  // Other weights, other model: refused by the fingerprint.
  model.layer(0).weight.mutable_value()[0] += 0.5f;
  EXPECT_THAT(pntest::message_of([&] { ex::check_patterns_match(back, model, "p.safetensors"); }),
              ::testing::HasSubstr("patterns for another model"));
  // Not a patterns file at all.
  pn::nn::save_model(dir.file("m.safetensors"), model);
  EXPECT_THAT(pntest::message_of([&] { (void)ex::load_patterns(dir.file("m.safetensors")); }),
              ::testing::HasSubstr("is not a patterns file"));
  // NaN inputs are refused, not averaged in.
  Tensor bad = x1.clone();
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(collector.add_batch(bad), pn::Error);
  EXPECT_THROW((void)ex::fit_patterns(model, nullptr, ex::Estimator::linear), pn::Error);
}

}  // namespace
