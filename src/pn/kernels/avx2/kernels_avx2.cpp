// The AVX2 kernel table: the templates of simd/ instantiated with the AVX2 vector type.
// This is the only translation unit compiled with the AVX2 flags (see cmake/PnCompilerFlags.cmake);
// it includes no standard header after the ISA flags could leak into an inline function.
#include "pn/kernels/kernels.h"
#include "pn/kernels/simd/vec_avx2.h"

#include <omp.h>

#include <cstdint>

namespace pn::kernels::avx2 {

// Micro-tile 4 x 3 vectors (4 x 24 floats): 12 accumulator registers, 3 for the B row and one
// broadcast, 16 in all. Per step of k it issues 7 loads for 12 FMAs; the 6 x 16 tile (8 loads)
// measured about 9% slower on Zen 3 (bench/README.md). Blocking: the kKC x kNR B micro-panel
// (24 KB) stays in L1 while kMR x kKC A micro-panels stream from the kMC x kKC A block in L2;
// the kKC x kNC B block lives in L3.
constexpr int kMR = 4;
constexpr int kNV = 3;
constexpr std::int64_t kKC = 256;
constexpr std::int64_t kMC = 192;   // a multiple of kMR
constexpr std::int64_t kNC = 4080;  // a multiple of kNR

#include "pn/kernels/simd/gemm.inl"
#include "pn/kernels/simd/elementwise.inl"
#include "pn/kernels/simd/pool.inl"
#include "pn/kernels/simd/dgemm.inl"
#include "pn/kernels/simd/winograd.inl"

static_assert(kMC % kMR == 0 && kNC % kNR == 0, "blocking must be a multiple of the micro-tile");

}  // namespace pn::kernels::avx2

namespace pn::kernels {

const KernelTable& avx2_table() {
  static const KernelTable table{
      Isa::avx2,
      "avx2",
      avx2::gemm_workspace,
      avx2::gemm,
      avx2::relu_forward,
      avx2::relu_backward,
      avx2::bias_add,
      avx2::channel_sums,
      avx2::maxpool_forward,
      avx2::maxpool_backward,
      avx2::avgpool_forward,
      avx2::avgpool_backward,
      avx2::dgemm_acc,
      avx2::winograd_input,
      avx2::winograd_output,
  };
  return table;
}

}  // namespace pn::kernels
