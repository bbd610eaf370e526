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
// step of k, both from L1. Threads split C into bands (see gemm() at the end).

constexpr std::int64_t kNR = kNV * Vec::width;

inline std::int64_t imin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
inline std::int64_t imax(std::int64_t a, std::int64_t b) { return a > b ? a : b; }
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

// Packs the whole row block ic..ic+mc of op(A) (kMR-row panels, each kc x kMR). For a transposed
// A the rows of the block are contiguous in memory, so walk k outermost and read each row once.
inline void pack_a_block(const GemmArgs& g, std::int64_t ic, std::int64_t mc, std::int64_t k0, std::int64_t kc,
                         float* __restrict out) {
  if (!g.trans_a) {
    for (std::int64_t ir = 0; ir < mc; ir += kMR) pack_a(g, ic + ir, imin(kMR, mc - ir), k0, kc, out + ir * kc);
    return;
  }
  const std::int64_t full = mc / kMR * kMR;
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* src = g.a + (k0 + k) * g.lda + ic;
    for (std::int64_t ir = 0; ir < full; ir += kMR) {
      float* dst = out + ir * kc + k * kMR;
#pragma GCC unroll 32
      for (int i = 0; i < kMR; ++i) dst[i] = src[ir + i];
    }
  }
  if (full < mc) pack_a(g, ic + full, mc - full, k0, kc, out + full * kc);
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

// Packs the block of op(B) for columns jc..jc+nc and rows k0..k0+kc into kNR-wide panels. For an
// untransposed B each row of the block is contiguous, so walk k outermost: B then streams from
// memory in address order, which the hardware prefetchers follow (B is often far larger than L3).
inline void pack_b_block(const GemmArgs& g, std::int64_t jc, std::int64_t nc, std::int64_t k0, std::int64_t kc,
                         float* __restrict out) {
  const std::int64_t full = nc / kNR;
  if (!g.trans_b) {
    for (std::int64_t k = 0; k < kc; ++k) {
      const float* src = g.b + (k0 + k) * g.ldb + jc;
      for (std::int64_t p = 0; p < full; ++p) {
        float* dst = out + p * kc * kNR + k * kNR;
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) Vec::loadu(src + p * kNR + v * Vec::width).store(dst + v * Vec::width);
      }
    }
  } else {
    for (std::int64_t p = 0; p < full; ++p) pack_b(g, jc + p * kNR, kNR, k0, kc, out + p * kc * kNR);
  }
  if (full * kNR < nc) pack_b(g, jc + full * kNR, nc - full * kNR, k0, kc, out + full * kc * kNR);
}

// [book:micro_step]
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
// [/book:micro_step]

// acc = ap · bp over kc steps (the register tile, kMR x kNR).
inline void micro_product(std::int64_t kc, const float* __restrict ap, const float* __restrict bp, Vec (&acc)[kMR][kNV]) {
#pragma GCC unroll 32
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[i][v] = Vec::zero();
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
}

// c[0:kMR, 0:kNR] (+)= ap · bp over kc steps; c has leading dimension ldc.
inline void micro_kernel(std::int64_t kc, const float* __restrict ap, const float* __restrict bp,
                         float* __restrict c, std::int64_t ldc, bool load_c) {
  for (int i = 0; i < kMR; ++i) __builtin_prefetch(c + i * ldc, 1);
  Vec acc[kMR][kNV];
  micro_product(kc, ap, bp, acc);
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

// c64[0:kMR, 0:kNR] += ap · bp: the float tile sum of this run of kc steps, added in double.
inline void micro_kernel_f64(std::int64_t kc, const float* __restrict ap, const float* __restrict bp,
                             double* __restrict c, std::int64_t ldc) {
  for (int i = 0; i < kMR; ++i) __builtin_prefetch(c + i * ldc, 1);
  Vec acc[kMR][kNV];
  micro_product(kc, ap, bp, acc);
#pragma GCC unroll 32
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[i][v].add_to_f64(c + i * ldc + v * Vec::width);
}

// One packed A block (mc x kc) against all packed B panels of the current block.
inline void macro_kernel(const GemmArgs& g, std::int64_t ic, std::int64_t mc, std::int64_t jc, std::int64_t nc,
                         std::int64_t kc, std::int64_t panels, const float* apack,
                         const float* bpack, bool load_c, float* edge) {
  for (std::int64_t p = 0; p < panels; ++p) {
    const std::int64_t j = p * kNR;
    const std::int64_t nr = imin(kNR, nc - j);
    const float* bp = bpack + p * kc * kNR;
    for (std::int64_t ir = 0; ir < mc; ir += kMR) {
      const std::int64_t mr = imin(kMR, mc - ir);
      const float* ap = apack + ir * kc;
      if (g.c64) {
        double* c = g.c64 + (ic + ir) * g.ldc + jc + j;
        if (mr == kMR && nr == kNR) {
          micro_kernel_f64(kc, ap, bp, c, g.ldc);
        } else {
          micro_kernel(kc, ap, bp, edge, kNR, false);
          for (std::int64_t i = 0; i < mr; ++i)
            for (std::int64_t jj = 0; jj < nr; ++jj) c[i * g.ldc + jj] += static_cast<double>(edge[i * kNR + jj]);
        }
        continue;
      }
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

constexpr std::int64_t kThreadWorkspace = kKC * kNC + kMC * kKC + kMR * kNR + 16;

inline std::int64_t gemm_workspace(int threads) { return static_cast<std::int64_t>(threads) * kThreadWorkspace; }

// One thread's product, blocked as described at the top of this file. workspace holds the packed
// B block, the packed A block and the scratch tile of partial micro-tiles.
inline void gemm_serial(const GemmArgs& g, float* workspace) {
  float* bpack = workspace;
  float* apack = workspace + kKC * kNC;
  float* edge = apack + kMC * kKC;

  // Blocks are cut evenly (N = 4096 becomes two blocks of 2048, not 4080 and a 16-wide sliver
  // that would repack all of A for almost no work).
  const std::int64_t nc_step = ceil_div(ceil_div(g.n, ceil_div(g.n, kNC)), kNR) * kNR;
  const std::int64_t kc_max = g.c64 ? imin(kKC, kF64Run) : kKC;
  const std::int64_t kc_step = ceil_div(g.k, ceil_div(g.k, kc_max));
  const std::int64_t micro_rows = ceil_div(g.m, kMR);
  const std::int64_t mc_step = ceil_div(micro_rows, ceil_div(micro_rows, kMC / kMR)) * kMR;

  for (std::int64_t jc = 0; jc < g.n; jc += nc_step) {
    const std::int64_t nc = imin(nc_step, g.n - jc);
    const std::int64_t panels = ceil_div(nc, kNR);
    for (std::int64_t pc = 0; pc < g.k; pc += kc_step) {
      const std::int64_t kc = imin(kc_step, g.k - pc);
      const bool load_c = g.accumulate || pc > 0;
      pack_b_block(g, jc, nc, pc, kc, bpack);
      for (std::int64_t ic = 0; ic < g.m; ic += mc_step) {
        const std::int64_t mc = imin(mc_step, g.m - ic);
        pack_a_block(g, ic, mc, pc, kc, apack);
        macro_kernel(g, ic, mc, jc, nc, kc, panels, apack, bpack, load_c, edge);
      }
    }
  }
}

// The c64 mode (statistics): C is double and typically far larger than the caches (a conv4
// layer of VGG-16 gives 1536 x 4608 doubles, 56 MB), while each run of kc steps must be added into
// it. Walking C once per kc slice, as gemm_serial does, would stream it from memory K/kc times;
// here a C block of kMC64 x kNC64 doubles stays in cache for kKS steps of k instead. The A block
// is packed once per kKS slice for all its kc runs (kMC64 x kKS floats, within the thread's
// workspace) and the narrow B block is repacked for each row block, which costs 1/(2 kMC64) of
// the flops; hence tall, narrow C blocks.
constexpr std::int64_t kMC64 = 768;                // a multiple of kMR for both tiles (4 and 12)
constexpr std::int64_t kC64BlockDoubles = 24576;   // 192 KB of C
constexpr std::int64_t kNC64 = (kC64BlockDoubles / kMC64 / kNR > 0 ? kC64BlockDoubles / kMC64 / kNR : 1) * kNR;
constexpr std::int64_t kKS = (kThreadWorkspace - kF64Run * kNC64 - kMR * kNR - 16) / kMC64 / kF64Run * kF64Run;
static_assert(kMC64 % kMR == 0 && kKS >= kF64Run, "c64 blocking");
static_assert(kMC64 * kKS + kF64Run * kNC64 + kMR * kNR <= kThreadWorkspace, "c64 blocks must fit the workspace");

inline void gemm_serial_f64(const GemmArgs& g, float* workspace) {
  float* apack = workspace;
  float* bpack = workspace + kMC64 * kKS;
  float* edge = bpack + kF64Run * kNC64;

  const std::int64_t kc_step = ceil_div(g.k, ceil_div(g.k, kF64Run));
  const std::int64_t ks_step = imax(kc_step, kKS / kc_step * kc_step);
  const std::int64_t nc_step = ceil_div(ceil_div(g.n, ceil_div(g.n, kNC64)), kNR) * kNR;
  const std::int64_t micro_rows = ceil_div(g.m, kMR);
  const std::int64_t mc_step = ceil_div(micro_rows, ceil_div(micro_rows, kMC64 / kMR)) * kMR;

  for (std::int64_t ks = 0; ks < g.k; ks += ks_step) {
    const std::int64_t ke = imin(g.k, ks + ks_step);
    for (std::int64_t ic = 0; ic < g.m; ic += mc_step) {
      const std::int64_t mc = imin(mc_step, g.m - ic);
      for (std::int64_t pc = ks; pc < ke; pc += kc_step)
        pack_a_block(g, ic, mc, pc, imin(kc_step, ke - pc), apack + (pc - ks) * mc_step);
      for (std::int64_t jc = 0; jc < g.n; jc += nc_step) {
        const std::int64_t nc = imin(nc_step, g.n - jc);
        const std::int64_t panels = ceil_div(nc, kNR);
        for (std::int64_t pc = ks; pc < ke; pc += kc_step) {
          const std::int64_t kc = imin(kc_step, ke - pc);
          pack_b_block(g, jc, nc, pc, kc, bpack);
          macro_kernel(g, ic, mc, jc, nc, kc, panels, apack + (pc - ks) * mc_step, bpack, true, edge);
        }
      }
    }
  }
}

inline void run_serial(const GemmArgs& g, float* workspace) {
  if (g.c64) {
    gemm_serial_f64(g, workspace);
  } else {
    gemm_serial(g, workspace);
  }
}

// The product restricted to rows [i0, i1) and columns [j0, j1) of C.
inline GemmArgs sub_problem(const GemmArgs& g, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
  GemmArgs s = g;
  s.m = i1 - i0;
  s.n = j1 - j0;
  s.a = g.trans_a ? g.a + i0 : g.a + i0 * g.lda;
  s.b = g.trans_b ? g.b + j0 * g.ldb : g.b + j0;
  s.c = g.c ? g.c + i0 * g.ldc + j0 : nullptr;
  s.c64 = g.c64 ? g.c64 + i0 * g.ldc + j0 : nullptr;
  return s;
}

// Products with at most kSkinnyRows rows in C and an untransposed A: a dense layer at batch 1-4,
// x Wᵀ forward and dy W backward. Their cost is streaming B (the weight matrix: 411 MB for
// VGG-16's fc6) from memory once, not arithmetic. The packed path would read and write B once more
// to pack it and leave 3/4 of a 4-row micro-tile idle at batch 1, so these kernels use every B
// element straight from memory for all m rows. Every element of C is summed in an order that does
// not depend on how the columns are split between threads (splits are multiples of Vec::width, so
// a column is always in a vector lane or always in the scalar tail).
constexpr std::int64_t kSkinnyRows = 4;

inline bool skinny(const GemmArgs& g) { return g.m <= kSkinnyRows && !g.trans_a && !g.c64; }

// op(B) = Bᵀ with B stored N x K: C[i][j] (+)= dot(A row i, B row j) for j in [j0, j1). Two
// accumulators per row hide the FMA latency; each B vector is loaded once for all M rows.
template <int M>
inline void skinny_dots(const GemmArgs& g, std::int64_t j0, std::int64_t j1) {
  constexpr int W = Vec::width;
  const std::int64_t kv = g.k / (2 * W) * (2 * W);
  for (std::int64_t j = j0; j < j1; ++j) {
    const float* __restrict brow = g.b + j * g.ldb;
    Vec acc[M][2];
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = Vec::zero();
    for (std::int64_t k = 0; k < kv; k += 2 * W) {
      const Vec b0 = Vec::loadu(brow + k), b1 = Vec::loadu(brow + k + W);
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) {
        const float* ai = g.a + i * g.lda + k;
        acc[i][0] = Vec::fma(Vec::loadu(ai), b0, acc[i][0]);
        acc[i][1] = Vec::fma(Vec::loadu(ai + W), b1, acc[i][1]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      const float* ai = g.a + i * g.lda;
      float s = (acc[i][0] + acc[i][1]).sum();
      for (std::int64_t k = kv; k < g.k; ++k) s += ai[k] * brow[k];
      float* c = g.c + i * g.ldc + j;
      *c = g.accumulate ? *c + s : s;
    }
  }
}

// op(B) = B stored K x N: C[i][j0:j1] (+)= Σ_k A[i][k] B[k][j0:j1]. Four rows of B per pass over
// the thread's slice of C (in L2: 50 KB for fc6 at batch 1), so C is loaded and stored a quarter as
// often and each B row is read as one long contiguous run, which the prefetchers follow. (Cutting
// the columns into L1-sized chunks instead made every B row a series of short runs 100 KB apart and
// measured 1.5x slower in an A/B run of bench_gemm's fc6 batch-1 cases.)
template <int M>
inline void skinny_axpy(const GemmArgs& g, std::int64_t j0, std::int64_t j1) {
  constexpr int W = Vec::width;
  const std::int64_t k4 = g.k / 4 * 4;
  const std::int64_t n = j1 - j0;
  const std::int64_t nv = n / W * W;
  if (!g.accumulate) {
    for (int i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < n; ++j) g.c[i * g.ldc + j0 + j] = 0.0f;
  }
  for (std::int64_t k = 0; k < g.k; k += (k < k4 ? 4 : 1)) {
    const float* __restrict b0 = g.b + k * g.ldb + j0;
    for (int i = 0; i < M; ++i) {
      const float* ai = g.a + i * g.lda + k;
      float* __restrict ci = g.c + i * g.ldc + j0;
      if (k < k4) {
        const Vec a0 = Vec::set1(ai[0]), a1 = Vec::set1(ai[1]), a2 = Vec::set1(ai[2]), a3 = Vec::set1(ai[3]);
        const float* b1 = b0 + g.ldb;
        const float* b2 = b1 + g.ldb;
        const float* b3 = b2 + g.ldb;
        for (std::int64_t j = 0; j < nv; j += W) {
          Vec c = Vec::loadu(ci + j);
          c = Vec::fma(a0, Vec::loadu(b0 + j), c);
          c = Vec::fma(a1, Vec::loadu(b1 + j), c);
          c = Vec::fma(a2, Vec::loadu(b2 + j), c);
          c = Vec::fma(a3, Vec::loadu(b3 + j), c);
          c.storeu(ci + j);
        }
        for (std::int64_t j = nv; j < n; ++j) {
          float c = ci[j];
          c += ai[0] * b0[j];
          c += ai[1] * b1[j];
          c += ai[2] * b2[j];
          c += ai[3] * b3[j];
          ci[j] = c;
        }
      } else {
        const Vec a0 = Vec::set1(ai[0]);
        for (std::int64_t j = 0; j < nv; j += W) Vec::fma(a0, Vec::loadu(b0 + j), Vec::loadu(ci + j)).storeu(ci + j);
        for (std::int64_t j = nv; j < n; ++j) ci[j] += ai[0] * b0[j];
      }
    }
  }
}

template <int M>
inline void skinny_rows(const GemmArgs& g, std::int64_t j0, std::int64_t j1) {
  if (g.trans_b) {
    skinny_dots<M>(g, j0, j1);
  } else {
    skinny_axpy<M>(g, j0, j1);
  }
}

inline void skinny_product(const GemmArgs& g, std::int64_t j0, std::int64_t j1) {
  switch (g.m) {
    case 1: skinny_rows<1>(g, j0, j1); break;
    case 2: skinny_rows<2>(g, j0, j1); break;
    case 3: skinny_rows<3>(g, j0, j1); break;
    default: skinny_rows<4>(g, j0, j1); break;
  }
}

// Threads share nothing: each computes a band of C's columns (or, for a product too narrow to
// split that way, of its rows) with its own packed blocks. No barriers means one thread that the
// operating system delays does not stall the other, and every element of C is still summed in
// the same order, so the result is bit-identical whatever the thread count.
inline void gemm(const GemmArgs& g, float* workspace) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) {
    if (!g.accumulate && !g.c64) {
      for (std::int64_t i = 0; i < g.m; ++i)
        for (std::int64_t j = 0; j < g.n; ++j) g.c[i * g.ldc + j] = 0.0f;
    }
    return;
  }
  const int team = omp_in_parallel() ? 1 : omp_get_max_threads();
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  if (skinny(g)) {
    const std::int64_t units = ceil_div(g.n, Vec::width);
    if (team <= 1 || flops < 2.0e6 || units < 2) {
      skinny_product(g, 0, g.n);
      return;
    }
#pragma omp parallel num_threads(team)
    {
      const std::int64_t threads = omp_get_num_threads();
      const std::int64_t t = omp_get_thread_num();
      const std::int64_t j0 = imin(g.n, units * t / threads * Vec::width);
      const std::int64_t j1 = imin(g.n, units * (t + 1) / threads * Vec::width);
      if (j0 < j1) skinny_product(g, j0, j1);
    }
    return;
  }
  if (team <= 1 || flops < 2.0e6) {
    run_serial(g, workspace);
    return;
  }
  const std::int64_t col_units = ceil_div(g.n, kNR);
  const std::int64_t row_units = ceil_div(g.m, kMR);
  const bool by_columns = col_units >= 4 * team || col_units >= row_units;

#pragma omp parallel num_threads(team)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t t = omp_get_thread_num();
    float* ws = workspace + t * kThreadWorkspace;
    if (by_columns) {
      const std::int64_t j0 = imin(g.n, col_units * t / threads * kNR);
      const std::int64_t j1 = imin(g.n, col_units * (t + 1) / threads * kNR);
      if (j0 < j1) run_serial(sub_problem(g, 0, g.m, j0, j1), ws);
    } else {
      const std::int64_t i0 = imin(g.m, row_units * t / threads * kMR);
      const std::int64_t i1 = imin(g.m, row_units * (t + 1) / threads * kMR);
      if (i0 < i1) run_serial(sub_problem(g, i0, i1, 0, g.n), ws);
    }
  }
}
