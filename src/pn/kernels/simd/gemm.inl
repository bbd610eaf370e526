// Packed, register-blocked SGEMM written against the Vec interface (vec_avx2.h / vec_avx512.h).
// Included inside an ISA namespace by exactly one translation unit per instruction set, after
// that unit defines Vec and the blocking constants kMR, kNV, kKC, kMC, kNC. Nothing here may
// include a standard header: an inline function instantiated under -mavx2 could otherwise be
// picked by the linker for code that runs on CPUs without AVX2.
//
// The blocking follows Goto and van de Geijn: C is cut into kNC-wide column blocks (the packed
// B block, kKC x kNC, lives in L3), the K axis into kKC slices, and the rows into kMC-high blocks
// (packed A, kMC x kKC, lives in L2). The micro-kernel keeps a kMR x (kNV * width) tile of C in
// registers and streams one column of the packed A panel and one row of the packed B panel per
// step of k, both from L1. The row blocks are shared out among the OpenMP threads with a static
// schedule, every element of C is summed in the same order whatever the thread count, so the
// result is bit-identical between runs.

constexpr std::int64_t kNR = kNV * Vec::width;

inline std::int64_t imin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Packs rows i0..i0+mr of op(A), columns k0..k0+kc, as kc groups of kMR values (zero-padded
// past mr): the order in which the micro-kernel broadcasts them.
inline void pack_a(const GemmArgs& g, std::int64_t i0, std::int64_t mr, std::int64_t k0, std::int64_t kc,
                   float* __restrict out) {
  if (g.trans_a) {  // op(A)(i, k) = a[k*lda + i]: each k is a contiguous run of rows
    for (std::int64_t k = 0; k < kc; ++k) {
      const float* src = g.a + (k0 + k) * g.lda + i0;
      float* dst = out + k * kMR;
      std::int64_t i = 0;
      for (; i < mr; ++i) dst[i] = src[i];
      for (; i < kMR; ++i) dst[i] = 0.0f;
    }
  } else {  // op(A)(i, k) = a[i*lda + k]: read each row contiguously, write with stride kMR
    for (std::int64_t i = 0; i < kMR; ++i) {
      if (i < mr) {
        const float* src = g.a + (i0 + i) * g.lda + k0;
        for (std::int64_t k = 0; k < kc; ++k) out[k * kMR + i] = src[k];
      } else {
        for (std::int64_t k = 0; k < kc; ++k) out[k * kMR + i] = 0.0f;
      }
    }
  }
}

// Packs columns j0..j0+nr of op(B), rows k0..k0+kc, as kc rows of kNR values (zero-padded).
inline void pack_b(const GemmArgs& g, std::int64_t j0, std::int64_t nr, std::int64_t k0, std::int64_t kc,
                   float* __restrict out) {
  if (!g.trans_b) {  // op(B)(k, j) = b[k*ldb + j]: rows are contiguous
    for (std::int64_t k = 0; k < kc; ++k) {
      const float* src = g.b + (k0 + k) * g.ldb + j0;
      float* dst = out + k * kNR;
      if (nr == kNR) {
        for (int v = 0; v < kNV; ++v) Vec::loadu(src + v * Vec::width).store(dst + v * Vec::width);
      } else {
        std::int64_t j = 0;
        for (; j < nr; ++j) dst[j] = src[j];
        for (; j < kNR; ++j) dst[j] = 0.0f;
      }
    }
  } else {  // op(B)(k, j) = b[j*ldb + k]: read each column of op(B) contiguously
    for (std::int64_t j = 0; j < kNR; ++j) {
      if (j < nr) {
        const float* src = g.b + (j0 + j) * g.ldb + k0;
        for (std::int64_t k = 0; k < kc; ++k) out[k * kNR + j] = src[k];
      } else {
        for (std::int64_t k = 0; k < kc; ++k) out[k * kNR + j] = 0.0f;
      }
    }
  }
}

// c[0:kMR, 0:kNR] (+)= ap · bp over kc steps; c has leading dimension ldc.
inline void micro_kernel(std::int64_t kc, const float* __restrict ap, const float* __restrict bp,
                         float* __restrict c, std::int64_t ldc, bool load_c) {
  Vec acc[kMR][kNV];
#pragma GCC unroll 32
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[i][v] = Vec::zero();

  for (int i = 0; i < kMR; ++i) __builtin_prefetch(c + i * ldc, 1);

  for (std::int64_t k = 0; k < kc; ++k) {
    Vec b[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) b[v] = Vec::load(bp + v * Vec::width);
    __builtin_prefetch(bp + 8 * kNR);
#pragma GCC unroll 32
    for (int i = 0; i < kMR; ++i) {
      const Vec a = Vec::broadcast(ap + i);
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) acc[i][v] = Vec::fma(a, b[v], acc[i][v]);
    }
    ap += kMR;
    bp += kNR;
  }

#pragma GCC unroll 32
  for (int i = 0; i < kMR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) {
      float* p = c + i * ldc + v * Vec::width;
      if (load_c) acc[i][v] = acc[i][v] + Vec::loadu(p);
      acc[i][v].storeu(p);
    }
  }
}

// One packed A block (mc x kc) against packed B panels [p_begin, p_end) of the current block.
inline void macro_kernel(const GemmArgs& g, std::int64_t ic, std::int64_t mc, std::int64_t jc, std::int64_t nc,
                         std::int64_t kc, std::int64_t p_begin, std::int64_t p_end, const float* apack,
                         const float* bpack, bool load_c, float* edge) {
  for (std::int64_t p = p_begin; p < p_end; ++p) {
    const std::int64_t j = p * kNR;
    const std::int64_t nr = imin(kNR, nc - j);
    const float* bp = bpack + p * kc * kNR;
    for (std::int64_t ir = 0; ir < mc; ir += kMR) {
      const std::int64_t mr = imin(kMR, mc - ir);
      const float* ap = apack + ir * kc;
      float* c = g.c + (ic + ir) * g.ldc + jc + j;
      if (mr == kMR && nr == kNR) {
        micro_kernel(kc, ap, bp, c, g.ldc, load_c);
      } else {
        // A partial tile is computed in full into scratch, then only its valid part is written.
        micro_kernel(kc, ap, bp, edge, kNR, false);
        for (std::int64_t i = 0; i < mr; ++i) {
          float* crow = c + i * g.ldc;
          const float* erow = edge + i * kNR;
          if (load_c) {
            for (std::int64_t jj = 0; jj < nr; ++jj) crow[jj] += erow[jj];
          } else {
            for (std::int64_t jj = 0; jj < nr; ++jj) crow[jj] = erow[jj];
          }
        }
      }
    }
  }
}

inline std::int64_t gemm_workspace(int threads) {
  return kKC * kNC + static_cast<std::int64_t>(threads) * (kMC * kKC + kMR * kNR + 16);
}

inline void gemm(const GemmArgs& g, float* workspace) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) {
    if (!g.accumulate) {
      for (std::int64_t i = 0; i < g.m; ++i)
        for (std::int64_t j = 0; j < g.n; ++j) g.c[i * g.ldc + j] = 0.0f;
    }
    return;
  }
  const int team = omp_in_parallel() ? 1 : omp_get_max_threads();
  float* bpack = workspace;

#pragma omp parallel num_threads(team)
  {
    const int threads = omp_get_num_threads();
    const int tid = omp_get_thread_num();
    float* apack = workspace + kKC * kNC + static_cast<std::int64_t>(tid) * (kMC * kKC + kMR * kNR + 16);
    float* edge = apack + kMC * kKC;

    // Row blocks: at most kMC high, their count a multiple of the team size so that the static
    // schedule gives every thread the same work. When there are fewer row blocks than threads
    // (a short, wide product), the panels of each block are split among the threads instead.
    std::int64_t n_ic = ceil_div(g.m, kMC);
    std::int64_t split = 1;
    if (n_ic < threads) {
      split = threads;
    } else {
      n_ic = ceil_div(n_ic, threads) * threads;
    }
    const std::int64_t mc_step = ceil_div(ceil_div(g.m, n_ic), kMR) * kMR;
    n_ic = ceil_div(g.m, mc_step);

    for (std::int64_t jc = 0; jc < g.n; jc += kNC) {
      const std::int64_t nc = imin(kNC, g.n - jc);
      const std::int64_t panels = ceil_div(nc, kNR);
      for (std::int64_t pc = 0; pc < g.k; pc += kKC) {
        const std::int64_t kc = imin(kKC, g.k - pc);
        const bool load_c = g.accumulate || pc > 0;

#pragma omp for schedule(static)
        for (std::int64_t p = 0; p < panels; ++p) {
          pack_b(g, jc + p * kNR, imin(kNR, nc - p * kNR), pc, kc, bpack + p * kc * kNR);
        }

#pragma omp for schedule(static)
        for (std::int64_t item = 0; item < n_ic * split; ++item) {
          const std::int64_t ic = (item / split) * mc_step;
          const std::int64_t part = item % split;
          const std::int64_t mc = imin(mc_step, g.m - ic);
          const std::int64_t p_begin = panels * part / split;
          const std::int64_t p_end = panels * (part + 1) / split;
          if (p_begin == p_end) continue;
          for (std::int64_t ir = 0; ir < mc; ir += kMR) {
            pack_a(g, ic + ir, imin(kMR, mc - ir), pc, kc, apack + ir * kc);
          }
          macro_kernel(g, ic, mc, jc, nc, kc, p_begin, p_end, apack, bpack, load_c, edge);
        }
      }
    }
  }
}
