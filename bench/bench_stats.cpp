// Pattern statistics for one VGG-16-shaped conv layer (512 -> 512 channels at 28x28, 3x3, padding
// 1: D = 4608 patch values, 784 positions per image): our streaming statistics (one
// [y, m·y, m]ᵀ · col product per group of images for two-component, y ᵀ · col for linear, summed
// into double) against the same products done as im2col + OpenBLAS sgemm, in the same run, at 1
// and 2 threads. Rows report the time per image, GFLOP/s (2 · U · D · positions per image, U = 3O
// or O) and % of the FMA peak.
#include "bench_common.h"

#include "pn/core/rng.h"
#include "pn/explain/pattern_stats.h"
#include "pn/kernels/conv.h"
#include "pn/kernels/kernels.h"

#include <fmt/core.h>

#include <vector>

namespace {

struct StatsShape {
  const char* name;
  std::int64_t channels, size, batch;
};

void bench_ours(benchmark::State& state, StatsShape s, int threads, bool regimes, bool exact) {
  pn::bench::set_threads(threads);
  const auto g = pn::kernels::make_conv_geom(s.batch, s.channels, s.size, s.size, s.channels, 3, 3, 1, 1);
  pn::Rng rng(3);
  std::vector<float> x(static_cast<std::size_t>(g.batch * g.in_c * g.in_h * g.in_w));
  std::vector<float> z(static_cast<std::size_t>(g.batch * g.out_c * g.positions()));
  for (float& v : x) v = static_cast<float>(rng.uniform(0, 1));
  for (float& v : z) v = static_cast<float>(rng.normal());
  pn::explain::PatternStats stats(g.patch(), g.out_c, false, regimes);
  stats.set_exact(exact);
  stats.accumulate_conv(g, x.data(), z.data());  // warm-up: reference points, scratch
  for (auto _ : state) {
    stats.accumulate_conv(g, x.data(), z.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * (regimes ? 3.0 : 1.0) * static_cast<double>(g.out_c * g.patch() * g.positions() * g.batch);
  pn::bench::report_flops(state, flops, threads);
  // Seconds per image (Google Benchmark prints it with an SI prefix, e.g. 9.3m = 9.3 ms).
  state.counters["time_per_image"] =
      benchmark::Counter(static_cast<double>(g.batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void bench_openblas(benchmark::State& state, StatsShape s, int threads, bool regimes) {
  pn::bench::set_threads(threads);
  const auto g = pn::kernels::make_conv_geom(s.batch, s.channels, s.size, s.size, s.channels, 3, 3, 1, 1);
  const std::int64_t P = g.positions(), D = g.patch(), O = g.out_c, U = regimes ? 3 * O : O;
  pn::Rng rng(3);
  std::vector<float> x(static_cast<std::size_t>(g.batch * g.in_c * g.in_h * g.in_w));
  std::vector<float> u(static_cast<std::size_t>(U * P)), col(static_cast<std::size_t>(D * P)), c(static_cast<std::size_t>(U * D));
  for (float& v : x) v = static_cast<float>(rng.uniform(0, 1));
  for (float& v : u) v = static_cast<float>(rng.normal());
  const auto run = [&] {
    for (std::int64_t n = 0; n < g.batch; ++n) {
      pn::bench::im2col_for_openblas(g, x.data() + n * g.in_c * g.in_h * g.in_w, col.data());
      // C (U x D) += U (U x P) · colᵀ (P x D), the same product in float.
      pn::bench::openblas_sgemm(false, true, U, D, P, u.data(), P, col.data(), P, c.data(), D, true);
    }
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(U * D * P * g.batch);
  pn::bench::report_flops(state, flops, threads);
  // Seconds per image (Google Benchmark prints it with an SI prefix, e.g. 9.3m = 9.3 ms).
  state.counters["time_per_image"] =
      benchmark::Counter(static_cast<double>(g.batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// A dense layer's statistics (fc7 of VGG-16: 4096 -> 4096, a batch of 64 rows): the double
// path PatternStats::accumulate_rows takes against the float kernel's c64 mode on the same
// product (float runs added in double, the conv layers' fast path), to show what double costs.
void bench_dense(benchmark::State& state, int threads, bool float_runs) {
  pn::bench::set_threads(threads);
  const std::int64_t D = 4096, O = 4096, R = 64;
  pn::Rng rng(4);
  std::vector<float> x(static_cast<std::size_t>(R * D)), z(static_cast<std::size_t>(R * O)), u(static_cast<std::size_t>(3 * O * R));
  for (float& v : x) v = static_cast<float>(rng.uniform(0, 1));
  for (float& v : z) v = static_cast<float>(rng.normal());
  for (float& v : u) v = static_cast<float>(rng.normal());
  pn::explain::PatternStats stats(D, O, false, true);
  std::vector<double> c64(static_cast<std::size_t>(3 * O * D));
  const auto run = [&] {
    if (float_runs) {
      pn::kernels::GemmArgs cross{false, false, 3 * O, D, R, u.data(), R, x.data(), D, nullptr, D, true};
      cross.c64 = c64.data();
      pn::kernels::gemm(cross);
    } else {
      stats.accumulate_rows(x.data(), z.data(), R);
    }
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  pn::bench::report_flops(state, 2.0 * static_cast<double>(3 * O * D * R), threads);
}

}  // namespace

int main(int argc, char** argv) {
  const StatsShape shapes[] = {{"small_stats_16ch_12px", 16, 12, 2}, {"conv4_512ch_28px", 512, 28, 8}};
  for (const auto& s : shapes) {
    for (int threads : {1, 2}) {
      for (bool regimes : {true, false}) {
        const char* what = regimes ? "two_component" : "linear";
        benchmark::RegisterBenchmark(fmt::format("stats/{}/threads:{}/{}/pn", s.name, threads, what).c_str(), bench_ours, s, threads,
                                     regimes, false)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(fmt::format("stats/{}/threads:{}/{}/pn_exact", s.name, threads, what).c_str(), bench_ours, s,
                                     threads, regimes, true)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        if (pn::bench::have_openblas()) {
          benchmark::RegisterBenchmark(fmt::format("stats/{}/threads:{}/{}/openblas_im2col_sgemm", s.name, threads, what).c_str(),
                                       bench_openblas, s, threads, regimes)
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(fmt::format("stats_dense/fc7_4096_batch64/threads:{}/two_component/pn_double", threads).c_str(),
                                 bench_dense, threads, false)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(fmt::format("stats_dense/fc7_4096_batch64/threads:{}/two_component/float_runs", threads).c_str(),
                                 bench_dense, threads, true)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("fma_peak_gflops_2_threads", fmt::format("{:.1f}", pn::bench::fma_peak_gflops(2)));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
