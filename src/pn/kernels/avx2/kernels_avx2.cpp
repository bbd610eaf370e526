// The AVX2 kernel table: the templates of simd/ instantiated with the AVX2 vector type.
// This is the only translation unit compiled with the AVX2 flags (see cmake/PnCompilerFlags.cmake);
// it includes no standard header after the ISA flags could leak into an inline function.
#include "pn/kernels/kernels.h"
#include "pn/kernels/simd/vec_avx2.h"

#include <omp.h>

#include <cstdint>

namespace pn::kernels::avx2 {

// Micro-tile 6 x 2 vectors: 12 accumulator registers plus 2 for the B row and one
// broadcast. Blocking: the kKC x kNR B micro-panel and kMR x kKC A micro-panel fit L1, the
// kMC x kKC A block fits L2, the kKC x kNC B block fits L3.
constexpr int kMR = 6;
constexpr int kNV = 2;
constexpr std::int64_t kKC = 256;
constexpr std::int64_t kMC = 168;  // a multiple of kMR
constexpr std::int64_t kNC = 4080;  // a multiple of kNR

#include "pn/kernels/simd/gemm.inl"
#include "pn/kernels/simd/elementwise.inl"
#include "pn/kernels/simd/pool.inl"

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
  };
  return table;
}

}  // namespace pn::kernels
