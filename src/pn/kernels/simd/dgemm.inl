// Double-precision C += op(A) · B (DgemmArgs, kernels.h) written against the VecD interface.
// Included inside an ISA namespace by one translation unit per instruction set; nothing here may
// include a standard header (see gemm.inl).
//
// This is the dense layers' statistics product: the centred inputs stay in double (rounding them
// to float is what limits the float kernel's c64 mode to about 1e-9), every product of two values
// that came from floats is exact in double, and the sums carry 53 bits.
//
// Blocking as in the float kernel, simplified: K is cut into kDKC slices and the columns into
// kDNC-wide blocks; each (slice, block) of B is packed panel by panel (kDKC x kDNR doubles each,
// 240 KB in all, L2-resident) and every 4-row band of op(A) streams past it, its C rows walked
// left to right. Without packing, each step of k read B from a new row kDNC+ doubles away: with a
// 4096-wide B that is a new page per step, and the TLB misses cost 5x (bench_stats, dense rows).
// Micro-tile: kDMR rows x kDNV vectors of C in registers (12 accumulators). Every element of C
// sums its products in k order within a slice and adds each slice's sum into C in slice order,
// whichever thread computes it: the result does not depend on the thread count.

constexpr int kDMR = 4;
constexpr int kDNV = 3;
constexpr std::int64_t kDNR = kDNV * VecD::width;
constexpr std::int64_t kDKC = 128;
constexpr std::int64_t kDNC = 240;  // a multiple of kDNR for both tiles (12 and 24)
static_assert(kDNC % kDNR == 0, "column blocks hold whole panels");

inline std::int64_t dmin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

inline const double* a_at(const DgemmArgs& g, std::int64_t i, std::int64_t p) {
  return g.trans_a ? g.a + p * g.lda + i : g.a + i * g.lda + p;
}

// Rows i0 .. i0+M against one packed panel (kc steps of kDNR doubles); C at column j0.
template <int M>
inline void dgemm_tile(const DgemmArgs& g, std::int64_t i0, std::int64_t j0, std::int64_t k0, std::int64_t kc,
                       const double* __restrict panel) {
  constexpr int W = VecD::width;
  VecD acc[M][kDNV];
#pragma GCC unroll 4
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < kDNV; ++v) acc[i][v] = VecD::zero();
  const double* arow[M];
#pragma GCC unroll 4
  for (int i = 0; i < M; ++i) arow[i] = a_at(g, i0 + i, k0);
  const std::int64_t astep = g.trans_a ? g.lda : 1;
  for (std::int64_t p = 0; p < kc; ++p) {
    const double* brow = panel + p * kDNR;
    VecD b[kDNV];
#pragma GCC unroll 3
    for (int v = 0; v < kDNV; ++v) b[v] = VecD::loadu(brow + v * W);
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      const VecD a = VecD::broadcast(arow[i] + p * astep);
#pragma GCC unroll 3
      for (int v = 0; v < kDNV; ++v) acc[i][v] = VecD::fma(a, b[v], acc[i][v]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < M; ++i) {
    double* crow = g.c + (i0 + i) * g.ldc + j0;
#pragma GCC unroll 3
    for (int v = 0; v < kDNV; ++v) (VecD::loadu(crow + v * W) + acc[i][v]).storeu(crow + v * W);
  }
}

// The columns past the last full panel: one fused multiply-add chain per element, the same
// arithmetic as a vector lane.
inline void dgemm_tail(const DgemmArgs& g, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t k0,
                       std::int64_t kc) {
  for (std::int64_t i = i0; i < i1; ++i) {
    for (std::int64_t j = j0; j < g.n; ++j) {
      double s = 0.0;
      for (std::int64_t p = k0; p < k0 + kc; ++p) s = __builtin_fma(*a_at(g, i, p), g.b[p * g.ldb + j], s);
      g.c[i * g.ldc + j] += s;
    }
  }
}

// Rows [i0, i1) and columns [j0, j1) of C; j0 is a multiple of kDNR, j1 is one or g.n.
inline void dgemm_band(const DgemmArgs& g, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
  alignas(64) static thread_local double bpack[kDKC * kDNC];
  const std::int64_t full_end = g.n / kDNR * kDNR;  // columns past it are the tail
  for (std::int64_t k0 = 0; k0 < g.k; k0 += kDKC) {
    const std::int64_t kc = dmin(kDKC, g.k - k0);
    for (std::int64_t jc = j0; jc < dmin(j1, full_end); jc += kDNC) {
      const std::int64_t nc = dmin(kDNC, dmin(j1, full_end) - jc);  // whole panels
      for (std::int64_t q = 0; q < nc / kDNR; ++q) {
        double* dst = bpack + q * kc * kDNR;
        for (std::int64_t p = 0; p < kc; ++p) {
          const double* src = g.b + (k0 + p) * g.ldb + jc + q * kDNR;
#pragma GCC unroll 8
          for (std::int64_t j = 0; j < kDNR; ++j) dst[p * kDNR + j] = src[j];
        }
      }
      std::int64_t i = i0;
      for (; i + kDMR <= i1; i += kDMR)
        for (std::int64_t q = 0; q < nc / kDNR; ++q) dgemm_tile<kDMR>(g, i, jc + q * kDNR, k0, kc, bpack + q * kc * kDNR);
      for (std::int64_t q = 0; q < nc / kDNR; ++q) {
        const double* panel = bpack + q * kc * kDNR;
        switch (i1 - i) {
          case 1: dgemm_tile<1>(g, i, jc + q * kDNR, k0, kc, panel); break;
          case 2: dgemm_tile<2>(g, i, jc + q * kDNR, k0, kc, panel); break;
          case 3: dgemm_tile<3>(g, i, jc + q * kDNR, k0, kc, panel); break;
          default: break;
        }
      }
    }
    if (j1 > full_end) dgemm_tail(g, i0, i1, full_end, k0, kc);
  }
}

inline void dgemm_acc(const DgemmArgs& g) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return;
  const std::int64_t panels = (g.n + kDNR - 1) / kDNR;  // the last one may be the tail
  const std::int64_t row_units = (g.m + kDMR - 1) / kDMR;
  const int team = omp_in_parallel() ? 1 : omp_get_max_threads();
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  if (team <= 1 || flops < 1.0e6) {
    dgemm_band(g, 0, g.m, 0, g.n);
    return;
  }
  // Bands of rows when there are enough of them, else bands of panels: threads share nothing.
  const bool by_rows = row_units >= 2 * team || row_units >= panels;
#pragma omp parallel num_threads(team)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t t = omp_get_thread_num();
    if (by_rows) {
      const std::int64_t i0 = dmin(g.m, row_units * t / threads * kDMR);
      const std::int64_t i1 = dmin(g.m, row_units * (t + 1) / threads * kDMR);
      if (i0 < i1) dgemm_band(g, i0, i1, 0, g.n);
    } else {
      const std::int64_t j0 = dmin(g.n, panels * t / threads * kDNR);
      const std::int64_t j1 = dmin(g.n, panels * (t + 1) / threads * kDNR);
      if (j0 < j1) dgemm_band(g, 0, g.m, j0, j1);
    }
  }
}
