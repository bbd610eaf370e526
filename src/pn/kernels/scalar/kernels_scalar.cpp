// The scalar reference table: plain loops that say what each kernel computes.
// Every SIMD table is tested against these functions, and the PN_SIMD=OFF build runs on them
// alone. They are compiled for baseline x86-64 (or any other CPU) and parallelised only where a
// loop over independent rows makes it free.
#include "pn/kernels/kernels.h"

#include <algorithm>
#include <cstdint>

namespace pn::kernels::scalar {
namespace {

std::int64_t gemm_workspace(int /*threads*/) { return 0; }

// [book:scalar_gemm]
// C = op(A) op(B) (+C). For op(B) = Bᵀ each C element is a dot product of two contiguous rows;
// otherwise rows of B are added into the row of C (i-k-j order), which streams memory forwards.
void gemm(const GemmArgs& g, float* /*workspace*/) {
  if (g.k == 0 && (g.accumulate || g.c64)) return;  // C += nothing: leave every bit of C as it is
  const auto a_at = [&](std::int64_t i, std::int64_t p) { return g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p]; };
  if (g.c64) {
    // The reference sums every product in double (at least as accurate as the SIMD tables' runs).
#pragma omp parallel for schedule(static) if (g.m * g.n * g.k > 100000)
    for (std::int64_t i = 0; i < g.m; ++i)
      for (std::int64_t j = 0; j < g.n; ++j) {
        double sum = 0.0;
        for (std::int64_t p = 0; p < g.k; ++p) {
          const float b = g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
          sum += static_cast<double>(a_at(i, p)) * static_cast<double>(b);
        }
        g.c64[i * g.ldc + j] += sum;
      }
    return;
  }
#pragma omp parallel for schedule(static) if (g.m * g.n * g.k > 100000)
  for (std::int64_t i = 0; i < g.m; ++i) {
    float* crow = g.c + i * g.ldc;
    if (g.trans_b) {
      for (std::int64_t j = 0; j < g.n; ++j) {
        const float* brow = g.b + j * g.ldb;
        float sum = 0.0f;
        for (std::int64_t p = 0; p < g.k; ++p) sum += a_at(i, p) * brow[p];
        crow[j] = g.accumulate ? crow[j] + sum : sum;
      }
    } else {
      if (!g.accumulate) std::fill_n(crow, g.n, 0.0f);
      for (std::int64_t p = 0; p < g.k; ++p) {
        const float aip = a_at(i, p);
        const float* brow = g.b + p * g.ldb;
        for (std::int64_t j = 0; j < g.n; ++j) crow[j] += aip * brow[j];
      }
    }
  }
}
// [/book:scalar_gemm]

void relu_forward(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(const float* dy, const float* gate, float* dx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = gate[i] > 0.0f ? dy[i] : 0.0f;
}

void bias_add(float* x, const float* bias, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t i = 0; i < inner; ++i) x[(o * channels + c) * inner + i] += bias[c];
}

void channel_sums(const float* x, float* out, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                  bool accumulate) {
  for (std::int64_t c = 0; c < channels; ++c) {
    float total = 0.0f;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) total += x[(o * channels + c) * inner + i];
    out[c] = accumulate ? out[c] + total : total;
  }
}

void maxpool_forward(const PoolGeom& g, const float* x, float* y, std::int32_t* argmax) {
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        // The first element of the window starts the search; later ones replace it only when
        // strictly greater, so the arg-max of a tie is the first in row-major order.
        std::int64_t best_i = (oh * g.stride) * g.w + ow * g.stride;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
            const std::int64_t i = (oh * g.stride + ky) * g.w + ow * g.stride + kx;
            if (xp[i] > xp[best_i]) best_i = i;
          }
        }
        const std::int64_t o = p * g.out_h * g.out_w + oh * g.out_w + ow;
        y[o] = xp[best_i];
        argmax[o] = static_cast<std::int32_t>(best_i);
      }
    }
  }
}

void maxpool_backward(const PoolGeom& g, const float* dy, const std::int32_t* argmax, float* dx) {
  const std::int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* dxp = dx + p * in_plane;
    std::fill_n(dxp, in_plane, 0.0f);
    for (std::int64_t o = 0; o < out_plane; ++o) dxp[argmax[p * out_plane + o]] += dy[p * out_plane + o];
  }
}

void avgpool_forward(const PoolGeom& g, const float* x, float* y) {
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        float sum = 0.0f;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) sum += xp[(oh * g.stride + ky) * g.w + ow * g.stride + kx];
        y[p * g.out_h * g.out_w + oh * g.out_w + ow] = sum * inv;
      }
    }
  }
}

void avgpool_backward(const PoolGeom& g, const float* dy, float* dx) {
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  const std::int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* dxp = dx + p * in_plane;
    std::fill_n(dxp, in_plane, 0.0f);
    for (std::int64_t oh = 0; oh < g.out_h; ++oh)
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        const float share = dy[p * out_plane + oh * g.out_w + ow] * inv;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) dxp[(oh * g.stride + ky) * g.w + ow * g.stride + kx] += share;
      }
  }
}

// C += op(A) · B in double: each element's products summed in k order, then added to C.
void dgemm_acc(const DgemmArgs& g) {
#pragma omp parallel for schedule(static) if (g.m * g.n * g.k > 100000)
  for (std::int64_t i = 0; i < g.m; ++i)
    for (std::int64_t j = 0; j < g.n; ++j) {
      double sum = 0.0;
      for (std::int64_t p = 0; p < g.k; ++p) sum += (g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p]) * g.b[p * g.ldb + j];
      g.c[i * g.ldc + j] += sum;
    }
}

// [book:winograd_transforms]
// Bᵀ d B for each tile: d is the tile's 4x4 input block, Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
// combines its rows, B its columns.
void winograd_input(const float* const* e, const float* const* o, std::int64_t tiles, float* v, std::int64_t v_stride) {
  for (std::int64_t t = 0; t < tiles; ++t) {
    float d[4][4];
    for (int r = 0; r < 4; ++r) {
      d[r][0] = e[r][t];
      d[r][1] = o[r][t];
      d[r][2] = e[r][t + 1];
      d[r][3] = o[r][t + 1];
    }
    float b[4][4];  // Bᵀ d
    for (int c = 0; c < 4; ++c) {
      b[0][c] = d[0][c] - d[2][c];
      b[1][c] = d[1][c] + d[2][c];
      b[2][c] = d[2][c] - d[1][c];
      b[3][c] = d[1][c] - d[3][c];
    }
    for (int i = 0; i < 4; ++i) {
      v[(i * 4 + 0) * v_stride + t] = b[i][0] - b[i][2];
      v[(i * 4 + 1) * v_stride + t] = b[i][1] + b[i][2];
      v[(i * 4 + 2) * v_stride + t] = b[i][2] - b[i][1];
      v[(i * 4 + 3) * v_stride + t] = b[i][1] - b[i][3];
    }
  }
}

// Aᵀ M A for each tile, Aᵀ = [1 1 1 0; 0 1 -1 -1]: the 2x2 outputs from the 4x4 products.
void winograd_output(const float* m, std::int64_t m_stride, std::int64_t tiles, float* y00, float* y01, float* y10,
                     float* y11) {
  for (std::int64_t t = 0; t < tiles; ++t) {
    float s[2][4];  // Aᵀ M
    for (int j = 0; j < 4; ++j) {
      const float m0 = m[j * m_stride + t], m1 = m[(4 + j) * m_stride + t];
      const float m2 = m[(8 + j) * m_stride + t], m3 = m[(12 + j) * m_stride + t];
      s[0][j] = m0 + m1 + m2;
      s[1][j] = m1 - m2 - m3;
    }
    y00[t] = s[0][0] + s[0][1] + s[0][2];
    y01[t] = s[0][1] - s[0][2] - s[0][3];
    y10[t] = s[1][0] + s[1][1] + s[1][2];
    y11[t] = s[1][1] - s[1][2] - s[1][3];
  }
}
// [/book:winograd_transforms]

}  // namespace
}  // namespace pn::kernels::scalar

namespace pn::kernels {

const KernelTable& scalar_table() {
  static const KernelTable table{
      Isa::scalar,           "scalar",
      scalar::gemm_workspace, scalar::gemm,
      scalar::relu_forward,   scalar::relu_backward,
      scalar::bias_add,       scalar::channel_sums,
      scalar::maxpool_forward, scalar::maxpool_backward,
      scalar::avgpool_forward, scalar::avgpool_backward,
      scalar::dgemm_acc,
      scalar::winograd_input, scalar::winograd_output,
  };
  return table;
}

}  // namespace pn::kernels
