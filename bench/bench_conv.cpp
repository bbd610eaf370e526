// The 13 convolutions of VGG-16 at 224x224, batch 1: forward, backward-data and backward-weight
// through our kernels, and the forward as im2col + OpenBLAS sgemm in the same run, at 1 and 2
// threads. Rows report GFLOP/s (2·O·D·positions per pass) and % of the measured FMA peak.
#include "bench_common.h"
#include "shapes.h"

#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/kernels/conv.h"

#include <fmt/core.h>

#include <vector>

namespace {

using pn::bench::ConvShape;

enum class Pass { forward, backward_data, backward_weight, openblas_forward };

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::backward_data: return "backward_data";
    case Pass::backward_weight: return "backward_weight";
    case Pass::openblas_forward: return "forward_openblas";
  }
  return "";
}

void bench_conv(benchmark::State& state, ConvShape s, Pass pass, int threads) {
  pn::bench::set_threads(threads);
  const auto g = pn::kernels::make_conv_geom(1, s.in_c, s.size, s.size, s.out_c, 3, 3, 1, 1);
  pn::Rng rng(7);
  pn::Tensor x(pn::Shape{1, s.in_c, s.size, s.size}), w(pn::Shape{s.out_c, s.in_c, 3, 3}), b(pn::Shape{s.out_c});
  pn::Tensor y(pn::Shape{1, s.out_c, g.out_h, g.out_w});
  rng.fill_uniform(x.values(), -1.0f, 1.0f);
  rng.fill_uniform(w.values(), -0.1f, 0.1f);
  rng.fill_uniform(b.values(), -0.1f, 0.1f);
  rng.fill_uniform(y.values(), -1.0f, 1.0f);
  pn::Tensor dx(x.shape()), dw(w.shape()), db(b.shape());
  std::vector<float> col(pass == Pass::openblas_forward ? static_cast<std::size_t>(g.patch() * g.positions()) : 0);
  const auto& t = pn::kernels::active();
  const auto run = [&] {
    switch (pass) {
      case Pass::forward: pn::kernels::conv2d_forward(t, g, x.data(), w.data(), b.data(), y.data()); break;
      case Pass::backward_data: pn::kernels::conv2d_backward_data(t, g, y.data(), w.data(), dx.data()); break;
      case Pass::backward_weight:
        pn::kernels::conv2d_backward_weight(t, g, x.data(), y.data(), dw.data(), db.data(), false);
        break;
      case Pass::openblas_forward:
        pn::bench::im2col_for_openblas(g, x.data(), col.data());
        pn::bench::openblas_sgemm(false, false, g.out_c, g.positions(), g.patch(), w.data(), g.patch(), col.data(),
                                  g.positions(), y.data(), g.positions(), false);
        t.bias_add(y.data(), b.data(), 1, g.out_c, g.positions());
        break;
    }
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  pn::bench::report_flops(state, 2.0 * static_cast<double>(g.out_c * g.patch() * g.positions()), threads);
}

}  // namespace

int main(int argc, char** argv) {
  for (const ConvShape& s : pn::bench::vgg16_conv_shapes()) {
    for (int threads : {1, 2}) {
      for (Pass p : {Pass::forward, Pass::backward_data, Pass::backward_weight, Pass::openblas_forward}) {
        if (p == Pass::openblas_forward && !pn::bench::have_openblas()) continue;
        benchmark::RegisterBenchmark(fmt::format("conv/{}/threads:{}/{}", s.name, threads, pass_name(p)).c_str(),
                                     bench_conv, s, p, threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("fma_peak_gflops_1_thread", fmt::format("{:.1f}", pn::bench::fma_peak_gflops(1)));
  benchmark::AddCustomContext("fma_peak_gflops_2_threads", fmt::format("{:.1f}", pn::bench::fma_peak_gflops(2)));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
