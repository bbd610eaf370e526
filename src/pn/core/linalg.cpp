#include "pn/core/linalg.h"

#include "pn/core/error.h"

#include <algorithm>
#include <cmath>

namespace pn::linalg {

void cholesky(std::vector<double>& a, std::int64_t n) {
  // Right-looking, column by column; the trailing update is the bulk of the work and runs as a
  // row-parallel loop (each row of the trailing block is independent).
  const auto at = [&](std::int64_t i, std::int64_t j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
  for (std::int64_t k = 0; k < n; ++k) {
    const double d = at(k, k);
    if (!(d > 0.0) || !std::isfinite(d)) throw Error("cholesky: the matrix is not positive definite (pivot {} is {})", k, d);
    const double l = std::sqrt(d);
    at(k, k) = l;
    for (std::int64_t i = k + 1; i < n; ++i) at(i, k) /= l;
#pragma omp parallel for schedule(static) if (n - k > 256)
    for (std::int64_t i = k + 1; i < n; ++i) {
      const double lik = at(i, k);
      double* row = &at(i, 0);
      const double* colk = a.data() + k;
      for (std::int64_t j = k + 1; j <= i; ++j) row[j] -= lik * colk[j * n];
    }
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) at(i, j) = 0.0;
}

void cholesky_solve(const std::vector<double>& l, std::int64_t n, std::vector<double>& b, std::int64_t k) {
  // Forward: L Y = B, then backward: Lᵀ X = Y; each right-hand side column is independent and is
  // solved in a contiguous copy (B's columns are strided by k).
#pragma omp parallel for schedule(static) if (k > 8)
  for (std::int64_t c = 0; c < k; ++c) {
    std::vector<double> x(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i * k + c)];
    for (std::int64_t i = 0; i < n; ++i) {
      const double* li = l.data() + i * n;
      double s = x[static_cast<std::size_t>(i)];
      for (std::int64_t j = 0; j < i; ++j) s -= li[j] * x[static_cast<std::size_t>(j)];
      x[static_cast<std::size_t>(i)] = s / li[i];
    }
    // Lᵀ X = Y column-oriented: once x[i] is known, remove its contribution from rows above.
    for (std::int64_t i = n - 1; i >= 0; --i) {
      const double* li = l.data() + i * n;
      const double xi = x[static_cast<std::size_t>(i)] / li[i];
      x[static_cast<std::size_t>(i)] = xi;
      for (std::int64_t j = 0; j < i; ++j) x[static_cast<std::size_t>(j)] -= li[j] * xi;
    }
    for (std::int64_t i = 0; i < n; ++i) b[static_cast<std::size_t>(i * k + c)] = x[static_cast<std::size_t>(i)];
  }
}

bool solve_small(std::vector<double> a, std::vector<double>& b, std::int64_t n) {
  const auto at = [&](std::int64_t i, std::int64_t j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::fabs(v));
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t p = k;
    for (std::int64_t i = k + 1; i < n; ++i)
      if (std::fabs(at(i, k)) > std::fabs(at(p, k))) p = i;
    if (std::fabs(at(p, k)) <= 1e-14 * std::max(scale, 1e-300)) return false;
    if (p != k) {
      for (std::int64_t j = 0; j < n; ++j) std::swap(at(k, j), at(p, j));
      std::swap(b[static_cast<std::size_t>(k)], b[static_cast<std::size_t>(p)]);
    }
    for (std::int64_t i = k + 1; i < n; ++i) {
      const double f = at(i, k) / at(k, k);
      for (std::int64_t j = k; j < n; ++j) at(i, j) -= f * at(k, j);
      b[static_cast<std::size_t>(i)] -= f * b[static_cast<std::size_t>(k)];
    }
  }
  for (std::int64_t i = n - 1; i >= 0; --i) {
    double s = b[static_cast<std::size_t>(i)];
    for (std::int64_t j = i + 1; j < n; ++j) s -= at(i, j) * b[static_cast<std::size_t>(j)];
    b[static_cast<std::size_t>(i)] = s / at(i, i);
  }
  return true;
}

}  // namespace pn::linalg
