// `patternnet selfcheck`: which instruction sets this CPU has, which kernel table runs, whether
// it agrees with the scalar reference on an awkward GEMM, and how fast a 1024³ SGEMM goes.
#include "cli/commands.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/kernels/kernels.h"
#include "pn/ops/ops.h"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace pn::cli {
namespace {

struct SelfcheckOptions {
  std::int64_t size = 1024;
  int repeat = 5;
};

int run_selfcheck(const SelfcheckOptions& opt) {
  using kernels::Isa;
  fmt::print("instruction sets:");
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    fmt::print(" {}={}", kernels::isa_name(isa), kernels::isa_supported(isa) ? "yes" : "no");
  }
  const auto& table = kernels::active();
  fmt::print("\nactive kernel table: {}   OpenMP threads: {}\n", table.name, omp_get_max_threads());

  // Correctness: an odd-sized product in all orientations against the scalar reference.
  Rng rng(20180214);
  double worst = 0.0;
  for (int orient = 0; orient < 4; ++orient) {
    const bool ta = orient & 1, tb = orient & 2;
    const std::int64_t m = 133, n = 71, k = 257;
    Tensor a(ta ? Shape{k, m} : Shape{m, k});
    Tensor b(tb ? Shape{n, k} : Shape{k, n});
    rng.fill_uniform(a.values(), -1.0f, 1.0f);
    rng.fill_uniform(b.values(), -1.0f, 1.0f);
    const Tensor c = ops::matmul(a, b, ta, tb, table);
    const Tensor r = ops::matmul(a, b, ta, tb, kernels::scalar_table());
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(c[i] - r[i])) / static_cast<double>(k));
    }
  }
  const bool ok = worst < 1e-6;
  fmt::print("gemm vs scalar reference (133x71x257, 4 orientations): max |diff|/K = {:.2e}  {}\n", worst,
             ok ? "ok" : "MISMATCH");

  // Speed: best of a few runs of an n³ product.
  const std::int64_t n = opt.size;
  Tensor a(Shape{n, n}), b(Shape{n, n}), c(Shape{n, n});
  rng.fill_uniform(a.values(), -1.0f, 1.0f);
  rng.fill_uniform(b.values(), -1.0f, 1.0f);
  ops::matmul_into(a, b, false, false, c, false, table);  // warm-up, sizes the workspace
  double best = 1e30;
  for (int r = 0; r < opt.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ops::matmul_into(a, b, false, false, c, false, table);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  const double gflops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best * 1e-9;
  fmt::print("sgemm {}x{}x{} ({}): {:.1f} GFLOP/s (best of {}, {:.1f} ms)\n", n, n, n, table.name, gflops, opt.repeat,
             best * 1e3);
  return ok ? 0 : 1;
}

}  // namespace

Runner add_selfcheck(CLI::App& app) {
  auto opt = std::make_shared<SelfcheckOptions>();
  auto* sub = app.add_subcommand("selfcheck", "Check the kernels against the scalar reference and time SGEMM");
  sub->add_option("--size", opt->size, "Matrix size of the timed SGEMM")->check(CLI::Range(16, 8192));
  sub->add_option("--repeat", opt->repeat, "Timed repetitions")->check(CLI::Range(1, 100));
  return [opt] { return run_selfcheck(*opt); };
}

}  // namespace pn::cli
