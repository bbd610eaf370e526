// Kernel table dispatch: which tables exist, that an unavailable instruction set is a pn::Error
// (never an illegal instruction), and that the automatic choice is the widest supported one.
#include "pn/kernels/kernels.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#ifndef PN_TEST_SIMD_BUILT
#error "tests/CMakeLists.txt defines PN_TEST_SIMD_BUILT (1 when the SIMD tables are compiled in)"
#endif

namespace {

using ::testing::HasSubstr;
using pn::kernels::Isa;
using pntest::error_message;

// CPU support as the test sees it, independently of dispatch.cpp.
bool cpu_has(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::scalar;
#endif
}

bool expected_supported(Isa isa) { return isa == Isa::scalar || (PN_TEST_SIMD_BUILT && cpu_has(isa)); }

TEST(Dispatch, IsaNames) {
  EXPECT_STREQ(pn::kernels::isa_name(Isa::scalar), "scalar");
  EXPECT_STREQ(pn::kernels::isa_name(Isa::avx2), "avx2");
  EXPECT_STREQ(pn::kernels::isa_name(Isa::avx512), "avx512");
}

TEST(Dispatch, ScalarTableAlwaysAvailable) {
  EXPECT_TRUE(pn::kernels::isa_supported(Isa::scalar));
  const auto& t = pn::kernels::scalar_table();
  EXPECT_EQ(t.isa, Isa::scalar);
  EXPECT_STREQ(t.name, "scalar");
  EXPECT_EQ(&pn::kernels::table_for(Isa::scalar), &t);
  EXPECT_EQ(t.gemm_workspace(8), 0);
}

TEST(Dispatch, SupportMatchesBuildAndCpu) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    SCOPED_TRACE(pn::kernels::isa_name(isa));
    EXPECT_EQ(pn::kernels::isa_supported(isa), expected_supported(isa))
        << "built " << PN_TEST_SIMD_BUILT << ", cpu " << cpu_has(isa);
  }
}

TEST(Dispatch, SupportedTablesAreComplete) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (!pn::kernels::isa_supported(isa)) continue;
    SCOPED_TRACE(pn::kernels::isa_name(isa));
    const auto& t = pn::kernels::table_for(isa);
    EXPECT_EQ(t.isa, isa);
    EXPECT_STREQ(t.name, pn::kernels::isa_name(isa));
    EXPECT_NE(t.gemm_workspace, nullptr);
    EXPECT_NE(t.gemm, nullptr);
    EXPECT_NE(t.relu_forward, nullptr);
    EXPECT_NE(t.relu_backward, nullptr);
    EXPECT_NE(t.bias_add, nullptr);
    EXPECT_NE(t.channel_sums, nullptr);
    EXPECT_NE(t.maxpool_forward, nullptr);
    EXPECT_NE(t.maxpool_backward, nullptr);
    EXPECT_NE(t.avgpool_forward, nullptr);
    EXPECT_NE(t.avgpool_backward, nullptr);
    EXPECT_GE(t.gemm_workspace(1), 0);
    EXPECT_GE(t.gemm_workspace(4), t.gemm_workspace(1));
    EXPECT_EQ(&pn::kernels::table_for(isa), &t) << "one table object per instruction set";
  }
}

// Asking for an instruction set the CPU (or the build) lacks is a pn::Error naming it, not a
// SIGILL later. On a CPU with AVX-512 the avx512 half of this is a visible skip.
TEST(Dispatch, UnsupportedIsaThrows) {
  int checked = 0;
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (pn::kernels::isa_supported(isa)) continue;
    ++checked;
    const std::string msg = error_message([&] { (void)pn::kernels::table_for(isa); });
    EXPECT_THAT(msg, HasSubstr(pn::kernels::isa_name(isa)));
    EXPECT_THAT(msg, HasSubstr(PN_TEST_SIMD_BUILT ? "not supported by this CPU" : "PN_SIMD=OFF"));
  }
  if (checked == 0) GTEST_SKIP() << "this CPU and build support every instruction set";
}

TEST(Dispatch, Avx512UnavailableThrows) {
  if (pn::kernels::isa_supported(Isa::avx512)) GTEST_SKIP() << "CPU has avx512";
  EXPECT_THROW((void)pn::kernels::table_for(Isa::avx512), pn::Error);
}

// Without PN_ISA the widest supported table is active; with it, the one it names.
TEST(Dispatch, ActiveTableChoice) {
  const char* env = std::getenv("PN_ISA");
  const auto& t = pn::kernels::active();
  EXPECT_EQ(&pn::kernels::active(), &t) << "chosen once per process";
  if (env != nullptr && *env != '\0') {
    EXPECT_STREQ(t.name, env);
  } else {
    const Isa best = expected_supported(Isa::avx512) ? Isa::avx512
                     : expected_supported(Isa::avx2) ? Isa::avx2
                                                     : Isa::scalar;
    EXPECT_EQ(t.isa, best);
  }
  // The active-table gemm overload runs on it.
  const float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, 4.0f};
  float c[1] = {-1.0f};
  pn::kernels::gemm(pn::kernels::GemmArgs{false, false, 1, 1, 2, a, 2, b, 1, c, 1, false});
  EXPECT_EQ(c[0], 11.0f);
}

}  // namespace
