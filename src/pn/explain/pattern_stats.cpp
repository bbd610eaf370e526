#include "pn/explain/pattern_stats.h"

#include "pn/core/aligned_buffer.h"
#include "pn/core/error.h"
#include "pn/core/shape.h"
#include "pn/kernels/kernels.h"

#include <algorithm>
#include <cmath>

namespace pn::explain {
namespace {

// Rows per block: bounds the float scratch (centred inputs and the stacked [y, m·y, m] matrix).
constexpr std::int64_t kBlockFloats = std::int64_t{16} << 20;  // 64 MiB

float* scratch(AlignedBuffer& b, std::int64_t floats) {
  if (b.size() < floats) b = AlignedBuffer(floats);
  return b.data();
}

// The reference points subtracted from the inputs and outputs before their values enter the
// sums. Only values far from the origin relative to their spread need one: otherwise the raw
// values lose nothing to cancellation, and no shift means no rounding at all.
//
// The dense path and the exact conv path subtract in double and never round. The fast conv path
// rounds the centred values to float for its GEMM, and there the choice matters:
//
// Outputs y are shifted only when they sit more than 64 spreads from the origin, and then by a
// value on the float grid of the largest values (a multiple of the ulp of 2|mean|): y - shift is
// then exact for every y within 32 spreads of the mean. A shift closer to the data's own scale
// would round the y near zero, whose grid is finer than the shift's, and those roundings do not
// average out: they moved var(y) by 2e-8 relative on a 10^6-row test before this rule.
//
// Inputs x are shifted by the double mean itself. Here rounding is the lesser evil: exact centred
// values keep the coarse grid of the data (e.g. multiples of 2^-14 near 1000), and the float sums
// of their squares then round with a bias (squares are not uniform in their low bits: 5e-8 on
// 10^6 rows), while the rounded values carry pseudo-random low bits whose errors average out.
enum class ShiftKind { input, output };

double reference_point(double mean, double spread, ShiftKind kind) {
  if (kind == ShiftKind::input) return std::fabs(mean) > spread ? mean : 0.0;
  if (!(std::fabs(mean) > 64.0 * spread)) return 0.0;
  const double q = std::ldexp(1.0, std::ilogb(2.0 * std::fabs(mean)) - 23);
  return static_cast<double>(static_cast<float>(std::nearbyint(mean / q) * q));
}

// v[i] -= shift for i < n (in double, rounded back to float); returns the sum of the new values.
// Eight interleaved partial sums in a fixed order: the compiler vectorises them (a single chain
// of dependent double additions would cost three cycles per value) and the result does not depend
// on the thread count.
double centre_and_sum(float* v, std::int64_t n, double shift) {
  constexpr int kLanes = 8;
  double part[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const auto c = static_cast<float>(static_cast<double>(v[i + l]) - shift);
      v[i + l] = c;
      part[l] += static_cast<double>(c);
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    const auto c = static_cast<float>(static_cast<double>(v[i]) - shift);
    v[i] = c;
    part[l] += static_cast<double>(c);
  }
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// Σ a[i]·b[i] (Σ a[i] when b is null) over i < n, each product exact in double; eight interleaved
// partial sums as in centre_and_sum.
double dot_in_double(const float* a, const float* b, std::int64_t n) {
  constexpr int kLanes = 8;
  double part[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += static_cast<double>(a[i + l]) * (b ? static_cast<double>(b[i + l]) : 1.0);
  }
  for (int l = 0; i < n; ++i, ++l) part[l] += static_cast<double>(a[i]) * (b ? static_cast<double>(b[i]) : 1.0);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// reference_point of n values v[0], v[stride], ... (mean and spread in two passes in double).
double shift_of(const float* v, std::int64_t n, std::int64_t stride, ShiftKind kind) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += v[i * stride];
  const double mean = s / static_cast<double>(n);
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = v[i * stride] - mean;
    ss += d * d;
  }
  return reference_point(mean, std::sqrt(ss / static_cast<double>(n)), kind);
}

}  // namespace

PatternStats::PatternStats(std::int64_t d, std::int64_t o, bool second_moments, bool regimes)
    : d_(d), o_(o), second_(second_moments), regimes_(regimes) {
  if (d <= 0 || o <= 0) throw Error("PatternStats: needs positive sizes, got D = {}, O = {}", d, o);
  const auto od = static_cast<std::size_t>(pn::checked_mul(o, d, "pattern statistics"));
  shift_x_.assign(static_cast<std::size_t>(d), 0.0);
  shift_y_.assign(static_cast<std::size_t>(o), 0.0);
  for (auto* v : {&sy_, &syy_, &npos_, &sypos_, &syypos_}) v->assign(static_cast<std::size_t>(o), 0.0);
  sx_.assign(static_cast<std::size_t>(d), 0.0);
  cross_.assign(regimes_ ? 3 * od : od, 0.0);
  if (second_) sxx_.assign(static_cast<std::size_t>(pn::checked_mul(d, d, "input second moments")), 0.0);
}

void PatternStats::require_regimes(const char* what) const {
  if (!regimes_) throw Error("PatternStats: {} needs the regime sums, which these statistics (linear only) do not keep", what);
}

void PatternStats::add_block(const float* col, const float* u, std::int64_t rows, const double* xsum) {
  const std::int64_t o3 = u_rows();
  // cross (3O x D) += U (3O x R) · colᵀ: the weight-gradient orientation, summed in double over
  // short runs of rows (GemmArgs::c64).
  kernels::GemmArgs cross{false, true, o3, d_, rows, u, rows, col, rows, nullptr, d_, true};
  cross.c64 = cross_.data();
  kernels::gemm(cross);
  // Neurons write disjoint sums, so the threads split them.
#pragma omp parallel for schedule(static) if (o_ * rows > 65536)
  for (std::int64_t o = 0; o < o_; ++o) {
    const float* y = u + o * rows;
    sy_[idx(o)] += dot_in_double(y, nullptr, rows);
    syy_[idx(o)] += dot_in_double(y, y, rows);
    if (!regimes_) continue;
    const float* my = u + (o_ + o) * rows;
    const float* m = u + (2 * o_ + o) * rows;
    npos_[idx(o)] += dot_in_double(m, nullptr, rows);
    sypos_[idx(o)] += dot_in_double(my, nullptr, rows);
    syypos_[idx(o)] += dot_in_double(my, y, rows);
  }
  for (std::int64_t dd = 0; dd < d_; ++dd) sx_[static_cast<std::size_t>(dd)] += xsum[dd];
  if (second_) {
    kernels::GemmArgs xx{false, true, d_, d_, rows, col, rows, col, rows, nullptr, d_, true};
    xx.c64 = sxx_.data();
    kernels::gemm(xx);
  }
  n_ += static_cast<double>(rows);
}

void PatternStats::set_reference_rows(const float* x, const float* z, std::int64_t rows) {
  if (rows <= 0) throw Error("PatternStats: a reference point needs at least one row");
  // The first batch's means (on an exact grid) become the fixed reference point.
  for (std::int64_t dd = 0; dd < d_; ++dd) shift_x_[static_cast<std::size_t>(dd)] = shift_of(x + dd, rows, d_, ShiftKind::input);
  for (std::int64_t o = 0; o < o_; ++o) shift_y_[idx(o)] = shift_of(z + o, rows, o_, ShiftKind::output);
  shifted_ = true;
}

std::int64_t PatternStats::conv_group(const kernels::ConvGeom& g) const {
  // Images per block: columns of several images share one im2col matrix, within the budget.
  return std::clamp<std::int64_t>(kBlockFloats / std::max<std::int64_t>(1, (d_ + u_rows()) * g.positions()), 1, g.batch);
}

void PatternStats::reference_from_block(const float* col, std::int64_t cols, const float* z, std::int64_t gn, std::int64_t P) {
  // Reference point: the mean patch (zero padding included) and mean output of this block.
  for (std::int64_t dd = 0; dd < d_; ++dd) shift_x_[static_cast<std::size_t>(dd)] = shift_of(col + dd * cols, cols, 1, ShiftKind::input);
  std::vector<float> zo(static_cast<std::size_t>(cols));
  for (std::int64_t o = 0; o < o_; ++o) {
    // The outputs of channel o are P-runs, one per image: gather them for shift_of.
    for (std::int64_t i = 0; i < gn; ++i) std::copy_n(z + (i * o_ + o) * P, P, zo.begin() + i * P);
    shift_y_[idx(o)] = shift_of(zo.data(), cols, 1, ShiftKind::output);
  }
  shifted_ = true;
}

void PatternStats::set_reference_conv(const kernels::ConvGeom& g, const float* x, const float* z) {
  if (g.patch() != d_ || g.out_c != o_) {
    throw Error("PatternStats: conv layer with patch {} and {} outputs fed to statistics of D = {}, O = {}", g.patch(),
                g.out_c, d_, o_);
  }
  const std::int64_t P = g.positions();
  if (g.batch == 0 || P == 0) throw Error("PatternStats: a reference point needs at least one image");
  // Exactly the block accumulate_conv would take its reference point from: the first group.
  const std::int64_t gn = conv_group(g), cols = gn * P;
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  AlignedBuffer col(d_ * cols);
  for (std::int64_t i = 0; i < gn; ++i) kernels::im2col(g, x + i * in_size, 0, g.out_h, col.data() + i * P, cols);
  reference_from_block(col.data(), cols, z, gn, P);
}

std::vector<std::span<double>> PatternStats::additive_sums() {
  std::vector<std::span<double>> v = {std::span<double>(&n_, 1), sy_, syy_, sx_, cross_};
  if (regimes_) v.insert(v.end(), {std::span<double>(npos_), std::span<double>(sypos_), std::span<double>(syypos_)});
  if (second_) v.emplace_back(sxx_);
  return v;
}

// A dense layer: everything in double. The centred inputs x - c are formed in double and stay
// there (rounding them to float would limit the sums to about 1e-9 relative at 10^6 rows, see
// chapter 10), every product of two float-born values is exact in double and dgemm_acc sums in
// double. A dense layer adds one row per image, so this costs little next to the conv layers,
// whose hundreds of rows per image go through the float kernel (accumulate_conv).
void PatternStats::accumulate_rows(const float* x, const float* z, std::int64_t rows) {
  if (rows <= 0) return;
  if (!shifted_) set_reference_rows(x, z, rows);
  add_rows_exact(x, d_, 1, z, rows);
}

void PatternStats::add_rows_exact(const float* x, std::int64_t row_stride, std::int64_t col_stride, const float* z,
                                  std::int64_t rows) {
  thread_local std::vector<double> xd_buf, ud_buf;
  const std::int64_t o3 = u_rows();
  const std::int64_t block = std::clamp<std::int64_t>(kBlockFloats / 2 / std::max<std::int64_t>(1, d_ + o3), 1, rows);
  for (std::int64_t r0 = 0; r0 < rows; r0 += block) {
    const std::int64_t nr = std::min(block, rows - r0);
    xd_buf.resize(static_cast<std::size_t>(nr * d_));
    ud_buf.resize(static_cast<std::size_t>(o3 * nr));
    double* xd = xd_buf.data();
    double* ud = ud_buf.data();
    const bool big = nr * (d_ + o_) > 65536;
#pragma omp parallel for schedule(static) if (big)
    for (std::int64_t r = 0; r < nr; ++r)
      for (std::int64_t dd = 0; dd < d_; ++dd)
        xd[r * d_ + dd] = static_cast<double>(x[(r0 + r) * row_stride + dd * col_stride]) - shift_x_[static_cast<std::size_t>(dd)];
    // Neurons and inputs write disjoint sums, so the threads split them.
#pragma omp parallel for schedule(static) if (big)
    for (std::int64_t o = 0; o < o_; ++o) {
      double sy = 0, syy = 0, np = 0, syp = 0, syyp = 0;
      for (std::int64_t r = 0; r < nr; ++r) {
        const float zv = z[(r0 + r) * o_ + o];
        const double yc = static_cast<double>(zv) - shift_y_[idx(o)];
        ud[o * nr + r] = yc;
        sy += yc, syy += yc * yc;
        if (!regimes_) continue;
        const bool pos = zv > 0.0f;  // the regime of the bias-inclusive pre-activation
        ud[(o_ + o) * nr + r] = pos ? yc : 0.0;
        ud[(2 * o_ + o) * nr + r] = pos ? 1.0 : 0.0;
        if (pos) np += 1, syp += yc, syyp += yc * yc;
      }
      sy_[idx(o)] += sy, syy_[idx(o)] += syy;
      if (regimes_) npos_[idx(o)] += np, sypos_[idx(o)] += syp, syypos_[idx(o)] += syyp;
    }
#pragma omp parallel for schedule(static) if (big)
    for (std::int64_t dd = 0; dd < d_; ++dd) {
      double s = 0;
      for (std::int64_t r = 0; r < nr; ++r) s += xd[r * d_ + dd];
      sx_[static_cast<std::size_t>(dd)] += s;
    }
    // cross (3O x D) += U (3O x R) · Xc (R x D); Σ x·xᵀ (D x D) += Xcᵀ Xc.
    kernels::dgemm_acc(kernels::DgemmArgs{false, o3, d_, nr, ud, nr, xd, d_, cross_.data(), d_});
    if (second_) kernels::dgemm_acc(kernels::DgemmArgs{true, d_, d_, nr, xd, d_, xd, d_, sxx_.data(), d_});
    n_ += static_cast<double>(nr);
  }
}

void PatternStats::accumulate_conv(const kernels::ConvGeom& g, const float* x, const float* z) {
  if (g.patch() != d_ || g.out_c != o_) {
    throw Error("PatternStats: conv layer with patch {} and {} outputs fed to statistics of D = {}, O = {}", g.patch(),
                g.out_c, d_, o_);
  }
  const std::int64_t P = g.positions();
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  if (g.batch == 0 || P == 0) return;
  thread_local AlignedBuffer col_buf, u_buf;
  const std::int64_t group = conv_group(g);
  for (std::int64_t n0 = 0; n0 < g.batch; n0 += group) {
    const std::int64_t gn = std::min(group, g.batch - n0);
    const std::int64_t cols = gn * P;
    float* col = scratch(col_buf, d_ * cols);
    float* u = scratch(u_buf, u_rows() * cols);
    bool gathered = false;
    if (!shifted_) {
      // The reference point comes from this first block itself, so it is gathered in full first.
      for (std::int64_t i = 0; i < gn; ++i) kernels::im2col(g, x + (n0 + i) * in_size, 0, g.out_h, col + i * P, cols);
      reference_from_block(col, cols, z + n0 * o_ * P, gn, P);
      gathered = true;
    }
    if (exact_) {
      add_conv_exact(g, x + n0 * in_size, z + n0 * o_ * P, gn, col, gathered);
      continue;
    }
    // Gather and centre the patches, padded zeros included, one row d of col at a time: every row
    // moves by the same shift, and its sum (Σx) is taken while the row is still in L1, so col
    // (tens of MB) is written once instead of written, read and written again. Rows are
    // independent, so the threads split them. The subtraction is in double with the recorded
    // (double) shift, exactly as on the dense path: a float-rounded shift would leave the centred
    // values off by a constant that mean_x() never hears of.
    std::vector<double> xsum(static_cast<std::size_t>(d_));
#pragma omp parallel for schedule(static)
    for (std::int64_t dd = 0; dd < d_; ++dd) {
      float* row = col + dd * cols;
      if (!gathered) {
        for (std::int64_t i = 0; i < gn; ++i) kernels::im2col_row(g, x + (n0 + i) * in_size, dd, 0, g.out_h, row + i * P);
      }
      xsum[static_cast<std::size_t>(dd)] = centre_and_sum(row, cols, shift_x_[static_cast<std::size_t>(dd)]);
    }
#pragma omp parallel for schedule(static)
    for (std::int64_t o = 0; o < o_; ++o) {
      const double shift = shift_y_[idx(o)];
      for (std::int64_t i = 0; i < gn; ++i) {
        const float* zp = z + ((n0 + i) * o_ + o) * P;
        for (std::int64_t p = 0; p < P; ++p) {
          const std::int64_t c = i * P + p;
          const float yc = static_cast<float>(static_cast<double>(zp[p]) - shift);
          const float m = zp[p] > 0.0f ? 1.0f : 0.0f;
          u[o * cols + c] = yc;
          if (!regimes_) continue;
          u[(o_ + o) * cols + c] = m * yc;
          u[(2 * o_ + o) * cols + c] = m;
        }
      }
    }
    add_block(col, u, cols, xsum.data());
  }
}

// The exact conv path: the block's patches are the rows of the dense path, read from the im2col
// block (D x cols) where they lie; only the outputs are regrouped row by row (O per row against
// the O(D·O) of the products).
void PatternStats::add_conv_exact(const kernels::ConvGeom& g, const float* x, const float* z, std::int64_t gn, float* col,
                                  bool gathered) {
  const std::int64_t P = g.positions(), cols = gn * P;
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  if (!gathered) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < gn; ++i) kernels::im2col(g, x + i * in_size, 0, g.out_h, col + i * P, cols);
  }
  thread_local AlignedBuffer out_buf;
  float* out = scratch(out_buf, cols * o_);
  for (std::int64_t i = 0; i < gn; ++i)
    for (std::int64_t o = 0; o < o_; ++o)
      for (std::int64_t p = 0; p < P; ++p) out[(i * P + p) * o_ + o] = z[(i * o_ + o) * P + p];
  add_rows_exact(col, 1, cols, out, cols);
}

void PatternStats::shift_to(const std::vector<double>& new_x, const std::vector<double>& new_y) {
  // With x' = x - c, y' = y - e and new reference points c2, e2 (δx = c - c2, δy = e - e2):
  //   Σ(x - c2) = Σx' + N δx,                 Σ(y - e2) = Σy' + N δy,
  //   Σ(y - e2)² = Σy'² + 2 δy Σy' + N δy²,   and the same with the mask for the + regime;
  //   Σ(y - e2)(x - c2) = Σy'x' + δy Σx' + δx Σy' + N δx δy, likewise masked;
  //   Σ m (x - c2) = Σ m x' + n+ δx;   Σ(x - c2)(x - c2)ᵀ = Σx'x'ᵀ + δx Σx'ᵀ + Σx' δxᵀ + N δx δxᵀ.
  std::vector<double> dx(static_cast<std::size_t>(d_)), dy(static_cast<std::size_t>(o_));
  for (std::int64_t i = 0; i < d_; ++i) dx[static_cast<std::size_t>(i)] = shift_x_[static_cast<std::size_t>(i)] - new_x[static_cast<std::size_t>(i)];
  for (std::int64_t o = 0; o < o_; ++o) dy[idx(o)] = shift_y_[idx(o)] - new_y[idx(o)];
  const double n = n_;
  if (second_) {
    for (std::int64_t i = 0; i < d_; ++i)
      for (std::int64_t j = 0; j < d_; ++j) {
        const auto ui = static_cast<std::size_t>(i), uj = static_cast<std::size_t>(j);
        sxx_[ui * static_cast<std::size_t>(d_) + uj] += dx[ui] * sx_[uj] + sx_[ui] * dx[uj] + n * dx[ui] * dx[uj];
      }
  }
  for (std::int64_t o = 0; o < o_; ++o) {
    const auto uo = idx(o);
    for (std::int64_t i = 0; i < d_; ++i) {
      const auto ui = static_cast<std::size_t>(i);
      const std::size_t k = uo * static_cast<std::size_t>(d_) + ui;
      cross_[xy(k)] += dy[uo] * sx_[ui] + dx[ui] * sy_[uo] + n * dx[ui] * dy[uo];
      if (!regimes_) continue;
      cross_[xypos(k)] += dy[uo] * cross_[xpos(k)] + dx[ui] * sypos_[uo] + npos_[uo] * dx[ui] * dy[uo];
      cross_[xpos(k)] += npos_[uo] * dx[ui];
    }
    syy_[uo] += 2 * dy[uo] * sy_[uo] + n * dy[uo] * dy[uo];
    syypos_[uo] += 2 * dy[uo] * sypos_[uo] + npos_[uo] * dy[uo] * dy[uo];
    sy_[uo] += n * dy[uo];
    sypos_[uo] += npos_[uo] * dy[uo];
  }
  for (std::int64_t i = 0; i < d_; ++i) sx_[static_cast<std::size_t>(i)] += n * dx[static_cast<std::size_t>(i)];
  shift_x_ = new_x;
  shift_y_ = new_y;
}

void PatternStats::merge(const PatternStats& other) {
  if (other.d_ != d_ || other.o_ != o_ || other.second_ != second_ || other.regimes_ != regimes_) {
    throw Error("PatternStats::merge: statistics of D = {}, O = {} cannot absorb D = {}, O = {}", d_, o_, other.d_, other.o_);
  }
  if (other.n_ == 0) return;
  if (n_ == 0) {
    const bool exact = exact_;  // how this object accumulates is its own setting
    *this = other;
    exact_ = exact;
    return;
  }
  PatternStats b = other;
  b.shift_to(shift_x_, shift_y_);
  const auto add = [](std::vector<double>& a, const std::vector<double>& c) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += c[i];
  };
  add(sy_, b.sy_), add(syy_, b.syy_), add(npos_, b.npos_), add(sypos_, b.sypos_), add(syypos_, b.syypos_);
  add(sx_, b.sx_), add(cross_, b.cross_);
  if (second_) add(sxx_, b.sxx_);
  n_ += b.n_;
}

double PatternStats::mean_y(std::int64_t o) const { return shift_y_[idx(o)] + sy_[idx(o)] / n_; }

double PatternStats::var_y(std::int64_t o) const {
  const double m = sy_[idx(o)] / n_;
  return std::max(0.0, syy_[idx(o)] / n_ - m * m);
}

std::vector<double> PatternStats::mean_x() const {
  std::vector<double> m(static_cast<std::size_t>(d_));
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = shift_x_[i] + sx_[i] / n_;
  return m;
}

std::vector<double> PatternStats::cov_xy(std::int64_t o) const {
  std::vector<double> c(static_cast<std::size_t>(d_));
  const double my = sy_[idx(o)] / n_;
  const std::size_t base = idx(o) * static_cast<std::size_t>(d_);
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = cross_[xy(base + i)] / n_ - (sx_[i] / n_) * my;
  return c;
}

std::vector<double> PatternStats::regime_numerator(std::int64_t o, bool positive) const {
  require_regimes("the two-component numerator");
  // In centred coordinates num' = E_k[x'y'] - E_k[x'] E[y']; back in the original coordinates
  // num = num' + c (E_k[y'] - E[y']) (the reference point c enters because the regime mean of y
  // differs from the global one; see pattern_stats.h).
  const auto uo = idx(o);
  const double nk = positive ? npos_[uo] : n_ - npos_[uo];
  std::vector<double> num(static_cast<std::size_t>(d_), 0.0);
  if (nk <= 0) return num;
  const double sy_k = positive ? sypos_[uo] : sy_[uo] - sypos_[uo];
  const double ey = sy_[uo] / n_;
  const double eyk = sy_k / nk;
  const std::size_t base = uo * static_cast<std::size_t>(d_);
  for (std::size_t i = 0; i < num.size(); ++i) {
    const double sxk = positive ? cross_[xpos(base + i)] : sx_[i] - cross_[xpos(base + i)];
    const double sxyk = positive ? cross_[xypos(base + i)] : cross_[xy(base + i)] - cross_[xypos(base + i)];
    num[i] = sxyk / nk - (sxk / nk) * ey + shift_x_[i] * (eyk - ey);
  }
  return num;
}

std::vector<double> PatternStats::cov_xx() const {
  if (!second_) throw Error("PatternStats: second moments were not collected");
  std::vector<double> c(sxx_.size());
  const auto d = static_cast<std::size_t>(d_);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) c[i * d + j] = sxx_[i * d + j] / n_ - (sx_[i] / n_) * (sx_[j] / n_);
  return c;
}

PatternStats::Regime PatternStats::regime(std::int64_t o, bool positive) const {
  require_regimes("a regime's moments");
  const auto uo = idx(o);
  Regime r;
  r.n = positive ? npos_[uo] : n_ - npos_[uo];
  r.mean_x.assign(static_cast<std::size_t>(d_), 0.0);
  r.mean_xy.assign(static_cast<std::size_t>(d_), 0.0);
  if (r.n <= 0) return r;
  const double e = shift_y_[uo];
  const double syk = positive ? sypos_[uo] : sy_[uo] - sypos_[uo];
  const double syyk = positive ? syypos_[uo] : syy_[uo] - syypos_[uo];
  r.mean_y = e + syk / r.n;
  r.mean_yy = syyk / r.n + 2 * e * syk / r.n + e * e;
  const std::size_t base = uo * static_cast<std::size_t>(d_);
  for (std::size_t i = 0; i < r.mean_x.size(); ++i) {
    const double sxk = positive ? cross_[xpos(base + i)] : sx_[i] - cross_[xpos(base + i)];
    const double sxyk = positive ? cross_[xypos(base + i)] : cross_[xy(base + i)] - cross_[xypos(base + i)];
    const double c = shift_x_[i];
    r.mean_x[i] = c + sxk / r.n;
    r.mean_xy[i] = sxyk / r.n + e * sxk / r.n + c * syk / r.n + c * e;
  }
  return r;
}

PatternStats::Raw PatternStats::raw() const {
  const auto od = static_cast<std::ptrdiff_t>(o_ * d_);
  const auto slice = [&](std::ptrdiff_t first) { return std::vector<double>(cross_.begin() + first, cross_.begin() + first + od); };
  if (!regimes_) return Raw{d_, o_, second_, n_, shift_x_, shift_y_, sy_, syy_, {}, {}, {}, sx_, slice(0), {}, {}, sxx_, false};
  return Raw{d_, o_, second_, n_, shift_x_, shift_y_, sy_, syy_, npos_, sypos_, syypos_, sx_, slice(0), slice(2 * od), slice(od), sxx_, true};
}

PatternStats PatternStats::from_raw(Raw r) {
  PatternStats s(r.d, r.o, r.second, r.regimes);
  const auto od = static_cast<std::size_t>(r.o * r.d);
  const auto check = [&](const std::vector<double>& v, std::size_t want, const char* what) {
    if (v.size() != want) throw Error("PatternStats: '{}' has {} values, expected {}", what, v.size(), want);
  };
  const auto D = static_cast<std::size_t>(r.d), O = static_cast<std::size_t>(r.o);
  check(r.shift_x, D, "shift_x"), check(r.shift_y, O, "shift_y"), check(r.sy, O, "sy"), check(r.syy, O, "syy");
  const std::size_t Or = r.regimes ? O : 0, odr = r.regimes ? od : 0;
  check(r.npos, Or, "npos"), check(r.sypos, Or, "sypos"), check(r.syypos, Or, "syypos"), check(r.sx, D, "sx");
  check(r.sxy, od, "sxy"), check(r.sxpos, odr, "sxpos"), check(r.sxypos, odr, "sxypos");
  check(r.sxx, r.second ? D * D : 0, "sxx");
  s.n_ = r.n;
  s.shifted_ = r.n > 0;
  s.shift_x_ = std::move(r.shift_x), s.shift_y_ = std::move(r.shift_y), s.sy_ = std::move(r.sy), s.syy_ = std::move(r.syy);
  s.sx_ = std::move(r.sx);
  std::copy(r.sxy.begin(), r.sxy.end(), s.cross_.begin());
  if (r.regimes) {
    s.npos_ = std::move(r.npos), s.sypos_ = std::move(r.sypos), s.syypos_ = std::move(r.syypos);
    std::copy(r.sxypos.begin(), r.sxypos.end(), s.cross_.begin() + static_cast<std::ptrdiff_t>(od));
    std::copy(r.sxpos.begin(), r.sxpos.end(), s.cross_.begin() + static_cast<std::ptrdiff_t>(2 * od));
  }
  if (r.second) s.sxx_ = std::move(r.sxx);
  return s;
}

}  // namespace pn::explain
