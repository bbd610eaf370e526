// The dense double linear algebra behind rho(S): the blocked Cholesky factorisation and the
// multi-right-hand-side solve, against their defining identities on sizes that straddle the
// 96-row blocks, and the refusal of an indefinite matrix.
#include "pn/core/linalg.h"
#include "pn/core/rng.h"
#include "test_files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

// A = G Gᵀ / m + 0.1 I with G n x m Gaussian: symmetric positive definite, condition ~ 10-100.
std::vector<double> random_spd(std::int64_t n, std::uint64_t seed) {
  pn::Rng rng(seed);
  const std::int64_t m = n + 3;
  std::vector<double> g(static_cast<std::size_t>(n * m));
  for (double& v : g) v = rng.normal();
  std::vector<double> a(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < m; ++p) s += g[static_cast<std::size_t>(i * m + p)] * g[static_cast<std::size_t>(j * m + p)];
      a[static_cast<std::size_t>(i * n + j)] = s / static_cast<double>(m) + (i == j ? 0.1 : 0.0);
    }
  return a;
}

TEST(Linalg, CholeskyReproducesTheMatrixAcrossBlockBoundaries) {
  for (std::int64_t n : {1, 2, 7, 95, 96, 97, 200, 301}) {
    SCOPED_TRACE(n);
    const std::vector<double> a = random_spd(n, static_cast<std::uint64_t>(n));
    std::vector<double> l = a;
    pn::linalg::cholesky(l, n);
    double err = 0, scale = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        if (j > i) {
          ASSERT_EQ(l[static_cast<std::size_t>(i * n + j)], 0.0) << "upper triangle at " << i << "," << j;
        }
        double s = 0;
        for (std::int64_t p = 0; p <= std::min(i, j); ++p) s += l[static_cast<std::size_t>(i * n + p)] * l[static_cast<std::size_t>(j * n + p)];
        err = std::max(err, std::fabs(s - a[static_cast<std::size_t>(i * n + j)]));
        scale = std::max(scale, std::fabs(a[static_cast<std::size_t>(i * n + j)]));
      }
      ASSERT_GT(l[static_cast<std::size_t>(i * n + i)], 0.0);
    }
    EXPECT_LT(err / scale, 1e-13);
  }
}

TEST(Linalg, SolveWithManyRightHandSides) {
  for (auto [n, k] : {std::pair<std::int64_t, std::int64_t>{5, 1}, {97, 3}, {250, 37}}) {
    SCOPED_TRACE(n);
    const std::vector<double> a = random_spd(n, static_cast<std::uint64_t>(n + 1));
    std::vector<double> l = a;
    pn::linalg::cholesky(l, n);
    pn::Rng rng(9);
    std::vector<double> b(static_cast<std::size_t>(n * k));
    for (double& v : b) v = rng.normal();
    std::vector<double> x = b;
    pn::linalg::cholesky_solve(l, n, x, k);
    // Residual A x - b, relative to |A| |x|.
    double worst = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < k; ++c) {
        double s = 0, mag = 0;
        for (std::int64_t j = 0; j < n; ++j) {
          s += a[static_cast<std::size_t>(i * n + j)] * x[static_cast<std::size_t>(j * k + c)];
          mag += std::fabs(a[static_cast<std::size_t>(i * n + j)] * x[static_cast<std::size_t>(j * k + c)]);
        }
        worst = std::max(worst, std::fabs(s - b[static_cast<std::size_t>(i * k + c)]) / mag);
      }
    EXPECT_LT(worst, 1e-12);
  }
}

TEST(Linalg, IndefiniteMatrixIsRefusedNamingThePivot) {
  std::vector<double> a = random_spd(130, 4);
  a[static_cast<std::size_t>(110 * 130 + 110)] = -5.0;  // beyond the first block
  const std::string msg = pntest::message_of([&] { pn::linalg::cholesky(a, 130); });
  EXPECT_NE(msg.find("not positive definite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pivot 110"), std::string::npos) << msg;
  std::vector<double> wrong(10, 1.0);
  EXPECT_NE(pntest::message_of([&] { pn::linalg::cholesky(wrong, 3); }).find("3 x 3"), std::string::npos);
}

}  // namespace
