#include "pn/core/linalg.h"

#include "pn/core/error.h"

#include <algorithm>
#include <cmath>

namespace pn::linalg {
namespace {

// Block size of the factorisation and the solves: a 96 x 96 diagonal block (72 KB) and a
// 96-row strip of the right-hand sides stay in L2 while the matrix-matrix updates stream past.
constexpr std::int64_t kBlock = 96;

// Column tile of the update kernel: a 512-wide row segment of C (4 KB) stays in L1 while the
// kBlock rows of B it combines with (384 KB) sit in L2.
constexpr std::int64_t kColumnTile = 512;

// C (rows x cols, ldc) -= op(A) (rows x depth) · B (depth x cols, ldb), row-major, with
// op(A)(i, p) = a[i*lda + p], or a[p*lda + i] when a_transposed. When lower_only, row i only
// updates columns j <= i + col0 (the lower triangle of a symmetric update whose C starts at
// column col0 of its diagonal). Rows are independent, so the threads split them; the inner loop is
// an axpy over a contiguous row of B, which the compiler vectorises.
void update(double* c, std::int64_t ldc, const double* a, std::int64_t lda, bool a_transposed, const double* b,
            std::int64_t ldb, std::int64_t rows, std::int64_t cols, std::int64_t depth, bool lower_only = false,
            std::int64_t col0 = 0) {
  if (rows <= 0 || cols <= 0 || depth <= 0) return;
  const double work = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth);
  for (std::int64_t j0 = 0; j0 < cols; j0 += kColumnTile) {
    const std::int64_t j1 = std::min(cols, j0 + kColumnTile);
#pragma omp parallel for schedule(dynamic, 8) if (work > 1e6)
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::int64_t jend = lower_only ? std::min(j1, i + col0 + 1) : j1;
      if (jend <= j0) continue;
      double* ci = c + i * ldc;
      const auto a_at = [&](std::int64_t p) { return a_transposed ? a[p * lda + i] : a[i * lda + p]; };
      // Four rows of B per pass over the C segment: one load and store of C per eight flops.
      std::int64_t p = 0;
      for (; p + 4 <= depth; p += 4) {
        const double a0 = a_at(p), a1 = a_at(p + 1), a2 = a_at(p + 2), a3 = a_at(p + 3);
        const double *b0 = b + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        for (std::int64_t j = j0; j < jend; ++j) ci[j] -= (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]);
      }
      for (; p < depth; ++p) {
        const double ap = a_at(p);
        const double* bp = b + p * ldb;
        for (std::int64_t j = j0; j < jend; ++j) ci[j] -= ap * bp[j];
      }
    }
  }
}

// Unblocked Cholesky of the nb x nb diagonal block starting at (k, k).
void factor_diagonal(double* a, std::int64_t n, std::int64_t k, std::int64_t nb) {
  for (std::int64_t c = k; c < k + nb; ++c) {
    double d = a[c * n + c];
    for (std::int64_t p = k; p < c; ++p) d -= a[c * n + p] * a[c * n + p];
    if (!(d > 0.0) || !std::isfinite(d)) throw Error("cholesky: the matrix is not positive definite (pivot {} is {})", c, d);
    const double l = std::sqrt(d);
    a[c * n + c] = l;
    for (std::int64_t r = c + 1; r < k + nb; ++r) {
      double s = a[r * n + c];
      for (std::int64_t p = k; p < c; ++p) s -= a[r * n + p] * a[c * n + p];
      a[r * n + c] = s / l;
    }
  }
}

}  // namespace

void cholesky(std::vector<double>& a, std::int64_t n) {
  if (static_cast<std::int64_t>(a.size()) != n * n) throw Error("cholesky: {} values for a {} x {} matrix", a.size(), n, n);
  // Right-looking blocked factorisation: factor the diagonal block, solve the panel below it
  // (L21 = A21 L11⁻ᵀ, row by row), then subtract L21 L21ᵀ from the lower triangle of the
  // trailing matrix. The last step is n³/3 of the n³/3 + O(n² kBlock) flops and is a
  // matrix-matrix product.
  double* m = a.data();
  std::vector<double> panel_t;  // L21ᵀ (nb x rest), so the update reads B row by row
  for (std::int64_t k = 0; k < n; k += kBlock) {
    const std::int64_t nb = std::min(kBlock, n - k);
    factor_diagonal(m, n, k, nb);
    const std::int64_t r0 = k + nb, rest = n - r0;
    if (rest == 0) break;
#pragma omp parallel for schedule(static) if (rest * nb * nb > 1000000)
    for (std::int64_t r = r0; r < n; ++r) {
      double* row = m + r * n;
      for (std::int64_t c = k; c < k + nb; ++c) {
        double s = row[c];
        for (std::int64_t p = k; p < c; ++p) s -= row[p] * m[c * n + p];
        row[c] = s / m[c * n + c];
      }
    }
    panel_t.assign(static_cast<std::size_t>(nb * rest), 0.0);
    for (std::int64_t r = 0; r < rest; ++r)
      for (std::int64_t c = 0; c < nb; ++c) panel_t[static_cast<std::size_t>(c * rest + r)] = m[(r0 + r) * n + k + c];
    update(m + r0 * n + r0, n, m + r0 * n + k, n, false, panel_t.data(), rest, rest, rest, nb, true, 0);
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) m[i * n + j] = 0.0;
}

void cholesky_solve(const std::vector<double>& l, std::int64_t n, std::vector<double>& b, std::int64_t k) {
  if (static_cast<std::int64_t>(b.size()) != n * k) throw Error("cholesky_solve: {} values for a {} x {} right-hand side", b.size(), n, k);
  // All k right-hand sides at once, by blocks of kBlock rows: each block first receives the
  // contributions of the blocks already solved (one matrix-matrix product), then is solved
  // against its diagonal block row by row, the rows of B being contiguous vectors of length k.
  const double* L = l.data();
  double* x = b.data();
  // Forward: L Y = B.
  for (std::int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const std::int64_t nb = std::min(kBlock, n - i0);
    update(x + i0 * k, k, L + i0 * n, n, false, x, k, nb, k, i0);
    for (std::int64_t r = i0; r < i0 + nb; ++r) {
      double* xr = x + r * k;
      for (std::int64_t p = i0; p < r; ++p) {
        const double lrp = L[r * n + p];
        const double* xp = x + p * k;
        for (std::int64_t c = 0; c < k; ++c) xr[c] -= lrp * xp[c];
      }
      const double inv = 1.0 / L[r * n + r];
      for (std::int64_t c = 0; c < k; ++c) xr[c] *= inv;
    }
  }
  // Backward: Lᵀ X = Y, from the last block up; Lᵀ's block (i, j > i) is L's block (j, i)
  // transposed.
  const std::int64_t last = (n - 1) / kBlock * kBlock;
  for (std::int64_t i0 = last; i0 >= 0; i0 -= kBlock) {
    const std::int64_t nb = std::min(kBlock, n - i0), below = i0 + nb;
    update(x + i0 * k, k, L + below * n + i0, n, true, x + below * k, k, nb, k, n - below);
    for (std::int64_t r = i0 + nb - 1; r >= i0; --r) {
      double* xr = x + r * k;
      for (std::int64_t p = r + 1; p < i0 + nb; ++p) {
        const double lpr = L[p * n + r];
        const double* xp = x + p * k;
        for (std::int64_t c = 0; c < k; ++c) xr[c] -= lpr * xp[c];
      }
      const double inv = 1.0 / L[r * n + r];
      for (std::int64_t c = 0; c < k; ++c) xr[c] *= inv;
    }
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
