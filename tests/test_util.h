// Shared helpers of the test executables: deterministic test data (independent of pn::Rng, which
// is itself under test), float/double conversion for the oracle, tolerance and bit-exact
// comparisons, and the per-ISA fixture that skips visibly when an instruction set is missing.
#pragma once

#include "pn/core/error.h"
#include "pn/kernels/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

// Parameterised test names and values print as "avx2", not as raw bytes.
namespace pn::kernels {
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace pn::kernels

namespace pntest {

using pn::kernels::Isa;
using pn::kernels::KernelTable;

// splitmix64: a tiny, self-contained generator for test data.
class TestRng {
public:
  explicit TestRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  float uniform(float lo, float hi) { return static_cast<float>(lo + (hi - lo) * uniform()); }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }

private:
  std::uint64_t state_;
};

inline std::vector<float> random_floats(std::int64_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  TestRng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

// Values from a small set, so that pooling windows contain ties (including -0 against +0).
inline std::vector<float> quantised_floats(std::int64_t n, std::uint64_t seed) {
  static constexpr float levels[] = {-2.0f, -1.0f, -0.0f, 0.0f, 1.0f, 1.0f, 2.0f};
  TestRng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = levels[rng.below(7)];
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }
inline std::vector<double> abs_double(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(static_cast<double>(v[i]));
  return r;
}

inline bool same_bits(float a, float b) { return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b); }

// Relative tolerance of a float32 reduction of `terms` products against the float64 reference,
// as a multiple of sum |a||b|. Random rounding errors add up like a random walk (~sqrt(terms) *
// 6e-8), far below the worst case terms * 6e-8: 1e-5 holds with a wide margin up to ~1e5 terms
// (observed: < 5% of it at K = 1000) while one dropped or doubled term out of thousands still
// fails. Beyond that it grows like sqrt(terms).
inline double reduction_rel_tol(std::int64_t terms) {
  return 1e-5 * std::max(1.0, std::sqrt(static_cast<double>(terms) / 1e5));
}

// Every got[i] within rel * absref[i] + abs of ref[i] (absref: the same sum over absolute values).
inline ::testing::AssertionResult all_close(const float* got, const double* ref, const double* absref, std::int64_t n,
                                            double rel, double abs = 1e-6) {
  std::int64_t bad = 0;
  std::ostringstream msg;
  for (std::int64_t i = 0; i < n; ++i) {
    const double bound = rel * absref[i] + abs;
    const double diff = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(diff <= bound)) {  // also catches NaN
      if (bad < 5) msg << "\n  [" << i << "] got " << got[i] << " want " << ref[i] << " |diff| " << diff << " > " << bound;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements out of tolerance:" << msg.str();
}

// Two float arrays agree within the tolerance both must meet against the reference.
inline ::testing::AssertionResult all_close_pair(const float* got, const float* want, const double* absref,
                                                 std::int64_t n, double rel, double abs = 1e-6) {
  std::vector<double> w(want, want + n);
  std::vector<double> bound(absref, absref + n);
  for (double& b : bound) b *= 2.0;
  return all_close(got, w.data(), bound.data(), n, rel, 2.0 * abs);
}

inline ::testing::AssertionResult bit_equal(const float* got, const float* want, std::int64_t n) {
  std::int64_t bad = 0;
  std::ostringstream msg;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!same_bits(got[i], want[i])) {
      if (bad < 5) msg << "\n  [" << i << "] got " << got[i] << " want " << want[i];
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements differ bitwise:" << msg.str();
}

template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const pn::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a pn::Error, none was thrown";
  return {};
}

// Fixture of the per-ISA tests: GetParam() is the instruction set; a missing one is a skip
// with the reason, never a silent pass.
class PerIsaTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    const Isa isa = GetParam();
    if (!pn::kernels::isa_supported(isa)) {
      std::string why;
      try {
        (void)pn::kernels::table_for(isa);
        why = "isa_supported() is false but table_for() did not throw";
        ADD_FAILURE() << why;
      } catch (const pn::Error& e) {
        why = e.what();
      }
      GTEST_SKIP() << "CPU or build lacks " << pn::kernels::isa_name(isa) << ": " << why;
    }
    table_ = &pn::kernels::table_for(isa);
    ASSERT_EQ(table_->isa, isa);
  }
  const KernelTable& table() const { return *table_; }
  bool is_scalar() const { return table_->isa == Isa::scalar; }

private:
  const KernelTable* table_ = nullptr;
};

inline std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
  return pn::kernels::isa_name(info.param);
}

}  // namespace pntest

#define PN_INSTANTIATE_FOR_EACH_ISA(fixture)                                                                     \
  INSTANTIATE_TEST_SUITE_P(Isa, fixture,                                                                         \
                           ::testing::Values(pntest::Isa::scalar, pntest::Isa::avx2, pntest::Isa::avx512), \
                           pntest::isa_param_name)
