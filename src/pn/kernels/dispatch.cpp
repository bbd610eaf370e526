// Chooses the kernel table once per process, and runs GEMM with a cached per-thread workspace.
// The choice: PN_ISA when set (scalar, avx2 or avx512; anything else is an error, as is an
// instruction set this CPU or build lacks), else the widest supported instruction set.
#include "pn/core/aligned_buffer.h"
#include "pn/core/error.h"
#include "pn/kernels/kernels.h"

#include <omp.h>

#include <cstdlib>
#include <string_view>

namespace pn::kernels {

#ifdef PN_HAVE_SIMD
const KernelTable& avx2_table();
const KernelTable& avx512_table();
#endif

namespace {

bool cpu_has(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::scalar;
#endif
}

bool built(Isa isa) {
#ifdef PN_HAVE_SIMD
  (void)isa;
  return true;
#else
  return isa == Isa::scalar;
#endif
}

const KernelTable& choose() {
  const char* env = std::getenv("PN_ISA");
  if (env != nullptr && *env != '\0') {
    const std::string_view want(env);
    for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
      if (want != isa_name(isa)) continue;
      try {
        return table_for(isa);
      } catch (const Error& e) {
        throw Error("PN_ISA={} cannot be honoured: {}; unset PN_ISA to choose automatically", want, e.what());
      }
    }
    throw Error("PN_ISA='{}' is not an instruction set patternnet knows; use one of scalar, avx2, avx512", want);
  }
  for (Isa isa : {Isa::avx512, Isa::avx2}) {
    if (isa_supported(isa)) return table_for(isa);
  }
  return scalar_table();
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) { return built(isa) && cpu_has(isa); }

const KernelTable& table_for(Isa isa) {
  if (!built(isa)) {
    throw Error("instruction set {} was not built into this binary (configured with PN_SIMD=OFF)", isa_name(isa));
  }
  if (!cpu_has(isa)) {
    throw Error("instruction set {} is not supported by this CPU", isa_name(isa));
  }
  switch (isa) {
    case Isa::scalar: return scalar_table();
#ifdef PN_HAVE_SIMD
    case Isa::avx2: return avx2_table();
    case Isa::avx512: return avx512_table();
#else
    default: break;
#endif
  }
  return scalar_table();
}

const KernelTable& active() {
  // A function-local static is initialised once; if choose() throws (bad PN_ISA), the next call
  // tries again and throws the same error, so every caller sees it.
  static const KernelTable& table = choose();
  return table;
}

void gemm(const KernelTable& table, const GemmArgs& args) {
  thread_local AlignedBuffer workspace;
  const std::int64_t need = table.gemm_workspace(omp_in_parallel() ? 1 : omp_get_max_threads());
  if (workspace.size() < need) workspace = AlignedBuffer(need);
  table.gemm(args, workspace.data());
}

void gemm(const GemmArgs& args) { gemm(active(), args); }

void dgemm_acc(const DgemmArgs& args) { active().dgemm_acc(args); }

}  // namespace pn::kernels
