// Float64 reference implementations for the kernel tests.
//
// Written as the most direct loops over the definitions, in double precision, and sharing no code
// with src/: no pn header is included here, so a misunderstanding baked into the library (an
// index formula, a padding rule, a tie-breaking rule) cannot leak into the reference it is tested
// against. Everything is plain pointers and sizes; layouts are spelled out per function.
#pragma once

#include <cstdint>

namespace oracle {

// C (m x n, leading dimension ldc) = op(A) op(B) (+ C when accumulate), all row-major.
// op(A) is m x k: A itself (m x k, leading dimension lda) or, with trans_a, the transpose of A
// stored k x m. op(B) is k x n: B itself (k x n, ldb) or, with trans_b, the transpose of B stored
// n x k. Only the m x n region of C is written.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const double* a,
          std::int64_t lda, const double* b, std::int64_t ldb, double* c, std::int64_t ldc, bool accumulate);

// out[c] = sum over o < outer, i < inner of x[(o*channels + c)*inner + i].
void channel_sums(const double* x, double* out, std::int64_t outer, std::int64_t channels, std::int64_t inner);

// Convolution (cross-correlation) geometry: x (batch, in_c, in_h, in_w), w (out_c, in_c, kernel_h,
// kernel_w), y (batch, out_c, out_h, out_w); zero padding of `pad` on all four sides, the same
// stride on both axes.
struct ConvGeom {
  std::int64_t batch = 1, in_c = 1, in_h = 1, in_w = 1;
  std::int64_t out_c = 1, kernel_h = 1, kernel_w = 1;
  std::int64_t stride = 1, pad = 0;

  std::int64_t out_h() const { return (in_h + 2 * pad - kernel_h) / stride + 1; }
  std::int64_t out_w() const { return (in_w + 2 * pad - kernel_w) / stride + 1; }
  std::int64_t x_size() const { return batch * in_c * in_h * in_w; }
  std::int64_t w_size() const { return out_c * in_c * kernel_h * kernel_w; }
  std::int64_t y_size() const { return batch * out_c * out_h() * out_w(); }
};

// y = conv(x, w) + bias (bias may be null).
void conv2d_forward(const ConvGeom& g, const double* x, const double* w, const double* bias, double* y);
// One output element y[n][o][oy][ox].
double conv2d_forward_at(const ConvGeom& g, const double* x, const double* w, const double* bias, std::int64_t n,
                         std::int64_t o, std::int64_t oy, std::int64_t ox);

// dx = d<y, dy>/dx, overwritten (scatter formulation).
void conv2d_backward_data(const ConvGeom& g, const double* dy, const double* w, double* dx);
// One element dx[n][c][iy][ix] (gather formulation, independent of the scatter one above).
double conv2d_backward_data_at(const ConvGeom& g, const double* dy, const double* w, std::int64_t n, std::int64_t c,
                               std::int64_t iy, std::int64_t ix);

// dw = d<y, dy>/dw and dbias = d<y, dy>/dbias (may be null), overwritten.
void conv2d_backward_weight(const ConvGeom& g, const double* x, const double* dy, double* dw, double* dbias);
// One element dw[o][c][ky][kx].
double conv2d_backward_weight_at(const ConvGeom& g, const double* x, const double* dy, std::int64_t o,
                                 std::int64_t c, std::int64_t ky, std::int64_t kx);

// Pooling over `planes` planes of h x w, square window `kernel`, stride `stride`, no padding.
struct PoolGeom {
  std::int64_t planes = 1, h = 1, w = 1;
  std::int64_t kernel = 1, stride = 1;

  std::int64_t out_h() const { return (h - kernel) / stride + 1; }
  std::int64_t out_w() const { return (w - kernel) / stride + 1; }
  std::int64_t in_size() const { return planes * h * w; }
  std::int64_t out_size() const { return planes * out_h() * out_w(); }
};

// y = window maximum; argmax = flat index (row * w + col) inside the plane of the FIRST maximum
// in row-major window order (a later element replaces the current one only when strictly
// greater). Inputs must not contain NaN.
void maxpool_forward(const PoolGeom& g, const double* x, double* y, std::int64_t* argmax);
// dx = 0, then dx[plane][argmax[o]] += dy[o] for every output o.
void maxpool_backward(const PoolGeom& g, const double* dy, const std::int64_t* argmax, double* dx);
// y = window mean.
void avgpool_forward(const PoolGeom& g, const double* x, double* y);
// dx = 0, then every input of a window receives dy / kernel^2.
void avgpool_backward(const PoolGeom& g, const double* dy, double* dx);

}  // namespace oracle
