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
          for (int j = 0; j < 4; ++j) {
            float* dst = u + ((i * 4 + j) * K + o0 + o) * C + c0;
            if (nc == kB) {
              for (std::int64_t c = 0; c < kB; ++c) dst[c] = v[j][c];  // a fixed-size copy: vector stores, no call
            } else {
              std::copy_n(v[j], nc, dst);
            }
          }
        }
      }
    }
  }
}

struct Tiles {
  std::int64_t th = 0, tw = 0;  // tiles per image: ceil(H/2) x ceil(W/2)
  std::int64_t rows = 0;        // tile rows of the whole batch, N * th
};

// V_ξ[c][p] = (Bᵀ d B)_ξ for the tiles p of tile rows [r0, r0 + nrows) and channel c. Tile tx reads
// padded columns 2tx .. 2tx+3 of its four input rows, so each row is first split into its even and
// odd padded columns e and o: tile tx then needs e[tx], o[tx], e[tx+1], o[tx+1], and the table's
// transform runs over contiguous memory, one vector of neighbouring tiles at a time.
void transform_input(const KernelTable& t, const ConvGeom& g, const Tiles& tl, const float* x, std::int64_t c,
                     std::int64_t r0, std::int64_t nrows, std::int64_t T, float* v, float* rowbuf) {
  const std::int64_t H = g.in_h, W = g.in_w, C = g.in_c, tw = tl.tw;
  const std::int64_t len = tw + 1;  // even (or odd) columns of a padded row of 2tw + 2
  float* e[4];
  float* o[4];
  for (int r = 0; r < 4; ++r) {
    e[r] = rowbuf + (2 * r) * len;
    o[r] = rowbuf + (2 * r + 1) * len;
  }
  for (std::int64_t lr = 0; lr < nrows; ++lr) {
    const std::int64_t n = (r0 + lr) / tl.th, ty = (r0 + lr) % tl.th;
    const float* plane = x + (n * C + c) * H * W;
    for (int r = 0; r < 4; ++r) {
      const std::int64_t iy = 2 * ty - 1 + r;
      if (iy < 0 || iy >= H) {
        std::fill_n(e[r], len, 0.0f);
        std::fill_n(o[r], len, 0.0f);
        continue;
      }
      // Padded column j holds x[j - 1]: even column 2k is x[2k - 1], odd column 2k + 1 is x[2k].
      const float* src = plane + iy * W;
      e[r][0] = 0.0f;
      for (std::int64_t k = 0; k < W / 2; ++k) {
        o[r][k] = src[2 * k];
        e[r][k + 1] = src[2 * k + 1];
      }
      std::int64_t k = W / 2;
      if (W % 2 != 0) o[r][k++] = src[W - 1];
      std::fill(o[r] + k, o[r] + len, 0.0f);
      std::fill(e[r] + W / 2 + 1, e[r] + len, 0.0f);
    }
    t.winograd_input(e, o, tw, v + c * T + lr * tw, C * T);
  }
}

// y[n][k] for the tiles of the chunk: the table's Aᵀ M A gives each tile row's two output rows as
// even and odd columns, which are interleaved on the way out. An odd H or W drops the last tile's
// second row or column.
void transform_output(const KernelTable& t, const ConvGeom& g, const Tiles& tl, const float* m, std::int64_t k,
                      std::int64_t r0, std::int64_t nrows, std::int64_t T, float* y, float* rowbuf) {
  const std::int64_t H = g.out_h, W = g.out_w, K = g.out_c, tw = tl.tw;
  float* even[2] = {rowbuf, rowbuf + 2 * tw};
  float* odd[2] = {rowbuf + tw, rowbuf + 3 * tw};
  for (std::int64_t lr = 0; lr < nrows; ++lr) {
    const std::int64_t n = (r0 + lr) / tl.th, ty = (r0 + lr) % tl.th;
    t.winograd_output(m + k * T + lr * tw, K * T, tw, even[0], odd[0], even[1], odd[1]);
    float* plane = y + (n * K + k) * H * W;
    for (int a = 0; a < 2 && 2 * ty + a < H; ++a) {
      float* row = plane + (2 * ty + a) * W;
      const std::int64_t pairs = W / 2;
      for (std::int64_t tx = 0; tx < pairs; ++tx) {
        row[2 * tx] = even[a][tx];
        row[2 * tx + 1] = odd[a][tx];
      }
      if (W % 2 != 0) row[W - 1] = even[a][pairs];
    }
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
  if (g.kernel_h != 3 || g.kernel_w != 3 || g.stride != 1 || g.pad != 1 || g.in_c < 16 || g.out_c < 16) return false;
  // Every call transforms all K x C filters (2.3 ms for 512 x 512 on the machine of bench/README.md);
  // below 64 tiles that is not repaid: VGG-16's conv5 at batch 1 (49 tiles) measured 8.4 ms
  // forward against 7.2 ms for im2col + GEMM.
  return g.batch * ((g.out_h + 1) / 2) * ((g.out_w + 1) / 2) >= kWinogradMinTiles;
}

void winograd_conv3x3(const KernelTable& t, const ConvGeom& g, const float* x, const float* w, bool flip, float* y,
                      std::int64_t chunk_rows_override) {
  const std::int64_t K = g.out_c, C = g.in_c;
  Tiles tl;
  tl.th = (g.out_h + 1) / 2;
  tl.tw = (g.out_w + 1) / 2;
  tl.rows = g.batch * tl.th;
  const std::int64_t per_row = kXi * (C + K) * tl.tw;
  const std::int64_t chunk_rows =
      std::clamp<std::int64_t>(chunk_rows_override > 0 ? chunk_rows_override : kChunkBudgetFloats / per_row, 1, tl.rows);
  const std::int64_t T = chunk_rows * tl.tw;  // tiles per full chunk: the leading dimension of V and M

  thread_local AlignedBuffer u_buf, v_buf, m_buf;
  float* u = scratch(u_buf, kXi * K * C);
  float* v = scratch(v_buf, kXi * C * T);
  float* m = scratch(m_buf, kXi * K * T);
  transform_weights(g, w, flip, u);

  // Each thread's rows of partial sums, allocated before the parallel region.
  const std::int64_t row_floats = 8 * (tl.tw + 1);
  thread_local AlignedBuffer rows_buf;
  float* rows = scratch(rows_buf, omp_get_max_threads() * row_floats);
#pragma omp parallel
  {
    float* rowbuf = rows + omp_get_thread_num() * row_floats;
    for (std::int64_t r0 = 0; r0 < tl.rows; r0 += chunk_rows) {
      const std::int64_t nrows = std::min(chunk_rows, tl.rows - r0);
      const std::int64_t tiles = nrows * tl.tw;
#pragma omp for schedule(static)
      for (std::int64_t c = 0; c < C; ++c) transform_input(t, g, tl, x, c, r0, nrows, T, v, rowbuf);

      // M_ξ (K x tiles) = U_ξ (K x C) · V_ξ (C x tiles); inside the parallel region each product runs
      // on its own thread.
#pragma omp for schedule(static)
      for (std::int64_t xi = 0; xi < kXi; ++xi) {
        gemm(t, GemmArgs{false, false, K, tiles, C, u + xi * K * C, C, v + xi * C * T, T, m + xi * K * T, T, false});
      }
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < K; ++k) transform_output(t, g, tl, m, k, r0, nrows, T, y, rowbuf);
    }
  }
}

}  // namespace pn::kernels
