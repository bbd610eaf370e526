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
  } else if (mr == kMR) {  // op(A)(i, k) = a[i*lda + k]: kMR row streams, written in k order
    const float* rows[kMR];
    for (int i = 0; i < kMR; ++i) rows[i] = g.a + (i0 + i) * g.lda + k0;
    for (std::int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 32
      for (int i = 0; i < kMR; ++i) out[k * kMR + i] = rows[i][k];
    }
  } else {
    for (std::int64_t k = 0; k < kc; ++k) {
      for (std::int64_t i = 0; i < kMR; ++i) out[k * kMR + i] = i < mr ? g.a[(i0 + i) * g.lda + k0 + k] : 0.0f;
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
  } else if (nr == kNR) {  // op(B)(k, j) = b[j*ldb + k]: kNR column streams, written in k order
    const float* cols[kNR];
    for (int j = 0; j < kNR; ++j) cols[j] = g.b + (j0 + j) * g.ldb + k0;
    for (std::int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 32
      for (int j = 0; j < kNR; ++j) out[k * kNR + j] = cols[j][k];
    }
  } else {
    for (std::int64_t k = 0; k < kc; ++k) {
      for (std::int64_t j = 0; j < kNR; ++j) out[k * kNR + j] = j < nr ? g.b[(j0 + j) * g.ldb + k0 + k] : 0.0f;
    }
  }
}

// One step of k: the row of B in kNV registers, each A value broadcast against it.
inline void micro_step(Vec (&acc)[kMR][kNV], const float* __restrict ap, const float* __restrict bp) {
  Vec b[kNV];
#pragma GCC unroll 4
  for (int v = 0; v < kNV; ++v) b[v] = Vec::load(bp + v * Vec::width);
#pragma GCC unroll 32
  for (int i = 0; i < kMR; ++i) {
    const Vec a = Vec::broadcast(ap + i);
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[i][v] = Vec::fma(a, b[v], acc[i][v]);
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

  // Unrolled by four so that loop control is a small share of the issue slots; one prefetch per
  // four steps pulls the packed B panel a few cache lines ahead.
  std::int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    __builtin_prefetch(bp + 16 * kNR);
    micro_step(acc, ap, bp);
    micro_step(acc, ap + kMR, bp + kNR);
    micro_step(acc, ap + 2 * kMR, bp + 2 * kNR);
    micro_step(acc, ap + 3 * kMR, bp + 3 * kNR);
    ap += 4 * kMR;
    bp += 4 * kNR;
  }
  for (; k < kc; ++k) {
    micro_step(acc, ap, bp);
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

    // Row blocks: at most kMC high and their count a multiple of the team size; the kMR-row
    // micro-rows are dealt out evenly so that the static schedule gives every thread the same
    // work. When there are fewer row blocks than threads (a short, wide product), the panels of
    // each block are split among the threads instead.
    const std::int64_t micro_rows = ceil_div(g.m, kMR);
    std::int64_t n_ic = ceil_div(micro_rows, kMC / kMR);
    std::int64_t split = 1;
    if (n_ic < threads) {
      split = threads;
    } else {
      n_ic = ceil_div(n_ic, threads) * threads;
    }
    if (n_ic > micro_rows) n_ic = micro_rows;
    const auto block_row = [&](std::int64_t b) { return imin(g.m, (micro_rows * b / n_ic) * kMR); };

    // Column blocks and K slices are cut evenly (N = 4096 becomes two blocks of 2048, not 4080
    // and a 16-wide sliver that would repack all of A for almost no work).
    const std::int64_t nc_step = ceil_div(ceil_div(g.n, ceil_div(g.n, kNC)), kNR) * kNR;
    const std::int64_t kc_step = ceil_div(g.k, ceil_div(g.k, kKC));

    for (std::int64_t jc = 0; jc < g.n; jc += nc_step) {
      const std::int64_t nc = imin(nc_step, g.n - jc);
      const std::int64_t panels = ceil_div(nc, kNR);
      for (std::int64_t pc = 0; pc < g.k; pc += kc_step) {
        const std::int64_t kc = imin(kc_step, g.k - pc);
        const bool load_c = g.accumulate || pc > 0;

#pragma omp for schedule(static)
        for (std::int64_t p = 0; p < panels; ++p) {
          pack_b(g, jc + p * kNR, imin(kNR, nc - p * kNR), pc, kc, bpack + p * kc * kNR);
        }

#pragma omp for schedule(static)
        for (std::int64_t item = 0; item < n_ic * split; ++item) {
          const std::int64_t ic = block_row(item / split);
          const std::int64_t part = item % split;
          const std::int64_t mc = block_row(item / split + 1) - ic;
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
