// The AVX512 kernel table: the templates of simd/ instantiated with the AVX512 vector type.
// This is the only translation unit compiled with the AVX512 flags (see cmake/PnCompilerFlags.cmake);
// it includes no standard header after the ISA flags could leak into an inline function.
#include "pn/kernels/kernels.h"
#include "pn/kernels/simd/vec_avx512.h"

#include <omp.h>

#include <cstdint>

namespace pn::kernels::avx512 {

// Micro-tile 12 x 2 vectors: 24 accumulator registers plus 2 for the B row and one
// broadcast. Blocking: the kKC x kNR B micro-panel and kMR x kKC A micro-panel fit L1, the
// kMC x kKC A block fits L2, the kKC x kNC B block fits L3.
constexpr int kMR = 12;
constexpr int kNV = 2;
constexpr std::int64_t kKC = 384;
constexpr std::int64_t kMC = 240;  // a multiple of kMR
constexpr std::int64_t kNC = 3072;  // a multiple of kNR

#include "pn/kernels/simd/gemm.inl"
#include "pn/kernels/simd/elementwise.inl"
#include "pn/kernels/simd/pool.inl"

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
  };
  return table;
}

}  // namespace pn::kernels
