// The kernel layer: pointer + size functions for the hot loops, one table per instruction set.
// Chapter 1 (tensors and kernels) and chapter 10 (fast kernels). Every entry has a readable scalar
// reference (scalar/) and SIMD versions (avx2/, avx512/) built from the same templates in simd/;
// dispatch.cpp picks one table at run time. Signatures carry no vector types, kernels never
// allocate and never throw: shape checks belong to the callers (pn/ops).
#pragma once

#include <cstdint>

namespace pn::kernels {

enum class Isa { scalar, avx2, avx512 };

// C = op(A) op(B)  (+ C when accumulate), all row-major.
// op(A) is M x K: A itself (stored M x K, leading dimension lda) or, with trans_a, the transpose
// of A stored K x M. op(B) is K x N in the same way. C is M x N with leading dimension ldc.
// The three orientations of a layer: forward C = A Bᵀ (x Wᵀ), backward-data C = A B (dy W),
// backward-weight C = Aᵀ B (dyᵀ x).
struct GemmArgs {
  bool trans_a = false;
  bool trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0;
  float* c = nullptr;
  std::int64_t ldc = 0;
  bool accumulate = false;
  // When set, op(A) op(B) is ADDED into this double matrix (leading dimension ldc) instead of
  // written to c: products are summed in float32 over runs of at most kF64Run steps of k, and each
  // run's sum is added in double. This is the conv layers' pattern statistics kernel: float speed,
  // with the rounding of a run of 64 products instead of a run over the whole data set.
  double* c64 = nullptr;
};

// The run length trades accuracy (the relative error is about 2^-24 · r / sqrt(3N) over N rows)
// against the flushes into double: on a conv4-sized layer runs of 64 cost 7% of the speed of runs
// of 128 and halve the error; runs of 32 cost 20% (bench/README.md, "Pattern statistics").
inline constexpr std::int64_t kF64Run = 64;

// C += op(A) · B in double: op(A) is M x K (A stored M x K, or K x M with trans_a), B is K x N,
// C is M x N, all row-major with the given leading dimensions. Every product and sum is in
// double. The dense layers' pattern statistics use it on centred inputs kept in double, which
// the float kernel's c64 mode cannot take (PatternStats::accumulate_rows).
struct DgemmArgs {
  bool trans_a = false;
  std::int64_t m = 0, n = 0, k = 0;
  const double* a = nullptr;
  std::int64_t lda = 0;
  const double* b = nullptr;
  std::int64_t ldb = 0;
  double* c = nullptr;
  std::int64_t ldc = 0;
};

// Pooling over planes (N*C of them) of size h x w with a square window, no padding.
// out_h = (h - kernel) / stride + 1 (floor), likewise out_w.
struct PoolGeom {
  std::int64_t planes = 0, h = 0, w = 0;
  std::int64_t kernel = 0, stride = 0;
  std::int64_t out_h = 0, out_w = 0;
};

struct KernelTable {
  Isa isa;
  const char* name;

  // Floats of scratch space gemm() needs for a call with the given number of threads.
  std::int64_t (*gemm_workspace)(int threads);
  // OpenMP-parallel over the calling team's threads; deterministic for a given thread count.
  void (*gemm)(const GemmArgs& args, float* workspace);

  // y[i] = max(x[i], 0). y may alias x.
  void (*relu_forward)(const float* x, float* y, std::int64_t n);
  // dx[i] = gate[i] > 0 ? dy[i] : 0 (the gate is the pre-activation). dx may alias dy.
  void (*relu_backward)(const float* dy, const float* gate, float* dx, std::int64_t n);
  // x[(o*channels + c)*inner + i] += bias[c]: a dense layer has inner = 1, a conv layer inner = H*W.
  void (*bias_add)(float* x, const float* bias, std::int64_t outer, std::int64_t channels, std::int64_t inner);
  // out[c] (+)= sum over o and i of x[(o*channels + c)*inner + i]: column sums (inner = 1) and the
  // per-channel sums of a conv bias gradient.
  void (*channel_sums)(const float* x, float* out, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                       bool accumulate);

  // y = window maxima; argmax[o] = flat index (row*w + col) inside the plane of the first maximum
  // in row-major window order, so ties resolve identically in every table.
  void (*maxpool_forward)(const PoolGeom& g, const float* x, float* y, std::int32_t* argmax);
  // dx = 0, then dx[argmax] += dy for every output (overlapping windows accumulate).
  void (*maxpool_backward)(const PoolGeom& g, const float* dy, const std::int32_t* argmax, float* dx);
  // y = window mean.
  void (*avgpool_forward)(const PoolGeom& g, const float* x, float* y);
  // dx = 0, then every input of a window receives dy / kernel².
  void (*avgpool_backward)(const PoolGeom& g, const float* dy, float* dx);

  // C += op(A) · B in double (DgemmArgs). OpenMP-parallel; deterministic for any thread count.
  void (*dgemm_acc)(const DgemmArgs& args);

  // Winograd F(2x2, 3x3) transforms of one row of `tiles` tiles (winograd.h/.cpp have the math).
  // Input: e[r] and o[r], r = 0..3, hold the even and odd columns (tiles + 1 values each) of the
  // tile row's four zero-padded input rows, so tile t covers e[r][t], o[r][t], e[r][t+1],
  // o[r][t+1]; (Bᵀ d B)_ξ of tile t is written to v[ξ * v_stride + t], ξ = 0..15.
  void (*winograd_input)(const float* const* e, const float* const* o, std::int64_t tiles, float* v,
                         std::int64_t v_stride);
  // Output: M_ξ of tile t is read from m[ξ * m_stride + t]; (Aᵀ M A)[a][b] of tile t is written to
  // y00, y01, y10, y11 [t] for (a, b) = (0,0), (0,1), (1,0), (1,1).
  void (*winograd_output)(const float* m, std::int64_t m_stride, std::int64_t tiles, float* y00, float* y01, float* y10,
                          float* y11);
};

// The tables compiled into this binary. table_for() throws pn::Error when the CPU lacks the
// instruction set or the build left it out (PN_SIMD=OFF).
const KernelTable& scalar_table();
const KernelTable& table_for(Isa isa);
bool isa_supported(Isa isa);  // built in and supported by this CPU and OS
const char* isa_name(Isa isa);

// The table chosen once per process: PN_ISA=scalar|avx2|avx512 when set (a misspelled or
// unsupported value is a pn::Error), otherwise the best supported one.
const KernelTable& active();

// C = op(A) op(B) (+C) through the active table with a per-thread cached workspace.
void gemm(const GemmArgs& args);
void gemm(const KernelTable& table, const GemmArgs& args);
// C += op(A) · B in double through the active table.
void dgemm_acc(const DgemmArgs& args);

}  // namespace pn::kernels
