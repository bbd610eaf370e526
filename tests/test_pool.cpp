// Max and average pooling: maxpool forward is bit-identical to the scalar table (values and
// arg-max switches, ties included) and to the float64 oracle; the backward passes and avgpool
// match the oracle within tolerance. Overlapping, gapped and degenerate windows, odd planes.
#include "oracle/oracle.h"
#include "pn/core/tensor.h"
#include "pn/kernels/kernels.h"
#include "pn/ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace {

using namespace pntest;
using pn::kernels::PoolGeom;

constexpr float kSentinelDx = 31337.0f;  // outputs start as garbage the kernels must overwrite

struct PoolCase {
  std::int64_t planes, h, w, kernel, stride;
};

std::ostream& operator<<(std::ostream& os, const PoolCase& c) {
  return os << c.planes << " planes of " << c.h << "x" << c.w << ", kernel " << c.kernel << " stride " << c.stride;
}

const std::vector<PoolCase> kCases = {
    // odd planes, overlapping (kernel > stride), tiling and 1x1
    {6, 7, 9, 3, 1},    {6, 7, 9, 3, 2},    {6, 7, 9, 2, 2},   {6, 7, 9, 2, 1},  {2, 17, 33, 3, 1},
    {2, 17, 33, 3, 2},  {2, 17, 33, 2, 2},  {2, 17, 33, 2, 1}, {3, 1, 1, 1, 1},  {1, 1, 40, 1, 1},
    // wide rows: several full vectors of outputs plus a tail, for every stride path
    {2, 12, 70, 2, 1},  {2, 12, 70, 3, 2},  {1, 9, 100, 3, 3}, {2, 8, 40, 1, 2}, {2, 11, 53, 2, 3},
    {1, 10, 67, 4, 1},  {3, 6, 161, 2, 2},
    // the window is the whole plane; a window that leaves a remainder row and column
    {4, 5, 5, 5, 1},    {2, 9, 38, 4, 3},
};

PoolGeom kernel_geom(const PoolCase& c) {
  PoolGeom g;
  g.planes = c.planes;
  g.h = c.h;
  g.w = c.w;
  g.kernel = c.kernel;
  g.stride = c.stride;
  g.out_h = (c.h - c.kernel) / c.stride + 1;
  g.out_w = (c.w - c.kernel) / c.stride + 1;
  return g;
}

oracle::PoolGeom oracle_geom(const PoolCase& c) {
  oracle::PoolGeom g;
  g.planes = c.planes;
  g.h = c.h;
  g.w = c.w;
  g.kernel = c.kernel;
  g.stride = c.stride;
  return g;
}

class PoolIsa : public PerIsaTest {};

TEST_P(PoolIsa, MaxForwardBitIdenticalToScalarAndOracle) {
  std::uint64_t seed = 1;
  for (const PoolCase& pc : kCases) {
    for (bool ties : {true, false}) {
      SCOPED_TRACE(::testing::Message() << pc << (ties ? ", quantised input (ties)" : ", continuous input"));
      const PoolGeom g = kernel_geom(pc);
      const oracle::PoolGeom og = oracle_geom(pc);
      ASSERT_EQ(g.out_h, og.out_h());
      ASSERT_EQ(g.out_w, og.out_w());
      const std::int64_t nin = og.in_size(), nout = og.out_size();
      const std::vector<float> x = ties ? quantised_floats(nin, seed++) : random_floats(nin, seed++);

      std::vector<float> y(static_cast<std::size_t>(nout), -99.0f), ys(y.size(), -99.0f);
      std::vector<std::int32_t> am(y.size(), -1), ams(y.size(), -1);
      table().maxpool_forward(g, x.data(), y.data(), am.data());
      pn::kernels::scalar_table().maxpool_forward(g, x.data(), ys.data(), ams.data());
      EXPECT_TRUE(bit_equal(y.data(), ys.data(), nout)) << "values vs scalar table";
      EXPECT_EQ(am, ams) << "arg-max vs scalar table";

      std::vector<double> yr(y.size());
      std::vector<std::int64_t> amr(y.size());
      oracle::maxpool_forward(og, to_double(x).data(), yr.data(), amr.data());
      for (std::int64_t o = 0; o < nout; ++o) {
        const auto i = static_cast<std::size_t>(o);
        ASSERT_EQ(static_cast<double>(y[i]), yr[i]) << "value of output " << o;
        ASSERT_EQ(am[i], amr[i]) << "arg-max of output " << o;
        // The switch points at the reported value (bitwise, so -0 vs +0 ties are resolved alike).
        const std::int64_t plane = o / (g.out_h * g.out_w);
        ASSERT_TRUE(same_bits(x[static_cast<std::size_t>(plane * g.h * g.w + am[i])], y[i]));
      }
      if (HasFailure()) return;
    }
  }
}

// NaN has no maximum; what matters is that every table treats it the same way, bit for bit.
TEST_P(PoolIsa, MaxForwardWithNaNMatchesScalar) {
  for (const PoolCase& pc : kCases) {
    SCOPED_TRACE(::testing::Message() << pc);
    const PoolGeom g = kernel_geom(pc);
    const std::int64_t nin = g.planes * g.h * g.w, nout = g.planes * g.out_h * g.out_w;
    std::vector<float> x = quantised_floats(nin, 77 + static_cast<std::uint64_t>(nin));
    TestRng rng(static_cast<std::uint64_t>(nin));
    for (float& v : x)
      if (rng.below(5) == 0) v = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> y(static_cast<std::size_t>(nout)), ys(y.size());
    std::vector<std::int32_t> am(y.size()), ams(y.size());
    table().maxpool_forward(g, x.data(), y.data(), am.data());
    pn::kernels::scalar_table().maxpool_forward(g, x.data(), ys.data(), ams.data());
    EXPECT_TRUE(bit_equal(y.data(), ys.data(), nout));
    EXPECT_EQ(am, ams);
  }
}

TEST_P(PoolIsa, MaxBackwardAgainstOracle) {
  std::uint64_t seed = 500;
  for (const PoolCase& pc : kCases) {
    SCOPED_TRACE(::testing::Message() << pc);
    const PoolGeom g = kernel_geom(pc);
    const oracle::PoolGeom og = oracle_geom(pc);
    const std::int64_t nin = og.in_size(), nout = og.out_size();
    // Quantised input: ties make neighbouring overlapping windows share a switch, so gradients
    // must accumulate.
    const std::vector<float> x = quantised_floats(nin, seed++);
    const std::vector<float> dy = random_floats(nout, seed++);
    std::vector<float> y(static_cast<std::size_t>(nout));
    std::vector<std::int32_t> am(y.size());
    pn::kernels::scalar_table().maxpool_forward(g, x.data(), y.data(), am.data());

    std::vector<float> dx(static_cast<std::size_t>(nin), kSentinelDx), dxs(dx.size(), kSentinelDx);
    table().maxpool_backward(g, dy.data(), am.data(), dx.data());
    pn::kernels::scalar_table().maxpool_backward(g, dy.data(), am.data(), dxs.data());

    std::vector<std::int64_t> am64(am.begin(), am.end());
    std::vector<double> ref(dx.size()), absref(dx.size());
    oracle::maxpool_backward(og, to_double(dy).data(), am64.data(), ref.data());
    oracle::maxpool_backward(og, abs_double(dy).data(), am64.data(), absref.data());
    EXPECT_TRUE(all_close(dx.data(), ref.data(), absref.data(), nin, 2e-6, 0.0)) << "vs oracle";
    EXPECT_TRUE(all_close_pair(dx.data(), dxs.data(), absref.data(), nin, 2e-6, 0.0)) << "vs scalar table";
    if (HasFailure()) return;
  }
}

// Switches shared by many outputs must add up (and dx must be cleared first): a hand-built switch
// list that sends every output of a plane to one element tests the accumulation on its own.
TEST_P(PoolIsa, MaxBackwardAccumulatesSharedSwitches) {
  PoolGeom g = kernel_geom({2, 4, 20, 2, 1});  // out 3 x 19 per plane
  const std::int64_t out_plane = g.out_h * g.out_w;
  std::vector<std::int32_t> am(static_cast<std::size_t>(2 * out_plane), 5);  // everything into element 5
  std::vector<float> dy(am.size(), 0.25f);
  std::vector<float> dx(static_cast<std::size_t>(2 * g.h * g.w), 9.0f);  // must be cleared first
  table().maxpool_backward(g, dy.data(), am.data(), dx.data());
  for (std::int64_t p = 0; p < 2; ++p)
    for (std::int64_t i = 0; i < g.h * g.w; ++i) {
      const float want = i == 5 ? 0.25f * static_cast<float>(out_plane) : 0.0f;
      ASSERT_EQ(dx[static_cast<std::size_t>(p * g.h * g.w + i)], want) << "plane " << p << " element " << i;
    }
}

TEST_P(PoolIsa, AvgForwardAndBackwardAgainstOracle) {
  std::uint64_t seed = 900;
  for (const PoolCase& pc : kCases) {
    SCOPED_TRACE(::testing::Message() << pc);
    const PoolGeom g = kernel_geom(pc);
    const oracle::PoolGeom og = oracle_geom(pc);
    const std::int64_t nin = og.in_size(), nout = og.out_size();
    const std::vector<float> x = random_floats(nin, seed++);
    const std::vector<float> dy = random_floats(nout, seed++);
    const double rel = 4e-7 * static_cast<double>(pc.kernel * pc.kernel) + 1e-7;

    std::vector<float> y(static_cast<std::size_t>(nout), kSentinelDx), ys(y.size(), kSentinelDx);
    table().avgpool_forward(g, x.data(), y.data());
    pn::kernels::scalar_table().avgpool_forward(g, x.data(), ys.data());
    std::vector<double> yr(y.size()), yabs(y.size());
    oracle::avgpool_forward(og, to_double(x).data(), yr.data());
    oracle::avgpool_forward(og, abs_double(x).data(), yabs.data());
    EXPECT_TRUE(all_close(y.data(), yr.data(), yabs.data(), nout, rel, 0.0)) << "forward vs oracle";
    EXPECT_TRUE(all_close_pair(y.data(), ys.data(), yabs.data(), nout, rel, 0.0)) << "forward vs scalar";

    std::vector<float> dx(static_cast<std::size_t>(nin), kSentinelDx), dxs(dx.size(), kSentinelDx);
    table().avgpool_backward(g, dy.data(), dx.data());
    pn::kernels::scalar_table().avgpool_backward(g, dy.data(), dxs.data());
    std::vector<double> dxr(dx.size()), dxabs(dx.size());
    oracle::avgpool_backward(og, to_double(dy).data(), dxr.data());
    oracle::avgpool_backward(og, abs_double(dy).data(), dxabs.data());
    EXPECT_TRUE(all_close(dx.data(), dxr.data(), dxabs.data(), nin, rel, 0.0)) << "backward vs oracle";
    EXPECT_TRUE(all_close_pair(dx.data(), dxs.data(), dxabs.data(), nin, rel, 0.0)) << "backward vs scalar";
    if (HasFailure()) return;
  }
}

// The tensor wrappers: shapes, and the same numbers as the kernels (N and C folded into planes).
TEST_P(PoolIsa, OpsWrappers) {
  const std::int64_t n = 2, c = 3, h = 17, w = 33;
  const std::vector<float> xv = quantised_floats(n * c * h * w, 4242);
  const pn::Tensor x = pn::Tensor::from(pn::Shape{n, c, h, w}, xv);
  const pn::ops::PoolSpec spec{3, 2};
  EXPECT_EQ(pn::ops::pool_output_shape(x.shape(), spec, "test"), (pn::Shape{n, c, 8, 16}));

  const pn::ops::MaxPoolResult r = pn::ops::maxpool2d_forward(x, spec, table());
  ASSERT_EQ(r.y.shape(), (pn::Shape{n, c, 8, 16}));
  ASSERT_EQ(static_cast<std::int64_t>(r.argmax.size()), r.y.numel());
  const oracle::PoolGeom og = oracle_geom({n * c, h, w, 3, 2});
  std::vector<double> yr(static_cast<std::size_t>(og.out_size()));
  std::vector<std::int64_t> amr(yr.size());
  oracle::maxpool_forward(og, to_double(xv).data(), yr.data(), amr.data());
  for (std::int64_t i = 0; i < r.y.numel(); ++i) {
    ASSERT_EQ(static_cast<double>(r.y[i]), yr[static_cast<std::size_t>(i)]) << i;
    ASSERT_EQ(r.argmax[static_cast<std::size_t>(i)], amr[static_cast<std::size_t>(i)]) << i;
  }

  const std::vector<float> dyv = random_floats(r.y.numel(), 4343);
  const pn::Tensor dy = pn::Tensor::from(r.y.shape(), dyv);
  const pn::Tensor dx = pn::ops::maxpool2d_backward(dy, r.argmax, x.shape(), spec, table());
  ASSERT_EQ(dx.shape(), x.shape());
  std::vector<double> dxr(static_cast<std::size_t>(x.numel())), dxabs(dxr.size());
  oracle::maxpool_backward(og, to_double(dyv).data(), amr.data(), dxr.data());
  oracle::maxpool_backward(og, abs_double(dyv).data(), amr.data(), dxabs.data());
  EXPECT_TRUE(all_close(dx.data(), dxr.data(), dxabs.data(), x.numel(), 2e-6, 0.0));

  const pn::Tensor ya = pn::ops::avgpool2d_forward(x, spec, table());
  ASSERT_EQ(ya.shape(), r.y.shape());
  std::vector<double> yar(static_cast<std::size_t>(ya.numel())), yaabs(yar.size());
  oracle::avgpool_forward(og, to_double(xv).data(), yar.data());
  oracle::avgpool_forward(og, abs_double(xv).data(), yaabs.data());
  EXPECT_TRUE(all_close(ya.data(), yar.data(), yaabs.data(), ya.numel(), 1e-5, 0.0));

  const pn::Tensor dxa = pn::ops::avgpool2d_backward(dy, x.shape(), spec, table());
  ASSERT_EQ(dxa.shape(), x.shape());
  std::vector<double> dxar(static_cast<std::size_t>(x.numel())), dxaabs(dxar.size());
  oracle::avgpool_backward(og, to_double(dyv).data(), dxar.data());
  oracle::avgpool_backward(og, abs_double(dyv).data(), dxaabs.data());
  EXPECT_TRUE(all_close(dxa.data(), dxar.data(), dxaabs.data(), x.numel(), 1e-5, 0.0));
}

PN_INSTANTIATE_FOR_EACH_ISA(PoolIsa);

// Hand-computed answers for the oracle itself: first maximum on ties, accumulation of shared
// switches, window means.
TEST(PoolOracle, KnownAnswers) {
  oracle::PoolGeom g;
  g.h = g.w = 3;
  g.kernel = 2;
  g.stride = 1;
  const std::vector<double> x = {1, 3, 3,  //
                                 3, 2, 1,  //
                                 0, 3, 1};
  std::vector<double> y(4);
  std::vector<std::int64_t> am(4);
  oracle::maxpool_forward(g, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<double>{3, 3, 3, 3}));
  EXPECT_EQ(am, (std::vector<std::int64_t>{1, 1, 3, 7}));
  const std::vector<double> dy = {1, 2, 3, 4};
  std::vector<double> dx(9, -1.0);
  oracle::maxpool_backward(g, dy.data(), am.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{0, 3, 0, 3, 0, 0, 0, 4, 0}));
  oracle::avgpool_forward(g, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{9.0 / 4, 9.0 / 4, 8.0 / 4, 7.0 / 4}));
  oracle::avgpool_backward(g, dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{0.25, 0.75, 0.5, 1.0, 2.5, 1.5, 0.75, 1.75, 1.0}));
}

}  // namespace
