#include "pn/kernels/conv.h"

#include "pn/kernels/winograd.h"

#include "pn/core/aligned_buffer.h"
#include "pn/core/error.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace pn::kernels {
namespace {

// Bound on the im2col scratch: large enough that the GEMMs see long K and N (efficient), small
// enough to stay far below the activations themselves.
constexpr std::int64_t kColBudgetFloats = std::int64_t{8} << 20;  // 32 MiB

std::int64_t band_rows(const ConvGeom& g) {
  const std::int64_t per_row = std::max<std::int64_t>(1, g.patch() * g.out_w);
  return std::clamp<std::int64_t>(kColBudgetFloats / per_row, 1, g.out_h);
}

// Images per group when feature maps are small: enough columns for an efficient product, within
// the scratch budget. 1 means the per-image (banded) path.
std::int64_t group_images(const ConvGeom& g) {
  constexpr std::int64_t kMinColumns = 2048;
  const std::int64_t p = g.positions();
  if (p >= kMinColumns || g.batch <= 1) return 1;
  const std::int64_t by_budget = std::max<std::int64_t>(1, kColBudgetFloats / std::max<std::int64_t>(1, g.patch() * p));
  const std::int64_t by_out = std::max<std::int64_t>(1, kColBudgetFloats / std::max<std::int64_t>(1, g.out_c * p));
  return std::clamp<std::int64_t>(std::min(by_budget, by_out), 1, g.batch);
}

// Second scratch buffer (the grouped path needs col and an output-shaped matrix at once).
float* scratch2(std::int64_t floats) {
  thread_local AlignedBuffer buffer;
  if (buffer.size() < floats) buffer = AlignedBuffer(floats);
  return buffer.data();
}

// Moves between the batch layout y[n][o][p] and the grouped layout t[o][n*P + p] of images
// [n0, n0 + group).
void batch_to_grouped(const ConvGeom& g, const float* y, std::int64_t n0, std::int64_t group, float* t) {
  const std::int64_t P = g.positions();
  for (std::int64_t i = 0; i < group; ++i)
    for (std::int64_t o = 0; o < g.out_c; ++o)
      std::memcpy(t + o * group * P + i * P, y + ((n0 + i) * g.out_c + o) * P, static_cast<std::size_t>(P) * sizeof(float));
}
void grouped_to_batch(const ConvGeom& g, const float* t, std::int64_t n0, std::int64_t group, float* y) {
  const std::int64_t P = g.positions();
  for (std::int64_t i = 0; i < group; ++i)
    for (std::int64_t o = 0; o < g.out_c; ++o)
      std::memcpy(y + ((n0 + i) * g.out_c + o) * P, t + o * group * P + i * P, static_cast<std::size_t>(P) * sizeof(float));
}

// The output columns ox for which the input column ox*stride + kx - pad lies in [0, in_w).
std::pair<std::int64_t, std::int64_t> valid_columns(const ConvGeom& g, std::int64_t kx) {
  const std::int64_t first = g.pad - kx;  // ox*stride >= first
  const std::int64_t lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  const std::int64_t last = g.in_w - 1 + g.pad - kx;  // ox*stride <= last
  const std::int64_t hi = last < 0 ? 0 : std::min(g.out_w, last / g.stride + 1);
  return {std::min(lo, hi), hi};
}

// A 1x1, stride-1, unpadded convolution reads the image itself as its im2col matrix.
bool is_pointwise(const ConvGeom& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride == 1 && g.pad == 0;
}

// 3x3 same convolutions go through Winograd's F(2x2, 3x3) unless PN_CONV=direct (winograd.h).
bool use_winograd(const ConvGeom& g) { return winograd_suits(g) && conv_algo() == ConvAlgo::automatic; }

float* scratch(std::int64_t floats) {
  thread_local AlignedBuffer buffer;
  if (buffer.size() < floats) buffer = AlignedBuffer(floats);
  return buffer.data();
}

}  // namespace

ConvGeom make_conv_geom(std::int64_t batch, std::int64_t in_c, std::int64_t in_h, std::int64_t in_w,
                        std::int64_t out_c, std::int64_t kernel_h, std::int64_t kernel_w, std::int64_t stride,
                        std::int64_t pad) {
  if (batch < 0 || in_c <= 0 || in_h <= 0 || in_w <= 0 || out_c <= 0 || kernel_h <= 0 || kernel_w <= 0) {
    throw Error("conv2d: sizes must be positive (batch {}, in_channels {}, input {}x{}, out_channels {}, kernel {}x{})",
                batch, in_c, in_h, in_w, out_c, kernel_h, kernel_w);
  }
  if (stride <= 0) throw Error("conv2d: stride must be positive, got {}", stride);
  if (pad < 0) throw Error("conv2d: padding must be non-negative, got {}", pad);
  // Sizes come from files; bound them before any arithmetic so nothing below can overflow.
  constexpr std::int64_t kMaxExtent = std::int64_t{1} << 30;
  for (std::int64_t v : {batch, in_c, in_h, in_w, out_c, kernel_h, kernel_w, stride, pad}) {
    if (v > kMaxExtent) {
      throw Error("conv2d: size {} is out of range (batch {}, in_channels {}, input {}x{}, out_channels {}, kernel {}x{}, "
                  "stride {}, padding {})",
                  v, batch, in_c, in_h, in_w, out_c, kernel_h, kernel_w, stride, pad);
    }
  }
  if (in_h + 2 * pad < kernel_h || in_w + 2 * pad < kernel_w) {
    throw Error("conv2d: kernel {}x{} does not fit input {}x{} with padding {}", kernel_h, kernel_w, in_h, in_w, pad);
  }
  ConvGeom g;
  g.batch = batch;
  g.in_c = in_c;
  g.in_h = in_h;
  g.in_w = in_w;
  g.out_c = out_c;
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.stride = stride;
  g.pad = pad;
  g.out_h = (in_h + 2 * pad - kernel_h) / stride + 1;
  g.out_w = (in_w + 2 * pad - kernel_w) / stride + 1;
  return g;
}

void im2col_row(const ConvGeom& g, const float* x, std::int64_t d, std::int64_t row0, std::int64_t rows, float* dst) {
  const std::int64_t c = d / (g.kernel_h * g.kernel_w);
  const std::int64_t ky = d / g.kernel_w % g.kernel_h, kx = d % g.kernel_w;
  // Output columns whose input column ox*stride + kx - pad lies inside the image: [lo, hi).
  const auto [lo, hi] = valid_columns(g, kx);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t iy = (row0 + r) * g.stride + ky - g.pad;
    float* out = dst + r * g.out_w;
    if (iy < 0 || iy >= g.in_h) {
      std::fill_n(out, g.out_w, 0.0f);
      continue;
    }
    const float* src = x + (c * g.in_h + iy) * g.in_w + kx - g.pad;
    std::fill_n(out, lo, 0.0f);
    if (g.stride == 1) {
      std::copy(src + lo, src + hi, out + lo);
    } else {
      for (std::int64_t ox = lo; ox < hi; ++ox) out[ox] = src[ox * g.stride];
    }
    std::fill(out + hi, out + g.out_w, 0.0f);
  }
}

void im2col(const ConvGeom& g, const float* x, std::int64_t row0, std::int64_t rows, float* col, std::int64_t ld) {
  const std::int64_t cols = ld > 0 ? ld : rows * g.out_w;
  // Patch rows are disjoint rows of col; inside an enclosing parallel loop this runs serially.
#pragma omp parallel for schedule(static) if (g.in_c > 1 && g.in_c * rows * g.out_w * g.kernel_h * g.kernel_w > 32768)
  for (std::int64_t d = 0; d < g.patch(); ++d) im2col_row(g, x, d, row0, rows, col + d * cols);
}

void col2im(const ConvGeom& g, const float* col, std::int64_t row0, std::int64_t rows, float* dx, std::int64_t ld) {
  const std::int64_t cols = ld > 0 ? ld : rows * g.out_w;
  // Channels add into disjoint planes of dx.
#pragma omp parallel for schedule(static) if (g.in_c > 1 && g.in_c * rows * g.out_w * g.kernel_h * g.kernel_w > 32768)
  for (std::int64_t c = 0; c < g.in_c; ++c) {
    for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
      for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
        const float* src = col + ((c * g.kernel_h + ky) * g.kernel_w + kx) * cols;
        const auto [lo, hi] = valid_columns(g, kx);
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t iy = (row0 + r) * g.stride + ky - g.pad;
          if (iy < 0 || iy >= g.in_h) continue;
          float* out = dx + (c * g.in_h + iy) * g.in_w + kx - g.pad;
          const float* in = src + r * g.out_w;
          for (std::int64_t ox = lo; ox < hi; ++ox) out[ox * g.stride] += in[ox];
        }
      }
    }
  }
}

void conv2d_forward(const KernelTable& t, const ConvGeom& g, const float* x, const float* w, const float* bias,
                    float* y) {
  if (use_winograd(g)) {
    winograd_conv3x3(t, g, x, w, false, y);
    if (bias) t.bias_add(y, bias, g.batch, g.out_c, g.positions());
    return;
  }
  const std::int64_t D = g.patch(), P = g.positions();
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  if (const std::int64_t G = group_images(g); G > 1) {
    float* col = scratch(D * G * P);
    float* tmp = scratch2(g.out_c * G * P);
    for (std::int64_t n0 = 0; n0 < g.batch; n0 += G) {
      const std::int64_t group = std::min(G, g.batch - n0);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < group; ++i) im2col(g, x + (n0 + i) * in_size, 0, g.out_h, col + i * P, group * P);
      // tmp (O x group*P) = W (O x D) · col (D x group*P)
      gemm(t, GemmArgs{false, false, g.out_c, group * P, D, w, D, col, group * P, tmp, group * P, false});
      grouped_to_batch(g, tmp, n0, group, y);
    }
    if (bias) t.bias_add(y, bias, g.batch, g.out_c, P);
    return;
  }
  const std::int64_t band = band_rows(g);
  float* col = is_pointwise(g) ? nullptr : scratch(D * band * g.out_w);
  for (std::int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * in_size;
    float* yn = y + n * g.out_c * P;
    for (std::int64_t row0 = 0; row0 < g.out_h; row0 += band) {
      const std::int64_t rows = std::min(band, g.out_h - row0);
      const std::int64_t cols = rows * g.out_w;
      const float* b = xn + row0 * g.out_w;
      std::int64_t ldb = P;
      if (col) {
        im2col(g, xn, row0, rows, col);
        b = col;
        ldb = cols;
      }
      // y[n][:, band] (O x cols, row stride P) = W (O x D) · col (D x cols)
      gemm(t, GemmArgs{false, false, g.out_c, cols, D, w, D, b, ldb, yn + row0 * g.out_w, P, false});
    }
  }
  if (bias) t.bias_add(y, bias, g.batch, g.out_c, P);
}

void conv2d_backward_data(const KernelTable& t, const ConvGeom& g, const float* dy, const float* w, float* dx) {
  if (use_winograd(g)) {
    // A 3x3 same convolution's adjoint is a 3x3 same convolution from out_c to in_c channels.
    const ConvGeom back = make_conv_geom(g.batch, g.out_c, g.out_h, g.out_w, g.in_c, 3, 3, 1, 1);
    winograd_conv3x3(t, back, dy, w, true, dx);
    return;
  }
  const std::int64_t D = g.patch(), P = g.positions();
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  if (const std::int64_t G = group_images(g); G > 1) {
    float* col = scratch(D * G * P);
    float* tmp = scratch2(g.out_c * G * P);
    std::fill_n(dx, g.batch * in_size, 0.0f);
    for (std::int64_t n0 = 0; n0 < g.batch; n0 += G) {
      const std::int64_t group = std::min(G, g.batch - n0);
      batch_to_grouped(g, dy, n0, group, tmp);
      // col (D x group*P) = Wᵀ (D x O) · tmp (O x group*P)
      gemm(t, GemmArgs{true, false, D, group * P, g.out_c, w, D, tmp, group * P, col, group * P, false});
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < group; ++i) col2im(g, col + i * P, 0, g.out_h, dx + (n0 + i) * in_size, group * P);
    }
    return;
  }
  if (is_pointwise(g)) {
    for (std::int64_t n = 0; n < g.batch; ++n) {
      // dx[n] (C x P) = Wᵀ (C x O) · dy[n] (O x P)
      gemm(t, GemmArgs{true, false, g.in_c, P, g.out_c, w, D, dy + n * g.out_c * P, P, dx + n * in_size, P, false});
    }
    return;
  }
  const std::int64_t band = band_rows(g);
  float* col = scratch(D * band * g.out_w);
  std::fill_n(dx, g.batch * in_size, 0.0f);
  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t row0 = 0; row0 < g.out_h; row0 += band) {
      const std::int64_t rows = std::min(band, g.out_h - row0);
      const std::int64_t cols = rows * g.out_w;
      // col (D x cols) = Wᵀ (D x O) · dy[n][:, band] (O x cols, row stride P)
      gemm(t, GemmArgs{true, false, D, cols, g.out_c, w, D, dy + n * g.out_c * P + row0 * g.out_w, P, col, cols,
                       false});
      col2im(g, col, row0, rows, dx + n * in_size);
    }
  }
}

void conv2d_backward_weight(const KernelTable& t, const ConvGeom& g, const float* x, const float* dy, float* dw,
                            float* dbias, bool accumulate) {
  const std::int64_t D = g.patch(), P = g.positions();
  const std::int64_t in_size = g.in_c * g.in_h * g.in_w;
  if (g.batch == 0 && !accumulate) std::fill_n(dw, g.out_c * D, 0.0f);
  bool acc = accumulate;
  if (const std::int64_t G = group_images(g); G > 1) {
    float* col = scratch(D * G * P);
    float* tmp = scratch2(g.out_c * G * P);
    for (std::int64_t n0 = 0; n0 < g.batch; n0 += G) {
      const std::int64_t group = std::min(G, g.batch - n0);
      batch_to_grouped(g, dy, n0, group, tmp);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < group; ++i) im2col(g, x + (n0 + i) * in_size, 0, g.out_h, col + i * P, group * P);
      // dW (O x D) (+)= tmp (O x group*P) · colᵀ (group*P x D)
      gemm(t, GemmArgs{false, true, g.out_c, D, group * P, tmp, group * P, col, group * P, dw, D, acc});
      acc = true;
    }
    if (dbias) t.channel_sums(dy, dbias, g.batch, g.out_c, P, accumulate);
    return;
  }
  const std::int64_t band = band_rows(g);
  float* col = is_pointwise(g) ? nullptr : scratch(D * band * g.out_w);
  for (std::int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * in_size;
    for (std::int64_t row0 = 0; row0 < g.out_h; row0 += band) {
      const std::int64_t rows = std::min(band, g.out_h - row0);
      const std::int64_t cols = rows * g.out_w;
      const float* b = xn + row0 * g.out_w;
      std::int64_t ldb = P;
      if (col) {
        im2col(g, xn, row0, rows, col);
        b = col;
        ldb = cols;
      }
      // dW (O x D) (+)= dy[n][:, band] (O x cols, row stride P) · colᵀ (cols x D)
      gemm(t, GemmArgs{false, true, g.out_c, D, cols, dy + n * g.out_c * P + row0 * g.out_w, P, b, ldb, dw, D, acc});
      acc = true;
    }
  }
  if (dbias) t.channel_sums(dy, dbias, g.batch, g.out_c, P, accumulate);
}

}  // namespace pn::kernels
