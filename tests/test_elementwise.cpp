// ReLU forward/backward, bias_add and channel_sums: every kernel table against the scalar table
// and against the definitions (float64 oracle for the sums), at sizes that stress vector tails.
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

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
const float kDenorm = std::numeric_limits<float>::denorm_min();

const std::vector<std::int64_t> kSizes = {0, 1, 3, 7, 15, 16, 17, 31, 33, 127, 129, 1000, 1023};

// Random values in [-1, 1] with the awkward ones sprinkled in at varying positions (so they land
// in vector bodies and in scalar tails alike).
std::vector<float> with_specials(std::int64_t n, std::uint64_t seed) {
  std::vector<float> v = random_floats(n, seed);
  const float specials[] = {0.0f, -0.0f, kNaN, -kNaN, kInf, -kInf, kDenorm, -kDenorm,
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest()};
  TestRng rng(seed ^ 0xabcdefULL);
  for (std::int64_t i = 0; i < n; ++i) {
    if (rng.below(3) == 0) v[static_cast<std::size_t>(i)] = specials[rng.below(10)];
  }
  return v;
}

class ElementwiseIsa : public PerIsaTest {};

TEST_P(ElementwiseIsa, ReluForwardExact) {
  for (std::int64_t n : kSizes) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    const std::vector<float> x = with_specials(n, 100 + static_cast<std::uint64_t>(n));
    std::vector<float> y(x.size(), 12345.0f), ys(x.size(), 12345.0f);
    table().relu_forward(x.data(), y.data(), n);
    pn::kernels::scalar_table().relu_forward(x.data(), ys.data(), n);
    EXPECT_TRUE(bit_equal(y.data(), ys.data(), n)) << "vs scalar table";
    for (std::int64_t i = 0; i < n; ++i) {
      const float xi = x[static_cast<std::size_t>(i)];
      const float want = xi > 0.0f ? xi : 0.0f;  // NaN and -0 give +0
      ASSERT_TRUE(same_bits(y[static_cast<std::size_t>(i)], want)) << "x = " << xi << " gave " << y[static_cast<std::size_t>(i)];
    }
    // In place (y aliases x).
    std::vector<float> inplace = x;
    table().relu_forward(inplace.data(), inplace.data(), n);
    EXPECT_TRUE(bit_equal(inplace.data(), y.data(), n)) << "in place";
  }
}

TEST_P(ElementwiseIsa, ReluBackwardExactGateRules) {
  for (std::int64_t n : kSizes) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    const std::vector<float> gate = with_specials(n, 200 + static_cast<std::uint64_t>(n));
    const std::vector<float> dy = with_specials(n, 300 + static_cast<std::uint64_t>(n));
    std::vector<float> dx(gate.size(), 12345.0f), dxs(gate.size(), 12345.0f);
    table().relu_backward(dy.data(), gate.data(), dx.data(), n);
    pn::kernels::scalar_table().relu_backward(dy.data(), gate.data(), dxs.data(), n);
    EXPECT_TRUE(bit_equal(dx.data(), dxs.data(), n)) << "vs scalar table";
    for (std::int64_t i = 0; i < n; ++i) {
      const float g = gate[static_cast<std::size_t>(i)];
      // The gate is open only for g > 0: exactly 0, -0, NaN and negatives are closed (+0 out).
      const float want = g > 0.0f ? dy[static_cast<std::size_t>(i)] : 0.0f;
      ASSERT_TRUE(same_bits(dx[static_cast<std::size_t>(i)], want))
          << "gate " << g << " dy " << dy[static_cast<std::size_t>(i)] << " gave " << dx[static_cast<std::size_t>(i)];
    }
    std::vector<float> inplace = dy;
    table().relu_backward(inplace.data(), gate.data(), inplace.data(), n);
    EXPECT_TRUE(bit_equal(inplace.data(), dx.data(), n)) << "in place (dx aliases dy)";
  }
}

TEST_P(ElementwiseIsa, ReluGateSpecialValuesExplicit) {
  // 19 entries: two AVX2 vectors plus a tail, one AVX-512 vector plus a tail.
  const std::vector<float> gate = {0.0f, -0.0f, kNaN, -1.0f, kDenorm, 1.0f, -kDenorm, kInf, -kInf, 0.0f,
                                   2.0f, 0.0f,  kNaN, 3.0f,  -0.0f,   4.0f, 0.0f,     -kNaN, 5.0f};
  const std::vector<float> dy(gate.size(), 7.0f);
  std::vector<float> dx(gate.size(), -1.0f);
  table().relu_backward(dy.data(), gate.data(), dx.data(), static_cast<std::int64_t>(gate.size()));
  const std::vector<float> want = {0, 0, 0, 0, 7, 7, 0, 7, 0, 0, 7, 0, 0, 7, 0, 7, 0, 0, 7};
  EXPECT_TRUE(bit_equal(dx.data(), want.data(), static_cast<std::int64_t>(want.size())));

  std::vector<float> y(gate.size(), -1.0f);
  table().relu_forward(gate.data(), y.data(), static_cast<std::int64_t>(gate.size()));
  const std::vector<float> want_y = {0, 0, 0, 0, kDenorm, 1, 0, kInf, 0, 0, 2, 0, 0, 3, 0, 4, 0, 0, 5};
  EXPECT_TRUE(bit_equal(y.data(), want_y.data(), static_cast<std::int64_t>(want_y.size())));
}

TEST_P(ElementwiseIsa, BiasAddExact) {
  for (std::int64_t outer : {1, 3}) {
    for (std::int64_t channels : {1, 3, 7, 16, 17, 33, 129}) {
      for (std::int64_t inner : {1, 3, 7, 16, 17, 33, 130}) {
        SCOPED_TRACE(::testing::Message() << "outer " << outer << " channels " << channels << " inner " << inner);
        const std::int64_t n = outer * channels * inner;
        const std::vector<float> x0 = random_floats(n, static_cast<std::uint64_t>(7 * n + channels));
        const std::vector<float> bias = random_floats(channels, static_cast<std::uint64_t>(channels + 99));
        std::vector<float> x = x0, xs = x0;
        table().bias_add(x.data(), bias.data(), outer, channels, inner);
        pn::kernels::scalar_table().bias_add(xs.data(), bias.data(), outer, channels, inner);
        EXPECT_TRUE(bit_equal(x.data(), xs.data(), n)) << "vs scalar table";
        // One float addition per element is correctly rounded: the result is exact.
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t c = 0; c < channels; ++c)
            for (std::int64_t i = 0; i < inner; ++i) {
              const auto at = static_cast<std::size_t>((o * channels + c) * inner + i);
              ASSERT_TRUE(same_bits(x[at], x0[at] + bias[static_cast<std::size_t>(c)])) << "at " << at;
            }
        if (HasFailure()) return;
      }
    }
  }
}

TEST_P(ElementwiseIsa, ChannelSumsAgainstOracle) {
  for (std::int64_t outer : {1, 3, 7}) {
    for (std::int64_t channels : {1, 3, 16, 17, 33, 129}) {
      for (std::int64_t inner : {1, 7, 16, 31, 33, 129, 1000}) {
        for (bool acc : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "outer " << outer << " channels " << channels << " inner " << inner
                                            << " accumulate " << acc);
          const std::int64_t n = outer * channels * inner;
          const std::vector<float> x = random_floats(n, static_cast<std::uint64_t>(n + 3 * channels + acc));
          const std::vector<float> out0 =
              acc ? random_floats(channels, static_cast<std::uint64_t>(channels)) : std::vector<float>(static_cast<std::size_t>(channels), kNaN);
          std::vector<float> out = out0, outs = out0;
          table().channel_sums(x.data(), out.data(), outer, channels, inner, acc);
          pn::kernels::scalar_table().channel_sums(x.data(), outs.data(), outer, channels, inner, acc);

          std::vector<double> ref(static_cast<std::size_t>(channels)), absref(ref.size());
          oracle::channel_sums(to_double(x).data(), ref.data(), outer, channels, inner);
          oracle::channel_sums(abs_double(x).data(), absref.data(), outer, channels, inner);
          if (acc) {
            for (std::size_t c = 0; c < ref.size(); ++c) {
              ref[c] += out0[c];
              absref[c] += std::fabs(out0[c]);
            }
          }
          const double rel = reduction_rel_tol(outer * inner);
          EXPECT_TRUE(all_close(out.data(), ref.data(), absref.data(), channels, rel)) << "vs oracle";
          EXPECT_TRUE(all_close_pair(out.data(), outs.data(), absref.data(), channels, rel)) << "vs scalar table";
          if (HasFailure()) return;
        }
      }
    }
  }
}

// The tensor-level wrappers run the chosen table on the whole tensor.
TEST_P(ElementwiseIsa, OpsRelu) {
  const std::vector<float> zv = with_specials(2 * 3 * 5 * 7, 400);
  const std::vector<float> dyv = random_floats(2 * 3 * 5 * 7, 401);
  const pn::Tensor z = pn::Tensor::from(pn::Shape{2, 3, 5, 7}, zv);
  const pn::Tensor dy = pn::Tensor::from(pn::Shape{2, 3, 5, 7}, dyv);
  const pn::Tensor y = pn::ops::relu_forward(z, table());
  const pn::Tensor dx = pn::ops::relu_backward(dy, z, table());
  ASSERT_EQ(y.shape(), z.shape());
  ASSERT_EQ(dx.shape(), z.shape());
  for (std::int64_t i = 0; i < z.numel(); ++i) {
    ASSERT_TRUE(same_bits(y[i], z[i] > 0.0f ? z[i] : 0.0f)) << i;
    ASSERT_TRUE(same_bits(dx[i], z[i] > 0.0f ? dy[i] : 0.0f)) << i;
  }
}

PN_INSTANTIATE_FOR_EACH_ISA(ElementwiseIsa);

}  // namespace
