// GEMM: every kernel table against the scalar table and the float64 oracle, in all four
// orientations, with and without accumulation, padded leading dimensions and tail-stressing sizes;
// degenerate sizes; determinism.
#include "oracle/oracle.h"
#include "pn/core/tensor.h"
#include "pn/kernels/kernels.h"
#include "pn/ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <limits>
#include <vector>

namespace {

using namespace pntest;
using pn::kernels::GemmArgs;

constexpr float kSentinel = -7777.25f;  // C padding: must survive every call untouched
const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct GemmCase {
  bool ta = false, tb = false;
  std::int64_t m = 0, n = 0, k = 0;
  bool accumulate = false;
  std::int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // leading dimension minus its minimum
};

std::string describe(const GemmCase& c) {
  std::ostringstream s;
  s << "m=" << c.m << " n=" << c.n << " k=" << c.k << " trans_a=" << c.ta << " trans_b=" << c.tb
    << " accumulate=" << c.accumulate << " pads=" << c.pad_a << "/" << c.pad_b << "/" << c.pad_c;
  return s.str();
}

// The operands of one case. Padding of A and B holds NaN, so a kernel that reads outside the
// logical matrix poisons its result; padding of C holds a sentinel that must not change. Without
// accumulate, C starts as NaN, so a kernel that reads C when it should not is caught too.
struct GemmData {
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::vector<float> a, b, c0;

  GemmData(const GemmCase& g, std::uint64_t seed) {
    const std::int64_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
    const std::int64_t b_rows = g.tb ? g.n : g.k, b_cols = g.tb ? g.k : g.n;
    lda = a_cols + g.pad_a;
    ldb = b_cols + g.pad_b;
    ldc = g.n + g.pad_c;
    a = padded(a_rows, a_cols, lda, seed, kNaN);
    b = padded(b_rows, b_cols, ldb, seed + 1, kNaN);
    c0 = padded(g.m, g.n, ldc, seed + 2, kSentinel);
    if (!g.accumulate) {
      for (std::int64_t i = 0; i < g.m; ++i)
        for (std::int64_t j = 0; j < g.n; ++j) c0[static_cast<std::size_t>(i * ldc + j)] = kNaN;
    }
  }

  static std::vector<float> padded(std::int64_t rows, std::int64_t cols, std::int64_t ld, std::uint64_t seed,
                                   float pad_value) {
    std::vector<float> v(static_cast<std::size_t>(rows * ld), pad_value);
    TestRng rng(seed);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) v[static_cast<std::size_t>(r * ld + c)] = rng.uniform(-1.0f, 1.0f);
    return v;
  }

  GemmArgs args(const GemmCase& g, float* c) const {
    return GemmArgs{g.ta, g.tb, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, c, ldc, g.accumulate};
  }
};

// Packs the m x n region of a padded C into a dense array.
std::vector<float> region(const std::vector<float>& c, std::int64_t m, std::int64_t n, std::int64_t ldc) {
  std::vector<float> r(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) r[static_cast<std::size_t>(i * n + j)] = c[static_cast<std::size_t>(i * ldc + j)];
  return r;
}

::testing::AssertionResult padding_untouched(const std::vector<float>& c, std::int64_t m, std::int64_t n,
                                             std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = n; j < ldc; ++j) {
      if (!same_bits(c[static_cast<std::size_t>(i * ldc + j)], kSentinel)) {
        return ::testing::AssertionFailure() << "C padding at row " << i << " column " << j << " was overwritten";
      }
    }
  return ::testing::AssertionSuccess();
}

// Runs one case on `t` and checks it against the oracle and, for a SIMD table, the scalar table.
void check_case(const KernelTable& t, const GemmCase& g, std::uint64_t seed) {
  SCOPED_TRACE(describe(g));
  const GemmData d(g, seed);

  std::vector<float> c = d.c0;
  pn::kernels::gemm(t, d.args(g, c.data()));

  // float64 reference and the same product over absolute values (the error scale).
  const std::int64_t mn = g.m * g.n;
  std::vector<double> ref(static_cast<std::size_t>(mn), 0.0), absref(static_cast<std::size_t>(mn), 0.0);
  const std::vector<double> ad = to_double(d.a), bd = to_double(d.b);
  const std::vector<double> aa = abs_double(d.a), ba = abs_double(d.b);
  oracle::gemm(g.ta, g.tb, g.m, g.n, g.k, ad.data(), d.lda, bd.data(), d.ldb, ref.data(), g.n, false);
  oracle::gemm(g.ta, g.tb, g.m, g.n, g.k, aa.data(), d.lda, ba.data(), d.ldb, absref.data(), g.n, false);
  if (g.accumulate) {
    const std::vector<float> c0 = region(d.c0, g.m, g.n, d.ldc);
    for (std::int64_t i = 0; i < mn; ++i) {
      ref[static_cast<std::size_t>(i)] += c0[static_cast<std::size_t>(i)];
      absref[static_cast<std::size_t>(i)] += std::fabs(c0[static_cast<std::size_t>(i)]);
    }
  }

  const double rel = reduction_rel_tol(g.k);
  const std::vector<float> got = region(c, g.m, g.n, d.ldc);
  EXPECT_TRUE(padding_untouched(c, g.m, g.n, d.ldc));
  EXPECT_TRUE(all_close(got.data(), ref.data(), absref.data(), mn, rel)) << "vs float64 oracle, table " << t.name;

  if (t.isa != Isa::scalar) {
    std::vector<float> cs = d.c0;
    pn::kernels::gemm(pn::kernels::scalar_table(), d.args(g, cs.data()));
    const std::vector<float> want = region(cs, g.m, g.n, d.ldc);
    EXPECT_TRUE(all_close_pair(got.data(), want.data(), absref.data(), mn, rel)) << "vs scalar table";
  }
}

const std::vector<std::int64_t> kTails = {1, 3, 7, 15, 16, 17, 31, 33, 127, 129};

class GemmIsa : public PerIsaTest {};

// The full M x N cross product of tail sizes, K = 37, all orientations, accumulate on and off.
TEST_P(GemmIsa, TailSizesCrossProductK37) {
  std::uint64_t seed = 1000;
  for (int orient = 0; orient < 4; ++orient) {
    for (std::int64_t m : kTails) {
      for (std::int64_t n : kTails) {
        for (bool acc : {false, true}) {
          GemmCase g;
          g.ta = orient & 1;
          g.tb = orient & 2;
          g.m = m;
          g.n = n;
          g.k = 37;
          g.accumulate = acc;
          // Alternate minimal and padded leading dimensions.
          const std::int64_t pad = (m + n + orient) % 3 == 0 ? 0 : 1 + (m + 2 * n) % 5;
          g.pad_a = pad;
          g.pad_b = (pad + 2) % 6;
          g.pad_c = (pad + 3) % 4;
          check_case(table(), g, seed++);
          if (HasFailure()) return;  // one broken case is enough output
        }
      }
    }
  }
}

// Varying K (including K below, at and above a vector width and one cache block) on a few M x N.
TEST_P(GemmIsa, KSweep) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> mns = {{1, 1}, {7, 33}, {17, 16}, {33, 129}, {129, 7}};
  std::uint64_t seed = 5000;
  for (std::int64_t k : {1, 3, 16, 17, 129, 300}) {
    for (auto [m, n] : mns) {
      for (int orient = 0; orient < 4; ++orient) {
        for (bool acc : {false, true}) {
          GemmCase g{static_cast<bool>(orient & 1), static_cast<bool>(orient & 2), m, n, k, acc, 2, 3, 1};
          check_case(table(), g, seed++);
          if (HasFailure()) return;
        }
      }
    }
  }
}

// 1000 in each dimension (several cache blocks of M and K), N beyond one column block of every
// table (kNC = 4080 for AVX2, 3072 for AVX-512) and a mid-sized product with awkward sizes.
TEST_P(GemmIsa, LargeDimensions) {
  struct Dims {
    std::int64_t m, n, k;
  };
  const std::vector<Dims> dims = {{1000, 17, 33}, {17, 1000, 33}, {33, 17, 1000}, {7, 4100, 20}, {257, 1000, 129}};
  std::uint64_t seed = 9000;
  for (const Dims& dm : dims) {
    for (int orient = 0; orient < 4; ++orient) {
      GemmCase g{static_cast<bool>(orient & 1), static_cast<bool>(orient & 2), dm.m, dm.n, dm.k, orient == 3, 5, 1, 4};
      check_case(table(), g, seed++);
      if (HasFailure()) return;
    }
  }
}

// Products with at most four rows and an untransposed A (dense layers at small batch) take the
// unpacked path that streams B once: every row count, both B orientations, K and N around the
// vector width, the four-row k unrolling (K = 5, 7, 131, 2051), padded leading dimensions.
TEST_P(GemmIsa, SkinnyProductsWithoutPacking) {
  std::uint64_t seed = 12000;
  for (std::int64_t m : {1, 2, 3, 4, 5}) {
    for (auto [n, k] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {9, 5}, {17, 2051}, {1037, 7}, {2085, 131}}) {
      for (bool tb : {false, true}) {
        for (bool acc : {false, true}) {
          GemmCase g{false, tb, m, n, k, acc, static_cast<std::int64_t>(m % 3), static_cast<std::int64_t>((n + 1) % 4), 2};
          check_case(table(), g, seed++);
          if (HasFailure()) return;
        }
      }
    }
  }
  // Large enough to be split between threads: the same bits with 1, 2 and 3 threads.
  for (bool tb : {false, true}) {
    const std::int64_t m = 3, n = 5003, k = 301;
    const std::vector<float> a = random_floats(m * k, 31), b = random_floats(k * n, 32);
    const auto run = [&](std::vector<float>& c) {
      pn::kernels::gemm(table(), GemmArgs{false, tb, m, n, k, a.data(), k, b.data(), tb ? k : n, c.data(), n, false});
    };
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<float> base(static_cast<std::size_t>(m * n));
    run(base);
    for (int threads : {2, 3}) {
      omp_set_num_threads(threads);
      std::vector<float> c(base.size());
      run(c);
      EXPECT_TRUE(bit_equal(c.data(), base.data(), m * n)) << threads << " threads vs 1, trans_b " << tb;
    }
    omp_set_num_threads(saved);
  }
}

// Accumulate really adds into what C holds: a prefilled offset survives and a second call doubles.
TEST_P(GemmIsa, AccumulateAddsIntoPrefilledC) {
  const std::int64_t m = 33, n = 47, k = 129;
  const std::vector<float> a = random_floats(m * k, 11), b = random_floats(k * n, 12);
  std::vector<float> once(static_cast<std::size_t>(m * n), kNaN);
  pn::kernels::gemm(table(), GemmArgs{false, false, m, n, k, a.data(), k, b.data(), n, once.data(), n, false});

  std::vector<float> twice = once;
  pn::kernels::gemm(table(), GemmArgs{false, false, m, n, k, a.data(), k, b.data(), n, twice.data(), n, true});
  std::vector<float> offset(static_cast<std::size_t>(m * n), 1000.0f);
  pn::kernels::gemm(table(), GemmArgs{false, false, m, n, k, a.data(), k, b.data(), n, offset.data(), n, true});

  for (std::size_t i = 0; i < once.size(); ++i) {
    ASSERT_NEAR(twice[i], 2.0f * once[i], 1e-4f) << "at " << i;
    ASSERT_NEAR(offset[i] - 1000.0f, once[i], 2e-3f) << "at " << i;  // float spacing near 1000 is 6e-5
  }
  // A zero operand with accumulate leaves C exactly as it was.
  const std::vector<float> zeros(static_cast<std::size_t>(m * k), 0.0f), bt = random_floats(n * k, 13);
  std::vector<float> same = once;
  pn::kernels::gemm(table(), GemmArgs{false, true, m, n, k, zeros.data(), k, bt.data(), k, same.data(), n, true});
  EXPECT_TRUE(bit_equal(same.data(), once.data(), m * n));
}

// K = 0: C = 0 without accumulate (padding untouched), C unchanged with it.
// The statistics mode (GemmArgs::c64): C is double and the product is added to it. Sizes cross
// every blocking boundary of that path: several 768-row blocks, narrow column blocks with a tail,
// and K beyond one packed A super-block (1408 steps with the AVX2 tile, 640 with AVX-512), in the
// two orientations the statistics use, with a padded leading dimension whose padding must survive.
TEST_P(GemmIsa, DoubleAccumulatorModeAgainstOracle) {
  struct C64Case {
    bool ta, tb;
    std::int64_t m, n, k;
  };
  for (const C64Case& g : {C64Case{false, true, 781, 53, 1500}, C64Case{true, false, 37, 29, 1531}, C64Case{false, false, 5, 7, 131}}) {
    SCOPED_TRACE(::testing::Message() << "m=" << g.m << " n=" << g.n << " k=" << g.k << " ta=" << g.ta << " tb=" << g.tb);
    const std::int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n, ldc = g.n + 3;
    const std::vector<float> a = random_floats(g.m * g.k, 21), b = random_floats(g.k * g.n, 22);
    std::vector<double> c(static_cast<std::size_t>(g.m * ldc), -7777.25);
    for (std::int64_t i = 0; i < g.m; ++i)
      for (std::int64_t j = 0; j < g.n; ++j) c[static_cast<std::size_t>(i * ldc + j)] = static_cast<double>(i - j) * 0.125;
    std::vector<double> cs = c;
    GemmArgs args{g.ta, g.tb, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, nullptr, ldc, true};
    args.c64 = c.data();
    pn::kernels::gemm(table(), args);
    args.c64 = cs.data();
    pn::kernels::gemm(pn::kernels::scalar_table(), args);

    std::vector<double> ref(static_cast<std::size_t>(g.m * g.n), 0.0), absref(ref.size(), 0.0);
    const std::vector<double> ad = to_double(a), bd = to_double(b), aa = abs_double(a), ba = abs_double(b);
    oracle::gemm(g.ta, g.tb, g.m, g.n, g.k, ad.data(), lda, bd.data(), ldb, ref.data(), g.n, false);
    oracle::gemm(g.ta, g.tb, g.m, g.n, g.k, aa.data(), lda, ba.data(), ldb, absref.data(), g.n, false);
    // Each run of at most kF64Run products is summed in float: the error is that of a kF64Run-term
    // float reduction, whatever K is.
    const double rel = reduction_rel_tol(pn::kernels::kF64Run);
    for (std::int64_t i = 0; i < g.m; ++i) {
      for (std::int64_t j = 0; j < g.n; ++j) {
        const auto at = static_cast<std::size_t>(i * ldc + j), r = static_cast<std::size_t>(i * g.n + j);
        const double want = ref[r] + static_cast<double>(i - j) * 0.125;
        ASSERT_LE(std::fabs(c[at] - want), rel * absref[r] + 1e-12) << "at " << i << "," << j << " table " << table().name;
        ASSERT_LE(std::fabs(cs[at] - want), rel * absref[r] + 1e-12) << "scalar at " << i << "," << j;
      }
      for (std::int64_t j = g.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], -7777.25) << "padding";
    }
  }
}

// The double kernel (dgemm_acc, the dense layers' statistics): C += op(A) · B in double. Sizes
// cross the 4-row tile (tails of 1-3 rows), the vector panel (a column tail) and the 256-step k
// slices, in both orientations, with padded leading dimensions: A and B padding holds NaN (a read
// outside poisons C), C padding a sentinel that must survive. Integer-valued inputs make every
// product and sum exact, so each table must give the exact answer bit for bit; random inputs are
// compared with the scalar table and a float64 oracle.
TEST_P(GemmIsa, DoubleGemmExactOnIntegersAndMatchesScalar) {
  using pn::kernels::DgemmArgs;
  struct DCase {
    bool ta;
    std::int64_t m, n, k;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const DCase& g : {DCase{false, 1, 1, 1}, DCase{false, 7, 29, 257}, DCase{true, 7, 29, 257}, DCase{false, 13, 50, 600},
                         DCase{true, 30, 33, 513}, DCase{true, 6, 6, 4096}, DCase{false, 130, 97, 31}}) {
    SCOPED_TRACE(::testing::Message() << "m=" << g.m << " n=" << g.n << " k=" << g.k << " ta=" << g.ta);
    const std::int64_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
    const std::int64_t lda = a_cols + 3, ldb = g.n + 2, ldc = g.n + 5;
    for (bool integers : {true, false}) {
      TestRng rng(integers ? 5 : 6);
      const auto value = [&] {
        return integers ? static_cast<double>(static_cast<int>(rng.uniform(-64.0f, 64.0f))) : static_cast<double>(rng.uniform(-1.0f, 1.0f)) * 1e3 + 0.1;
      };
      std::vector<double> a(static_cast<std::size_t>(a_rows * lda), nan), b(static_cast<std::size_t>(g.k * ldb), nan);
      for (std::int64_t r = 0; r < a_rows; ++r)
        for (std::int64_t c = 0; c < a_cols; ++c) a[static_cast<std::size_t>(r * lda + c)] = value();
      for (std::int64_t r = 0; r < g.k; ++r)
        for (std::int64_t c = 0; c < g.n; ++c) b[static_cast<std::size_t>(r * ldb + c)] = value();
      std::vector<double> c0(static_cast<std::size_t>(g.m * ldc), -7777.25);
      for (std::int64_t i = 0; i < g.m; ++i)
        for (std::int64_t j = 0; j < g.n; ++j) c0[static_cast<std::size_t>(i * ldc + j)] = static_cast<double>(i - 2 * j);

      std::vector<double> c = c0, cs = c0;
      table().dgemm_acc(DgemmArgs{g.ta, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, c.data(), ldc});
      pn::kernels::scalar_table().dgemm_acc(DgemmArgs{g.ta, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, cs.data(), ldc});
      for (std::int64_t i = 0; i < g.m; ++i) {
        for (std::int64_t j = 0; j < g.n; ++j) {
          // Oracle: long double sums in k order, and the sum of absolute products (the error scale).
          long double want = 0, scale = 0;
          for (std::int64_t p = 0; p < g.k; ++p) {
            const double av = g.ta ? a[static_cast<std::size_t>(p * lda + i)] : a[static_cast<std::size_t>(i * lda + p)];
            const long double prod = static_cast<long double>(av) * b[static_cast<std::size_t>(p * ldb + j)];
            want += prod;
            scale += prod < 0 ? -prod : prod;
          }
          want += c0[static_cast<std::size_t>(i * ldc + j)];
          const auto at = static_cast<std::size_t>(i * ldc + j);
          if (integers) {
            ASSERT_EQ(c[at], static_cast<double>(want)) << "at " << i << "," << j << " table " << table().name;
            ASSERT_EQ(cs[at], static_cast<double>(want)) << "scalar at " << i << "," << j;
          } else {
            const double tol = 4e-16 * static_cast<double>(g.k) * static_cast<double>(scale) + 1e-12;
            ASSERT_NEAR(c[at], static_cast<double>(want), tol) << "at " << i << "," << j << " table " << table().name;
            ASSERT_NEAR(cs[at], c[at], 2 * tol) << "vs scalar at " << i << "," << j;
          }
        }
        for (std::int64_t j = g.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], -7777.25) << "padding";
      }
      // Bit-identical whatever the thread count.
      const int saved = omp_get_max_threads();
      for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        std::vector<double> ct = c0;
        table().dgemm_acc(DgemmArgs{g.ta, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, ct.data(), ldc});
        EXPECT_EQ(std::memcmp(ct.data(), c.data(), c.size() * sizeof(double)), 0) << threads << " threads";
      }
      omp_set_num_threads(saved);
    }
  }
}

TEST_P(GemmIsa, ZeroKZeroesOrKeepsC) {
  for (int orient = 0; orient < 4; ++orient) {
    for (auto [m, n] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {7, 33}, {129, 17}}) {
      SCOPED_TRACE(::testing::Message() << "orient " << orient << " m " << m << " n " << n);
      const std::int64_t ldc = n + 3;
      const std::vector<float> a(16, kNaN), b(16, kNaN);  // never read
      std::vector<float> c = GemmData::padded(m, n, ldc, 77, kSentinel);
      const std::vector<float> before = c;
      GemmArgs g{static_cast<bool>(orient & 1), static_cast<bool>(orient & 2), m, n, 0, a.data(), 4, b.data(), 4,
                 c.data(), ldc, true};
      pn::kernels::gemm(table(), g);
      EXPECT_TRUE(bit_equal(c.data(), before.data(), static_cast<std::int64_t>(c.size()))) << "accumulate, K = 0";

      g.accumulate = false;
      pn::kernels::gemm(table(), g);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) ASSERT_TRUE(same_bits(c[static_cast<std::size_t>(i * ldc + j)], 0.0f));
      EXPECT_TRUE(padding_untouched(c, m, n, ldc));
    }
  }
}

// M = 0 or N = 0: nothing is written, whatever the orientation and K.
TEST_P(GemmIsa, EmptyOutputWritesNothing) {
  const std::vector<float> a(4096, 1.0f), b(4096, 1.0f);
  for (int orient = 0; orient < 4; ++orient) {
    for (auto [m, n] : {std::pair<std::int64_t, std::int64_t>{0, 5}, {5, 0}, {0, 0}, {40, 0}}) {
      for (bool acc : {false, true}) {
        std::vector<float> c(64, kSentinel);
        pn::kernels::gemm(table(), GemmArgs{static_cast<bool>(orient & 1), static_cast<bool>(orient & 2), m, n, 17,
                                            a.data(), 64, b.data(), 64, c.data(), 1, acc});
        for (float v : c) ASSERT_TRUE(same_bits(v, kSentinel)) << "m " << m << " n " << n << " orient " << orient;
      }
    }
  }
}

// The result does not depend on the number of OpenMP threads, and gemm() may be called from
// inside a parallel region (each thread then uses its own workspace).
TEST_P(GemmIsa, IndependentOfThreadCountAndReentrant) {
  const std::int64_t m = 203, n = 301, k = 401;
  const std::vector<float> a = random_floats(m * k, 21), b = random_floats(k * n, 22);
  const auto run = [&](float* c) {
    pn::kernels::gemm(table(), GemmArgs{false, true, m, n, k, a.data(), k, b.data(), k, c, n, false});
  };
  std::vector<float> base(static_cast<std::size_t>(m * n));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  run(base.data());
  for (int threads : {2, 3, 4}) {
    omp_set_num_threads(threads);
    std::vector<float> c(base.size());
    run(c.data());
    EXPECT_TRUE(bit_equal(c.data(), base.data(), m * n)) << threads << " threads vs 1";
  }
  omp_set_num_threads(saved);

  std::vector<std::vector<float>> outs(4, std::vector<float>(base.size()));
#pragma omp parallel for num_threads(2) schedule(static, 1)
  for (int i = 0; i < 4; ++i) run(outs[static_cast<std::size_t>(i)].data());
  for (const auto& c : outs) EXPECT_TRUE(bit_equal(c.data(), base.data(), m * n)) << "inside a parallel region";
}

// ops::matmul / matmul_into / linear_forward derive m, n, k and the leading dimensions from the
// tensor shapes in every orientation.
TEST_P(GemmIsa, OpsMatmulAndLinear) {
  const std::int64_t m = 19, n = 23, k = 45;
  for (int orient = 0; orient < 4; ++orient) {
    const bool ta = orient & 1, tb = orient & 2;
    SCOPED_TRACE(::testing::Message() << "trans_a " << ta << " trans_b " << tb);
    const std::vector<float> av = random_floats(m * k, 31 + static_cast<std::uint64_t>(orient));
    const std::vector<float> bv = random_floats(k * n, 41 + static_cast<std::uint64_t>(orient));
    const pn::Tensor a = pn::Tensor::from(ta ? pn::Shape{k, m} : pn::Shape{m, k}, av);
    const pn::Tensor b = pn::Tensor::from(tb ? pn::Shape{n, k} : pn::Shape{k, n}, bv);
    const pn::Tensor c = pn::ops::matmul(a, b, ta, tb, table());
    ASSERT_EQ(c.shape(), (pn::Shape{m, n}));

    std::vector<double> ref(static_cast<std::size_t>(m * n)), absref(ref.size());
    oracle::gemm(ta, tb, m, n, k, to_double(av).data(), ta ? m : k, to_double(bv).data(), tb ? k : n, ref.data(), n,
                 false);
    oracle::gemm(ta, tb, m, n, k, abs_double(av).data(), ta ? m : k, abs_double(bv).data(), tb ? k : n,
                 absref.data(), n, false);
    EXPECT_TRUE(all_close(c.data(), ref.data(), absref.data(), m * n, 1e-5));

    pn::Tensor acc = pn::Tensor::full(pn::Shape{m, n}, 0.5f);
    pn::ops::matmul_into(a, b, ta, tb, acc, true, table());
    for (double& r : ref) r += 0.5;
    for (double& r : absref) r += 0.5;
    EXPECT_TRUE(all_close(acc.data(), ref.data(), absref.data(), m * n, 1e-5)) << "matmul_into accumulate";
  }

  // linear: y (N, O) = x (N, D) wᵀ + bias.
  const std::int64_t batch = 5, in = 37, out = 19;
  const std::vector<float> xv = random_floats(batch * in, 51), wv = random_floats(out * in, 52),
                           bv = random_floats(out, 53);
  const pn::Tensor x = pn::Tensor::from(pn::Shape{batch, in}, xv);
  const pn::Tensor w = pn::Tensor::from(pn::Shape{out, in}, wv);
  const pn::Tensor bias = pn::Tensor::from(pn::Shape{out}, bv);
  const pn::Tensor y = pn::ops::linear_forward(x, w, &bias, table());
  ASSERT_EQ(y.shape(), (pn::Shape{batch, out}));
  std::vector<double> ref(static_cast<std::size_t>(batch * out)), absref(ref.size());
  oracle::gemm(false, true, batch, out, in, to_double(xv).data(), in, to_double(wv).data(), in, ref.data(), out, false);
  oracle::gemm(false, true, batch, out, in, abs_double(xv).data(), in, abs_double(wv).data(), in, absref.data(), out,
               false);
  for (std::int64_t i = 0; i < batch * out; ++i) {
    ref[static_cast<std::size_t>(i)] += bv[static_cast<std::size_t>(i % out)];
    absref[static_cast<std::size_t>(i)] += std::fabs(bv[static_cast<std::size_t>(i % out)]);
  }
  EXPECT_TRUE(all_close(y.data(), ref.data(), absref.data(), batch * out, 1e-5)) << "linear_forward";
}

PN_INSTANTIATE_FOR_EACH_ISA(GemmIsa);

// Hand-computed answers for the oracle itself, in all four orientations and with padding.
TEST(GemmOracle, KnownAnswers) {
  // op(A) = [[1, 2, 3], [4, 5, 6]], op(B) = [[1, 0], [0, 1], [1, 1]]  ->  [[4, 5], [10, 11]]
  const std::vector<double> a = {1, 2, 3, -9, 4, 5, 6, -9};        // 2 x 3, lda 4
  const std::vector<double> at = {1, 4, -9, 2, 5, -9, 3, 6, -9};   // 3 x 2, lda 3
  const std::vector<double> b = {1, 0, 0, 1, 1, 1};                // 3 x 2, ldb 2
  const std::vector<double> bt = {1, 0, 1, -9, 0, 1, 1, -9};       // 2 x 3, ldb 4
  for (int orient = 0; orient < 4; ++orient) {
    const bool ta = orient & 1, tb = orient & 2;
    std::vector<double> c = {7, 7, -1, 7, 7, -1};  // 2 x 2, ldc 3
    oracle::gemm(ta, tb, 2, 2, 3, ta ? at.data() : a.data(), ta ? 3 : 4, tb ? bt.data() : b.data(), tb ? 4 : 2,
                 c.data(), 3, false);
    EXPECT_EQ(c, (std::vector<double>{4, 5, -1, 10, 11, -1})) << "orientation " << orient;
    oracle::gemm(ta, tb, 2, 2, 3, ta ? at.data() : a.data(), ta ? 3 : 4, tb ? bt.data() : b.data(), tb ? 4 : 2,
                 c.data(), 3, true);
    EXPECT_EQ(c, (std::vector<double>{8, 10, -1, 20, 22, -1})) << "orientation " << orient;
  }
}

// The same product twice through the active table is bit-identical.
TEST(GemmDeterminism, ActiveTableRepeatsBitIdentical) {
  const std::int64_t m = 300, n = 500, k = 700;
  const std::vector<float> a = random_floats(m * k, 61), b = random_floats(k * n, 62);
  std::vector<float> c1(static_cast<std::size_t>(m * n)), c2(c1.size(), 123.0f);
  const GemmArgs g1{false, false, m, n, k, a.data(), k, b.data(), n, c1.data(), n, false};
  GemmArgs g2 = g1;
  g2.c = c2.data();
  pn::kernels::gemm(g1);
  pn::kernels::gemm(g2);
  EXPECT_EQ(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)), 0)
      << "table " << pn::kernels::active().name;
  // And it is a real product (not, say, all zeros twice): spot-check one element.
  double ref = 0.0;
  for (std::int64_t p = 0; p < k; ++p) ref += static_cast<double>(a[static_cast<std::size_t>(5 * k + p)]) * b[static_cast<std::size_t>(p * n + 7)];
  EXPECT_NEAR(c1[static_cast<std::size_t>(5 * n + 7)], ref, 1e-3);
}

}  // namespace
