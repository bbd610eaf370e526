// Shared pieces of the benchmark suites: the machine's measured fp32 FMA peak, thread control for
// both our OpenMP kernels and OpenBLAS, and the counters every row reports.
#pragma once

#include "pn/kernels/conv.h"

#include <benchmark/benchmark.h>

#include <cstdint>

namespace pn::bench {

// Measured fp32 FMA peak in GFLOP/s with the given number of threads (cached per thread count):
// independent FMA chains on the widest vector unit the CPU has, timed for about 0.2 s.
double fma_peak_gflops(int threads);

void set_threads(int threads);  // OpenMP and, when linked, OpenBLAS

bool have_openblas();
// im2col for the OpenBLAS reference rows, on one OpenMP thread. A parallel im2col leaves GOMP's
// workers spinning (OMP_WAIT_POLICY active) while OpenBLAS's own pthreads start the sgemm right
// after it, and they take a core from OpenBLAS: conv4_2's im2col + OpenBLAS forward measured
// 44.5 ms that way against 20.8 ms with OMP_WAIT_POLICY=passive.
void im2col_for_openblas(const pn::kernels::ConvGeom& g, const float* x, float* col, std::int64_t ld = 0);
// C = op(A) op(B) (+ C when accumulate) with OpenBLAS's cblas_sgemm (row-major).
void openblas_sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                    std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate);

// Sets GFLOP/s and % of the measured peak on a benchmark row from the wall time it took.
void report_flops(benchmark::State& state, double flops_per_iteration, int threads);

}  // namespace pn::bench
