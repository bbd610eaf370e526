// SGEMM throughput: our packed kernels against OpenBLAS's sgemm on the same shapes, in the same
// run, at 1 and 2 threads. Rows report GFLOP/s and % of the measured FMA peak.
// Full table (medians of 5): bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include "bench_common.h"
#include "shapes.h"

#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/kernels/kernels.h"

#include <fmt/core.h>

namespace {

using pn::bench::GemmShape;

struct Operands {
  pn::Tensor a, b, c;
  std::int64_t lda, ldb;
};

Operands make_operands(const GemmShape& s) {
  pn::Rng rng(42);
  Operands o{pn::Tensor(s.trans_a ? pn::Shape{s.k, s.m} : pn::Shape{s.m, s.k}),
             pn::Tensor(s.trans_b ? pn::Shape{s.n, s.k} : pn::Shape{s.k, s.n}), pn::Tensor::zeros(pn::Shape{s.m, s.n}),
             s.trans_a ? s.m : s.k, s.trans_b ? s.k : s.n};
  rng.fill_uniform(o.a.values(), -1.0f, 1.0f);
  rng.fill_uniform(o.b.values(), -1.0f, 1.0f);
  return o;
}

// Products of a few rows are bound by reading B: its bytes per second say how close to the memory
// bandwidth they run.
void report_b_bandwidth(benchmark::State& state, const GemmShape& s) {
  if (s.m > 4) return;
  state.counters["B_GB/s"] = benchmark::Counter(4.0 * static_cast<double>(s.n) * static_cast<double>(s.k) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void bench_ours(benchmark::State& state, GemmShape s, int threads) {
  pn::bench::set_threads(threads);
  Operands o = make_operands(s);
  const pn::kernels::GemmArgs args{s.trans_a, s.trans_b, s.m, s.n, s.k, o.a.data(), o.lda, o.b.data(), o.ldb,
                                   o.c.data(), s.n, s.accumulate};
  pn::kernels::gemm(args);  // warm-up: sizes the workspace, faults in the pages
  for (auto _ : state) {
    pn::kernels::gemm(args);
    benchmark::ClobberMemory();
  }
  pn::bench::report_flops(state, 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k),
                          threads);
  report_b_bandwidth(state, s);
  state.SetLabel(pn::kernels::active().name);
}

void bench_openblas(benchmark::State& state, GemmShape s, int threads) {
  pn::bench::set_threads(threads);
  Operands o = make_operands(s);
  const auto run = [&] {
    pn::bench::openblas_sgemm(s.trans_a, s.trans_b, s.m, s.n, s.k, o.a.data(), o.lda, o.b.data(), o.ldb, o.c.data(),
                              s.n, s.accumulate);
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  pn::bench::report_flops(state, 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k),
                          threads);
  report_b_bandwidth(state, s);
  state.SetLabel("openblas");
}

}  // namespace

int main(int argc, char** argv) {
  for (const GemmShape& s : pn::bench::gemm_shapes()) {
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark(fmt::format("gemm/{}/threads:{}/pn", s.name, threads).c_str(), bench_ours, s, threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      if (pn::bench::have_openblas()) {
        benchmark::RegisterBenchmark(fmt::format("gemm/{}/threads:{}/openblas", s.name, threads).c_str(),
                                     bench_openblas, s, threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("fma_peak_gflops_1_thread", fmt::format("{:.1f}", pn::bench::fma_peak_gflops(1)));
  benchmark::AddCustomContext("fma_peak_gflops_2_threads", fmt::format("{:.1f}", pn::bench::fma_peak_gflops(2)));
  benchmark::AddCustomContext("kernel_table", pn::kernels::active().name);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
