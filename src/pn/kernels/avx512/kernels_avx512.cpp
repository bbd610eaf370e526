// The AVX512 kernel table: the templates of simd/ instantiated with the AVX512 vector type.
// This is the only translation unit compiled with the AVX512 flags (see cmake/PnCompilerFlags.cmake);
// it includes no standard header after the ISA flags could leak into an inline function.
#include "pn/kernels/kernels.h"
#include "pn/kernels/simd/vec_avx512.h"

#include <omp.h>

#include <cstdint>

namespace pn::kernels::avx512 {

// Micro-tile 12 x 2 vectors (12 x 32 floats): 24 of the 32 registers accumulate, 2 hold the
// B row, one the broadcast. The kKC x kNR B micro-panel must stay in L1 (32 KB on Zen 4, 48 KB on
// Intel), hence the short kKC = 160 (20 KB); the kMC x kKC A block (300 KB) lives in L2 and the
// B block in L3. (Not measured on an AVX-512 machine yet; see bench/README.md.)
constexpr int kMR = 12;
constexpr int kNV = 2;
constexpr std::int64_t kKC = 160;
constexpr std::int64_t kMC = 480;   // a multiple of kMR
constexpr std::int64_t kNC = 3072;  // a multiple of kNR

#include "pn/kernels/simd/gemm.inl"
#include "pn/kernels/simd/elementwise.inl"
#include "pn/kernels/simd/pool.inl"
#include "pn/kernels/simd/dgemm.inl"
#include "pn/kernels/simd/winograd.inl"

static_assert(kMC % kMR == 0 && kNC % kNR == 0, "blocking must be a multiple of the micro-tile");

}  // namespace pn::kernels::avx512

namespace pn::kernels {

const KernelTable& avx512_table() {
  static const KernelTable table{
      Isa::avx512,
      "avx512",
      avx512::gemm_workspace,
      avx512::gemm,
      avx512::relu_forward,
      avx512::relu_backward,
      avx512::bias_add,
      avx512::channel_sums,
      avx512::maxpool_forward,
      avx512::maxpool_backward,
      avx512::avgpool_forward,
      avx512::avgpool_backward,
      avx512::dgemm_acc,
      avx512::winograd_input,
      avx512::winograd_output,
  };
  return table;
}

}  // namespace pn::kernels
