#include "bench_common.h"

#include "pn/kernels/kernels.h"

#include <omp.h>

#include <chrono>
#include <map>

#ifdef PN_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace pn::bench {

#ifdef PN_HAVE_SIMD
float fma_loop_avx2(std::int64_t iterations);
#endif

namespace {

// Portable fallback: the compiler's baseline vector width (SSE2 on x86-64), so without AVX2 the
// peak reported is what the scalar build can reach.
float fma_loop_portable(std::int64_t iterations) {
  float acc[48];
  for (int i = 0; i < 48; ++i) acc[i] = static_cast<float>(i) * 1e-3f;
  for (std::int64_t it = 0; it < iterations; ++it)
    for (float& v : acc) v = v * 0.999999f + 1e-7f;
  float s = 0.0f;
  for (float v : acc) s += v;
  return s;
}

double run_peak(int threads) {
#ifdef PN_HAVE_SIMD
  const bool avx2 = kernels::isa_supported(kernels::Isa::avx2);
#else
  const bool avx2 = false;
#endif
  const double flops_per_iteration = avx2 ? 12.0 * 8.0 * 2.0 : 48.0 * 2.0;
  const auto loop = [&](std::int64_t iterations) {
#ifdef PN_HAVE_SIMD
    if (avx2) return fma_loop_avx2(iterations);
#endif
    return fma_loop_portable(iterations);
  };
  std::int64_t iterations = 1 << 20;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      float r = loop(iterations);
      benchmark::DoNotOptimize(r);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0.2) return flops_per_iteration * static_cast<double>(iterations) * threads / s * 1e-9;
    iterations *= 2;
  }
}

}  // namespace

double fma_peak_gflops(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, run_peak(threads)).first;
  return it->second;
}

void set_threads(int threads) {
  omp_set_num_threads(threads);
#ifdef PN_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
}

void im2col_for_openblas(const pn::kernels::ConvGeom& g, const float* x, float* col, std::int64_t ld) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  pn::kernels::im2col(g, x, 0, g.out_h, col, ld);
  omp_set_num_threads(threads);
}

bool have_openblas() {
#ifdef PN_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

void openblas_sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                    std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
#ifdef PN_HAVE_OPENBLAS
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), accumulate ? 1.0f : 0.0f, c,
              static_cast<blasint>(ldc));
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc,
      (void)accumulate;
#endif
}

void report_flops(benchmark::State& state, double flops_per_iteration, int threads) {
  const double gflops_rate = flops_per_iteration * 1e-9;
  state.counters["GFLOPS"] = benchmark::Counter(gflops_rate, benchmark::Counter::kIsIterationInvariantRate);
  // % of peak needs the rate too; Google Benchmark computes rates from the reported time, so
  // this counter is the same rate scaled by 100 / peak.
  state.counters["pct_peak"] = benchmark::Counter(gflops_rate * 100.0 / fma_peak_gflops(threads),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}

}  // namespace pn::bench
