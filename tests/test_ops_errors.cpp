// Shape errors of pn::ops: every mismatch is a pn::Error that names the operation and both
// shapes (or the offending sizes), and nothing is computed.
#include "pn/core/tensor.h"
#include "pn/ops/ops.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using pn::Shape;
using pn::Tensor;
using pntest::error_message;
namespace ops = pn::ops;

Tensor ones(Shape s) { return Tensor::full(s, 1.0f); }

TEST(OpsErrors, MatmulInnerDimensions) {
  const Tensor a = ones({2, 3}), b = ones({4, 5});
  EXPECT_THAT(error_message([&] { ops::matmul(a, b); }), AllOf(HasSubstr("matmul"), HasSubstr("(2, 3)"), HasSubstr("(4, 5)")));
  // With transposes the inner dimensions are the other ones: (3, 2)ᵀ (4, 2)ᵀ has k = 3 vs 2.
  const Tensor at = ones({3, 2}), bt = ones({5, 2});
  EXPECT_NO_THROW(ops::matmul(a, ones({3, 5})));
  EXPECT_NO_THROW(ops::matmul(at, ones({3, 5}), true, false));
  EXPECT_NO_THROW(ops::matmul(a, ones({5, 3}), false, true));
  EXPECT_THAT(error_message([&] { ops::matmul(at, bt, true, true); }),
              AllOf(HasSubstr("matmul"), HasSubstr("(3, 2)"), HasSubstr("(5, 2)")));
}

TEST(OpsErrors, MatmulRank) {
  EXPECT_THAT(error_message([] { ops::matmul(ones({2, 3, 4}), ones({4, 5})); }),
              AllOf(HasSubstr("matmul"), HasSubstr("rank 2"), HasSubstr("(2, 3, 4)")));
  EXPECT_THAT(error_message([] { ops::matmul(ones({2, 3}), ones({3})); }),
              AllOf(HasSubstr("matmul"), HasSubstr("(3,)")));
}

TEST(OpsErrors, MatmulAccumulateNeedsMatchingOutput) {
  const Tensor a = ones({2, 3}), b = ones({3, 5});
  Tensor out = Tensor::full(Shape{5, 2}, 7.0f);
  EXPECT_THAT(error_message([&] { ops::matmul_into(a, b, false, false, out, true); }),
              AllOf(HasSubstr("matmul"), HasSubstr("(2, 5)"), HasSubstr("(5, 2)")));
  for (float v : out.values()) EXPECT_EQ(v, 7.0f) << "nothing may be written on error";
  // Without accumulate a wrongly shaped output is simply replaced.
  ops::matmul_into(a, b, false, false, out, false);
  EXPECT_EQ(out.shape(), (Shape{2, 5}));
  for (float v : out.values()) EXPECT_EQ(v, 3.0f);
}

TEST(OpsErrors, LinearFeaturesAndBias) {
  const Tensor x = ones({4, 10}), w = ones({3, 9});
  EXPECT_THAT(error_message([&] { ops::linear_forward(x, w, nullptr); }),
              AllOf(HasSubstr("linear"), HasSubstr("(4, 10)"), HasSubstr("(3, 9)")));
  const Tensor w_ok = ones({3, 10}), bias = ones({4});
  EXPECT_THAT(error_message([&] { ops::linear_forward(x, w_ok, &bias); }),
              AllOf(HasSubstr("linear"), HasSubstr("bias"), HasSubstr("(3,)"), HasSubstr("(4,)")));
  EXPECT_THAT(error_message([&] { ops::linear_forward(ones({4, 10, 1}), w_ok, nullptr); }),
              AllOf(HasSubstr("linear"), HasSubstr("(4, 10, 1)")));
}

TEST(OpsErrors, Conv2dChannelsMismatch) {
  const Tensor x = ones({1, 3, 8, 8}), w = ones({4, 2, 3, 3});
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, w, nullptr, {1, 1}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(1, 3, 8, 8)"), HasSubstr("(4, 2, 3, 3)")));
  EXPECT_THAT(error_message([&] { (void)ops::conv2d_output_shape(x.shape(), w.shape(), {1, 1}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(1, 3, 8, 8)"), HasSubstr("(4, 2, 3, 3)")));
}

TEST(OpsErrors, Conv2dRanks) {
  EXPECT_THAT(error_message([] { ops::conv2d_forward(ones({3, 8, 8}), ones({4, 3, 3, 3}), nullptr, {}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(3, 8, 8)")));
  EXPECT_THAT(error_message([] { ops::conv2d_forward(ones({1, 3, 8, 8}), ones({4, 27}), nullptr, {}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(4, 27)")));
}

TEST(OpsErrors, Conv2dBiasWrongSize) {
  const Tensor x = ones({1, 3, 8, 8}), w = ones({4, 3, 3, 3}), b = ones({5});
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, w, &b, {1, 1}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("bias"), HasSubstr("(4,)"), HasSubstr("(5,)")));
  const Tensor b2 = ones({1, 4});
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, w, &b2, {1, 1}); }), HasSubstr("(1, 4)"));
}

TEST(OpsErrors, Conv2dImpossibleGeometry) {
  const Tensor x = ones({1, 3, 4, 4});
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, ones({2, 3, 5, 5}), nullptr, {1, 0}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("5x5"), HasSubstr("4x4")));
  EXPECT_NO_THROW(ops::conv2d_forward(x, ones({2, 3, 5, 5}), nullptr, {1, 1}));  // fits with padding
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, ones({2, 3, 3, 3}), nullptr, {0, 1}); }),
              AllOf(HasSubstr("stride"), HasSubstr("0")));
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(x, ones({2, 3, 3, 3}), nullptr, {1, -1}); }),
              AllOf(HasSubstr("padding"), HasSubstr("-1")));
  EXPECT_THAT(error_message([&] { ops::conv2d_forward(ones({1, 3, 0, 4}), ones({2, 3, 1, 1}), nullptr, {}); }),
              HasSubstr("conv2d"));
}

// Padding (or sizes) from an untrusted model file give a pn::Error, never signed overflow.
TEST(OpsErrors, HugePaddingIsAnErrorNotOverflow) {
  const Tensor x = ones({1, 1, 4, 4}), w = ones({1, 1, 3, 3});
  EXPECT_THROW(ops::conv2d_forward(x, w, nullptr, {1, std::numeric_limits<std::int64_t>::max() / 2 + 1}), pn::Error);
}

TEST(OpsErrors, Conv2dBackwardShapes) {
  const Tensor w = ones({4, 3, 3, 3});
  const Shape xs{2, 3, 8, 8};  // output (2, 4, 8, 8) with padding 1
  const Tensor dy_bad = ones({2, 4, 6, 6});
  EXPECT_THAT(error_message([&] { ops::conv2d_backward_data(dy_bad, w, xs, {1, 1}); }),
              AllOf(HasSubstr("conv2d backward-data"), HasSubstr("(2, 4, 8, 8)"), HasSubstr("(2, 4, 6, 6)")));
  EXPECT_THAT(error_message([&] { ops::conv2d_backward_data(ones({2, 4, 8, 8}), w, Shape{2, 5, 8, 8}, {1, 1}); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(2, 5, 8, 8)"), HasSubstr("(4, 3, 3, 3)")));

  const Tensor x = ones(xs);
  Tensor dw = ones({4, 3, 3, 3});
  EXPECT_THAT(error_message([&] { ops::conv2d_backward_weight(x, dy_bad, {1, 1}, dw, nullptr, false); }),
              AllOf(HasSubstr("conv2d backward-weight"), HasSubstr("(2, 4, 8, 8)"), HasSubstr("(2, 4, 6, 6)")));
  Tensor db = ones({3});
  EXPECT_THAT(error_message([&] { ops::conv2d_backward_weight(x, ones({2, 4, 8, 8}), {1, 1}, dw, &db, false); }),
              AllOf(HasSubstr("conv2d backward-weight"), HasSubstr("bias"), HasSubstr("(4,)"), HasSubstr("(3,)")));
  for (float v : dw.values()) EXPECT_EQ(v, 1.0f) << "nothing may be written on error";
  Tensor dw_bad = ones({4, 2, 3, 3});
  EXPECT_THAT(error_message([&] { ops::conv2d_backward_weight(x, ones({2, 4, 8, 8}), {1, 1}, dw_bad, nullptr, true); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("(2, 3, 8, 8)"), HasSubstr("(4, 2, 3, 3)")));
}

TEST(OpsErrors, PoolWindowLargerThanInput) {
  const Tensor x = ones({1, 2, 2, 5});
  for (const char* op : {"maxpool2d", "avgpool2d"}) {
    SCOPED_TRACE(op);
    const std::string msg = std::string(op) == "maxpool2d"
                                ? error_message([&] { ops::maxpool2d_forward(x, {3, 1}); })
                                : error_message([&] { ops::avgpool2d_forward(x, {3, 1}); });
    EXPECT_THAT(msg, AllOf(HasSubstr(op), HasSubstr("3x3"), HasSubstr("(1, 2, 2, 5)")));
  }
  EXPECT_THAT(error_message([&] { (void)ops::pool_output_shape(x.shape(), {3, 3}, "mypool"); }),
              AllOf(HasSubstr("mypool"), HasSubstr("(1, 2, 2, 5)")));
  EXPECT_NO_THROW(ops::maxpool2d_forward(x, {2, 2}));
}

TEST(OpsErrors, PoolBadSpecAndRank) {
  const Tensor x = ones({1, 1, 4, 4});
  EXPECT_THAT(error_message([&] { ops::maxpool2d_forward(x, {0, 1}); }), AllOf(HasSubstr("maxpool2d"), HasSubstr("kernel")));
  EXPECT_THAT(error_message([&] { ops::avgpool2d_forward(x, {2, 0}); }), AllOf(HasSubstr("avgpool2d"), HasSubstr("stride")));
  EXPECT_THAT(error_message([] { ops::maxpool2d_forward(ones({4, 4}), {2, 2}); }),
              AllOf(HasSubstr("maxpool2d"), HasSubstr("(4, 4)")));
}

TEST(OpsErrors, PoolBackwardShapes) {
  const Shape xs{1, 2, 4, 4};  // kernel 2 stride 2 -> (1, 2, 2, 2)
  const Tensor dy_bad = ones({1, 2, 3, 3});
  const std::vector<std::int32_t> am(9, 0);
  EXPECT_THAT(error_message([&] { ops::maxpool2d_backward(dy_bad, am, xs, {2, 2}); }),
              AllOf(HasSubstr("maxpool2d backward"), HasSubstr("(1, 2, 2, 2)"), HasSubstr("(1, 2, 3, 3)")));
  EXPECT_THAT(error_message([&] { ops::avgpool2d_backward(dy_bad, xs, {2, 2}); }),
              AllOf(HasSubstr("avgpool2d backward"), HasSubstr("(1, 2, 2, 2)"), HasSubstr("(1, 2, 3, 3)")));
  EXPECT_THAT(error_message([&] { ops::avgpool2d_backward(ones({1, 2, 1, 1}), Shape{1, 2, 1, 1}, {2, 2}); }),
              AllOf(HasSubstr("avgpool2d backward"), HasSubstr("(1, 2, 1, 1)")));
}

TEST(OpsErrors, MaxPoolBackwardSwitches) {
  const Shape xs{1, 2, 4, 4};
  const Tensor dy = ones({1, 2, 2, 2});
  // Wrong number of switches.
  EXPECT_THAT(error_message([&] { ops::maxpool2d_backward(dy, std::vector<std::int32_t>(7, 0), xs, {2, 2}); }),
              AllOf(HasSubstr("maxpool2d backward"), HasSubstr("7"), HasSubstr("(1, 2, 2, 2)")));
  // Out of the plane on either side.
  std::vector<std::int32_t> am(8, 0);
  am[5] = 16;
  EXPECT_THAT(error_message([&] { ops::maxpool2d_backward(dy, am, xs, {2, 2}); }),
              AllOf(HasSubstr("maxpool2d backward"), HasSubstr("16"), HasSubstr("4x4")));
  am[5] = -1;
  EXPECT_THAT(error_message([&] { ops::maxpool2d_backward(dy, am, xs, {2, 2}); }),
              AllOf(HasSubstr("maxpool2d backward"), HasSubstr("-1")));
  am[5] = 15;
  EXPECT_NO_THROW(ops::maxpool2d_backward(dy, am, xs, {2, 2}));
}

TEST(OpsErrors, ReluBackwardMismatch) {
  const Tensor dy = ones({2, 3}), z = ones({3, 2});
  EXPECT_THAT(error_message([&] { ops::relu_backward(dy, z); }),
              AllOf(HasSubstr("relu backward"), HasSubstr("(2, 3)"), HasSubstr("(3, 2)")));
  EXPECT_THAT(error_message([&] { ops::relu_backward(ones({6}), z); }), AllOf(HasSubstr("(6,)"), HasSubstr("(3, 2)")));
}

}  // namespace
