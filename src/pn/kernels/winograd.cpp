#include "pn/kernels/winograd.h"

#include "pn/core/aligned_buffer.h"
#include "pn/core/error.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace pn::kernels {
namespace {

constexpr std::int64_t kXi = 16;  // element positions of a 4x4 transformed tile

// The transformed inputs V and products M of one chunk of tiles together stay within this many
// floats (16 MiB, half the last-level cache of the machines we measure on), so the products read
// V and the output transform reads M from cache rather than memory. Large chunks also matter for
// the products themselves: each chunk repacks every U_ξ, which costs about 16/tiles of the
// product's time.
constexpr std::int64_t kChunkBudgetFloats = std::int64_t{4} << 20;

ConvAlgo read_conv_algo() {
  const char* env = std::getenv("PN_CONV");
  if (env == nullptr || *env == '\0') return ConvAlgo::automatic;
  const std::string_view want(env);
  if (want == "auto") return ConvAlgo::automatic;
  if (want == "direct") return ConvAlgo::direct;
  throw Error("PN_CONV='{}' is not a convolution algorithm patternnet knows; use auto or direct", want);
}

// U_ξ[o][c] = (G g Gᵀ)_ξ for every filter g = (o, c); stored ξ-major so that U_ξ is a K x C
// row-major matrix. G's rows are g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 (applied to the rows of g,
// then to the columns of the result). Filters go in blocks of kB x kB (output x input channel):
// the block is read in the order the weights are stored (input channels consecutive, or output
// channels when flipped) and written kB input channels at a time, so both sides stream through
// memory and the arithmetic runs across kB filters at once. This pass reads the weights and writes
// 16/9 of them on every call, which on VGG-16's 512-channel layers is a fifth of the layer's time.
void transform_weights(const ConvGeom& g, const float* w, bool flip, float* u) {
  constexpr std::int64_t kB = 8;
  const std::int64_t K = g.out_c, C = g.in_c;
#pragma omp parallel for schedule(static)
  for (std::int64_t o0 = 0; o0 < K; o0 += kB) {
    const std::int64_t no = std::min(kB, K - o0);
    for (std::int64_t c0 = 0; c0 < C; c0 += kB) {
      const std::int64_t nc = std::min(kB, C - c0);
      float f[kB][9][kB] = {};  // [o][tap][c]; a flipped filter is rotated by 180 degrees: tap e -> 8 - e
      if (!flip) {
        for (std::int64_t o = 0; o < no; ++o)
          for (std::int64_t c = 0; c < nc; ++c)
            for (int e = 0; e < 9; ++e) f[o][e][c] = w[((o0 + o) * C + c0 + c) * 9 + e];
      } else {
        // The transposed layer: w is (C, K, 3, 3) from this geometry's point of view.
        for (std::int64_t c = 0; c < nc; ++c)
          for (std::int64_t o = 0; o < no; ++o)
            for (int e = 0; e < 9; ++e) f[o][8 - e][c] = w[((c0 + c) * K + o0 + o) * 9 + e];
      }
      for (std::int64_t o = 0; o < no; ++o) {
        float r[4][3][kB];
        for (int j = 0; j < 3; ++j) {
          for (std::int64_t c = 0; c < kB; ++c) {
            const float g0 = f[o][j][c], g1 = f[o][3 + j][c], g2 = f[o][6 + j][c];
            r[0][j][c] = g0;
            r[1][j][c] = 0.5f * (g0 + g1 + g2);
            r[2][j][c] = 0.5f * (g0 - g1 + g2);
            r[3][j][c] = g2;
          }
        }
        for (int i = 0; i < 4; ++i) {
          float v[4][kB];
          for (std::int64_t c = 0; c < kB; ++c) {
            const float h0 = r[i][0][c], h1 = r[i][1][c], h2 = r[i][2][c];
            v[0][c] = h0;
            v[1][c] = 0.5f * (h0 + h1 + h2);
            v[2][c] = 0.5f * (h0 - h1 + h2);
            v[3][c] = h2;
          }
          for (int j = 0; j < 4; ++j) std::copy_n(v[j], nc, u + ((i * 4 + j) * K + o0 + o) * C + c0);
        }
      }
    }
  }
}

struct Tiles {
  std::int64_t th = 0, tw = 0;  // tiles per image: ceil(H/2) x ceil(W/2)
  std::int64_t rows = 0;        // tile rows of the whole batch, N * th
};

// V_ξ[c][p] = (Bᵀ d B)_ξ for the tiles p of tile rows [r0, r0 + nrows) and channel c. Bᵀ combines
// the tile's four input rows (r0 - r2, r1 + r2, r2 - r1, r1 - r3), done here on whole rows at once
// so the loops run over contiguous memory; B then combines columns in the same way per tile.
void transform_input(const ConvGeom& g, const Tiles& tl, const float* x, std::int64_t c, std::int64_t r0,
                     std::int64_t nrows, std::int64_t T, float* v, float* rowbuf) {
  const std::int64_t H = g.in_h, W = g.in_w, C = g.in_c;
  const std::int64_t wp = 2 * tl.tw + 2;  // a padded row: one zero left, zeros past W on the right
  float* in[4] = {rowbuf, rowbuf + wp, rowbuf + 2 * wp, rowbuf + 3 * wp};
  float* t[4] = {rowbuf + 4 * wp, rowbuf + 5 * wp, rowbuf + 6 * wp, rowbuf + 7 * wp};
  for (std::int64_t lr = 0; lr < nrows; ++lr) {
    const std::int64_t n = (r0 + lr) / tl.th, ty = (r0 + lr) % tl.th;
    const float* plane = x + (n * C + c) * H * W;
    for (int r = 0; r < 4; ++r) {
      const std::int64_t iy = 2 * ty - 1 + r;
      float* dst = in[r];
      if (iy < 0 || iy >= H) {
        std::fill_n(dst, wp, 0.0f);
        continue;
      }
      dst[0] = 0.0f;
      std::copy_n(plane + iy * W, W, dst + 1);
      std::fill(dst + 1 + W, dst + wp, 0.0f);
    }
    for (std::int64_t j = 0; j < wp; ++j) {
      t[0][j] = in[0][j] - in[2][j];
      t[1][j] = in[1][j] + in[2][j];
      t[2][j] = in[2][j] - in[1][j];
      t[3][j] = in[1][j] - in[3][j];
    }
    const std::int64_t p0 = lr * tl.tw;
    for (int i = 0; i < 4; ++i) {
      const float* s = t[i];
      float* v0 = v + ((i * 4 + 0) * C + c) * T + p0;
      float* v1 = v + ((i * 4 + 1) * C + c) * T + p0;
      float* v2 = v + ((i * 4 + 2) * C + c) * T + p0;
      float* v3 = v + ((i * 4 + 3) * C + c) * T + p0;
      for (std::int64_t tx = 0; tx < tl.tw; ++tx) {
        const float a = s[2 * tx], b = s[2 * tx + 1], cc = s[2 * tx + 2], d = s[2 * tx + 3];
        v0[tx] = a - cc;
        v1[tx] = b + cc;
        v2[tx] = cc - b;
        v3[tx] = b - d;
      }
    }
  }
}

// y[n][k] for the tiles of the chunk: Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 -1 -1], first over the rows of m
// (two rows of partial sums per tile row), then over its columns; an odd H or W drops the tile's
// last row or column.
void transform_output(const ConvGeom& g, const Tiles& tl, const float* m, std::int64_t k, std::int64_t r0,
                      std::int64_t nrows, std::int64_t T, float* y, float* rowbuf) {
  const std::int64_t H = g.out_h, W = g.out_w, K = g.out_c;
  const std::int64_t tw = tl.tw;
  float* s0[4] = {rowbuf, rowbuf + tw, rowbuf + 2 * tw, rowbuf + 3 * tw};
  float* s1[4] = {rowbuf + 4 * tw, rowbuf + 5 * tw, rowbuf + 6 * tw, rowbuf + 7 * tw};
  float* out0 = rowbuf + 8 * tw;
  float* out1 = out0 + 2 * tw;
  for (std::int64_t lr = 0; lr < nrows; ++lr) {
    const std::int64_t n = (r0 + lr) / tl.th, ty = (r0 + lr) % tl.th;
    const std::int64_t p0 = lr * tw;
    for (int j = 0; j < 4; ++j) {
      const float* m0 = m + ((0 * 4 + j) * K + k) * T + p0;
      const float* m1 = m0 + 4 * K * T;
      const float* m2 = m1 + 4 * K * T;
      const float* m3 = m2 + 4 * K * T;
      for (std::int64_t tx = 0; tx < tw; ++tx) {
        s0[j][tx] = m0[tx] + m1[tx] + m2[tx];
        s1[j][tx] = m1[tx] - m2[tx] - m3[tx];
      }
    }
    for (std::int64_t tx = 0; tx < tw; ++tx) {
      out0[2 * tx] = s0[0][tx] + s0[1][tx] + s0[2][tx];
      out0[2 * tx + 1] = s0[1][tx] - s0[2][tx] - s0[3][tx];
      out1[2 * tx] = s1[0][tx] + s1[1][tx] + s1[2][tx];
      out1[2 * tx + 1] = s1[1][tx] - s1[2][tx] - s1[3][tx];
    }
    float* plane = y + (n * K + k) * H * W;
    std::copy_n(out0, W, plane + 2 * ty * W);
    if (2 * ty + 1 < H) std::copy_n(out1, W, plane + (2 * ty + 1) * W);
  }
}

float* scratch(AlignedBuffer& b, std::int64_t floats) {
  if (b.size() < floats) b = AlignedBuffer(floats);
  return b.data();
}

}  // namespace

ConvAlgo conv_algo() {
  static const ConvAlgo algo = read_conv_algo();
  return algo;
}

bool winograd_suits(const ConvGeom& g) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride == 1 && g.pad == 1 && g.in_c >= 16 && g.out_c >= 16 &&
         g.batch > 0;
}

void winograd_conv3x3(const KernelTable& t, const ConvGeom& g, const float* x, const float* w, bool flip, float* y) {
  const std::int64_t K = g.out_c, C = g.in_c;
  Tiles tl;
  tl.th = (g.out_h + 1) / 2;
  tl.tw = (g.out_w + 1) / 2;
  tl.rows = g.batch * tl.th;
  const std::int64_t per_row = kXi * (C + K) * tl.tw;
  const std::int64_t chunk_rows = std::clamp<std::int64_t>(kChunkBudgetFloats / per_row, 1, tl.rows);
  const std::int64_t T = chunk_rows * tl.tw;  // tiles per full chunk: the leading dimension of V and M

  thread_local AlignedBuffer u_buf, v_buf, m_buf;
  float* u = scratch(u_buf, kXi * K * C);
  float* v = scratch(v_buf, kXi * C * T);
  float* m = scratch(m_buf, kXi * K * T);
  transform_weights(g, w, flip, u);

  // Each thread's rows of partial sums (allocated here: nothing may throw inside the parallel region).
  const std::int64_t row_floats = std::max(8 * (2 * tl.tw + 2), 12 * tl.tw);
  thread_local AlignedBuffer rows_buf;
  float* rows = scratch(rows_buf, omp_get_max_threads() * row_floats);
#pragma omp parallel
  {
    float* rowbuf = rows + omp_get_thread_num() * row_floats;
    for (std::int64_t r0 = 0; r0 < tl.rows; r0 += chunk_rows) {
      const std::int64_t nrows = std::min(chunk_rows, tl.rows - r0);
      const std::int64_t tiles = nrows * tl.tw;
#pragma omp for schedule(static)
      for (std::int64_t c = 0; c < C; ++c) transform_input(g, tl, x, c, r0, nrows, T, v, rowbuf);

      // M_ξ (K x tiles) = U_ξ (K x C) · V_ξ (C x tiles); inside the parallel region each product runs
      // on its own thread.
#pragma omp for schedule(static)
      for (std::int64_t xi = 0; xi < kXi; ++xi) {
        gemm(t, GemmArgs{false, false, K, tiles, C, u + xi * K * C, C, v + xi * C * T, T, m + xi * K * T, T, false});
      }
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < K; ++k) transform_output(g, tl, m, k, r0, nrows, T, y, rowbuf);
    }
  }
}

}  // namespace pn::kernels
