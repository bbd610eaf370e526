// PatternStats: the streaming, mergeable sums from which every signal estimator and the quality
// criterion are computed, for one dense or conv layer. Chapter 5 (paper §4.5).
//
// A row is one input vector x of the layer (a dense layer's input; for a conv layer one receptive-
// field patch of one image at one output position, zero-padded borders included) with the layer's
// bias-inclusive pre-activations z (one per neuron). y = z (the bias cancels in every covariance)
// and the regime mask m = 1[z > 0] is the ReLU's gate. Per neuron o the sums are
//   N, Σy, Σy², n+ = Σm, Σm·y, Σm·y²             (vectors over neurons)
//   Σx                                          (a vector over the D inputs)
//   Σy·x, Σm·x, Σm·y·x                          (O x D matrices, in the kernel's layout)
//   Σx·xᵀ                                       (D x D, only when second moments are requested)
// and the negative regime follows by subtraction (Σ(1-m)·x = Σx - Σm·x, ...).
//
// Numerics: the products are GEMMs ([y, m·y, m]ᵀ · X: for a conv layer exactly a weight-gradient
// product, so no im2col matrix of the whole batch is ever built) with float32 inputs whose sums
// go into double: the kernel sums runs of at most 64 products in float and adds each run in
// double (GemmArgs::c64). x and y are first shifted by fixed reference points (the means of the
// first batch), so the float rounding is relative to the spread of the data, not its offset; E[xy]
// - E[x]E[y] is then formed in double. merge() re-expresses one side's sums about the other's
// reference point, so merging is exact up to double rounding.
#pragma once

#include "pn/kernels/conv.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pn::explain {

class PatternStats {
public:
  PatternStats() = default;
  // d inputs per row, o neurons; with second_moments also Σx·xᵀ (D² doubles: needed by rho(S)).
  // Without regimes only N, Σy, Σy², Σx and Σy·x are kept: all the linear estimator needs, at a
  // third of the cost (one GEMM row per neuron instead of three); the regime accessors then throw.
  PatternStats(std::int64_t d, std::int64_t o, bool second_moments, bool regimes = true);

  // rows x (R, D) and pre-activations z (R, O), row-major float. Centred and summed in double
  // (kernels::dgemm_acc): the error is that of double arithmetic, about 1e-13 relative.
  void accumulate_rows(const float* x, const float* z, std::int64_t rows);
  // A conv layer: images x (N, C, H, W), pre-activations z (N, O, out_h, out_w); every
  // (image, position) is a row. By default the products run through the float kernel in runs of
  // kernels::kF64Run added in double (GemmArgs::c64): float speed, about 1e-9 relative at 10^6
  // rows of well-centred data, worse where the centred values are far apart (zero padding around
  // inputs far from the origin: 3e-7 measured). With set_exact(true) the conv rows take the dense
  // path's double arithmetic instead, at a few times the cost.
  void accumulate_conv(const kernels::ConvGeom& g, const float* x, const float* z);
  void set_exact(bool exact) { exact_ = exact; }
  bool exact() const { return exact_; }

  // Adds another set of sums over other rows (same D, O, second-moment setting).
  void merge(const PatternStats& other);

  // --- Reference points (for sums collected in parts: shards, MPI ranks) ----------------------
  // Without these calls the first accumulated batch fixes the reference point. A part of a data
  // set that does not start at its first batch calls one of them with that first batch instead,
  // so that every part centres its values alike: the float products of each batch are then the
  // very ones a single pass computes, and the parts' sums add up to the single pass's sums up to
  // the order of the double additions. x and z as in accumulate_rows / accumulate_conv.
  void set_reference_rows(const float* x, const float* z, std::int64_t rows);
  void set_reference_conv(const kernels::ConvGeom& g, const float* x, const float* z);
  bool has_reference() const { return shifted_; }
  const std::vector<double>& reference_x() const { return shift_x_; }
  const std::vector<double>& reference_y() const { return shift_y_; }
  // Every array that adds up over rows (the row count included; not the reference points), in a
  // fixed order: parts about the same reference point are merged by adding these element-wise
  // (what an MPI sum-reduction does).
  std::vector<std::span<double>> additive_sums();

  std::int64_t inputs() const { return d_; }
  std::int64_t neurons() const { return o_; }
  double rows() const { return n_; }
  bool has_second_moments() const { return second_; }
  bool has_regimes() const { return regimes_; }

  // --- Moments in the original coordinates, computed from the sums (all in double) -------------
  double mean_y(std::int64_t o) const;
  double var_y(std::int64_t o) const;
  double positive_rows(std::int64_t o) const {
    require_regimes("the positive row count");
    return npos_[idx(o)];
  }
  // E[x] (D)
  std::vector<double> mean_x() const;
  // cov[x, y_o] = E[x y] - E[x] E[y] (D)
  std::vector<double> cov_xy(std::int64_t o) const;
  // The numerator of the two-component pattern of paper Eq. 8 for one regime, with E[y] over ALL
  // rows: E_k[x y] - E_k[x] E[y], k = positive (m = 1) or negative (m = 0). Zero if the regime is
  // empty.
  std::vector<double> regime_numerator(std::int64_t o, bool positive) const;
  // Raw access for the quality criterion (original coordinates): E[x xᵀ] - E[x]E[x]ᵀ (D x D).
  std::vector<double> cov_xx() const;
  // Conditional moments of the positive / negative regime: n_k, E_k[y], E_k[y²], E_k[x], E_k[x y].
  struct Regime {
    double n = 0, mean_y = 0, mean_yy = 0;
    std::vector<double> mean_x, mean_xy;
  };
  Regime regime(std::int64_t o, bool positive) const;

  // --- Serialisation (raw sums, for checkpoints and sharded fits) ----------------------------
  struct Raw {
    std::int64_t d = 0, o = 0;
    bool second = false;
    double n = 0;
    std::vector<double> shift_x, shift_y, sy, syy, npos, sypos, syypos, sx, sxy, sxpos, sxypos, sxx;
    bool regimes = true;  // false: npos, sypos, syypos, sxpos and sxypos are empty
  };
  Raw raw() const;
  static PatternStats from_raw(Raw raw);

private:
  std::size_t idx(std::int64_t o) const { return static_cast<std::size_t>(o); }
  std::int64_t conv_group(const kernels::ConvGeom& g) const;
  // col: the (D x cols) im2col block of gn images, z: their (gn, O, P) pre-activations.
  void reference_from_block(const float* col, std::int64_t cols, const float* z, std::int64_t gn, std::int64_t P);
  // Adds one block of centred conv rows: col (D x rows, the im2col block), u = [y | m·y | m]
  // stacked as (3·O x rows) (just y, O x rows, without regimes) and xsum, the rows' Σx.
  void add_block(const float* col, const float* u, std::int64_t rows, const double* xsum);
  // Adds rows x and outputs z (R x O, row-major), centred and summed in double. Input d of row r
  // is x[r * row_stride + d * col_stride]: (d, 1) for rows of a dense layer, (1, cols) for the
  // columns of an im2col block.
  void add_rows_exact(const float* x, std::int64_t row_stride, std::int64_t col_stride, const float* z, std::int64_t rows);
  // The exact path for gn images of a conv layer (col: scratch for their im2col block, already
  // filled when gathered).
  void add_conv_exact(const kernels::ConvGeom& g, const float* x, const float* z, std::int64_t gn, float* col,
                      bool gathered);
  void shift_to(const std::vector<double>& new_x, const std::vector<double>& new_y);
  void require_regimes(const char* what) const;
  std::int64_t u_rows() const { return regimes_ ? 3 * o_ : o_; }

  std::int64_t d_ = 0, o_ = 0;
  bool second_ = false;
  bool regimes_ = true;
  bool shifted_ = false;
  bool exact_ = false;
  double n_ = 0;
  std::vector<double> shift_x_, shift_y_;
  std::vector<double> sy_, syy_, npos_, sypos_, syypos_;  // O
  std::vector<double> sx_;                                // D
  // (3·O) x D: rows [0, O) Σy·x, [O, 2O) Σm·y·x, [2O, 3O) Σm·x — one matrix, so that one GEMM
  // [y, m·y, m]ᵀ · X adds into all three (only the first O rows without regimes).
  std::vector<double> cross_;
  std::size_t xy(std::size_t k) const { return k; }                       // k = o·D + i
  std::size_t xypos(std::size_t k) const { return static_cast<std::size_t>(o_ * d_) + k; }
  std::size_t xpos(std::size_t k) const { return static_cast<std::size_t>(2 * o_ * d_) + k; }
  std::vector<double> sxx_;                               // D x D (second moments)
};

}  // namespace pn::explain
