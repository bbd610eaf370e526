// Chapter 2: every differentiable op's backward against central differences of an independent
// float64 forward (tests/oracle and the plain loops below), plus the graph mechanics: gradient
// accumulation, shared inputs, and a whole small network checked end to end.
#include "oracle/oracle.h"
#include "pn/autograd/grad_check.h"
#include "pn/autograd/ops.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

namespace {

using pn::Shape;
using pn::Tensor;
namespace ag = pn::ag;

// Loss weights: the loss of every check is sum(C ⊙ op(x)) for a fixed random C, so every output
// element contributes with a different weight and a mis-routed gradient cannot cancel out.
Tensor random_tensor(Shape s, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  pn::Rng rng(seed);
  Tensor t(s);
  rng.fill_uniform(t.values(), lo, hi);
  return t;
}

// Values whose magnitude is at least `gap`, so a ±h perturbation never crosses a ReLU kink.
Tensor away_from_zero(Shape s, std::uint64_t seed, float gap) {
  Tensor t = random_tensor(s, seed);
  for (float& v : t.values()) v = v >= 0 ? v + gap : v - gap;
  return t;
}

// A random permutation of a grid with spacing `step`: every pooling window has a unique maximum
// with a margin of `step`, so ±h never changes a switch.
Tensor distinct_values(Shape s, std::uint64_t seed, float step) {
  Tensor t(s);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(t.numel()));
  std::iota(idx.begin(), idx.end(), 0);
  pn::Rng rng(seed);
  for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(idx[static_cast<std::size_t>(i)]) * step - 1.0f;
  return t;
}

std::vector<double> to_double(const Tensor& t) { return std::vector<double>(t.values().begin(), t.values().end()); }

double weighted_sum(const std::vector<double>& y, const Tensor& c) {
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * static_cast<double>(c[static_cast<std::int64_t>(i)]);
  return s;
}

// Analytic gradient of sum(C ⊙ f(params...)) with respect to params[which].
Tensor analytic(const std::function<ag::Var(std::vector<ag::Var>&)>& f, const std::vector<const Tensor*>& inputs,
                std::size_t which, const Tensor& c) {
  std::vector<ag::Var> vars;
  for (const Tensor* t : inputs) vars.push_back(ag::Var::parameter(t->clone()));
  ag::Var loss = ag::sum(ag::mul_const(f(vars), c));
  loss.backward();
  return vars[which].grad().clone();
}

void expect_close(const Tensor& a, const Tensor& n, double tol, const char* what) {
  const auto r = ag::compare_gradients(a, n, 1e-2);
  EXPECT_LT(r.max_rel_error, tol) << what << ": worst element " << r.worst_index << " analytic "
                                  << (r.worst_index >= 0 ? a[r.worst_index] : 0.0f) << " numeric "
                                  << (r.worst_index >= 0 ? n[r.worst_index] : 0.0f);
}

constexpr double kH = 1e-3;      // step of the central differences
constexpr double kTol = 2e-3;    // float32 backward vs float64 differences

TEST(Autograd, LinearAllInputs) {
  const Tensor x = random_tensor(Shape{3, 7}, 1), w = random_tensor(Shape{5, 7}, 2), b = random_tensor(Shape{5}, 3);
  const Tensor c = random_tensor(Shape{3, 5}, 4);
  const auto ref = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
    std::vector<double> y(15);
    for (int n = 0; n < 3; ++n)
      for (int o = 0; o < 5; ++o) {
        double s = bb[o];
        for (int d = 0; d < 7; ++d) s += static_cast<double>(xx[n * 7 + d]) * ww[o * 7 + d];
        y[static_cast<std::size_t>(n * 5 + o)] = s;
      }
    return weighted_sum(y, c);
  };
  const auto f = [](std::vector<ag::Var>& v) { return ag::linear(v[0], v[1], v[2]); };
  expect_close(analytic(f, {&x, &w, &b}, 0, c), ag::numeric_gradient([&](const Tensor& t) { return ref(t, w, b); }, x, kH), kTol, "dx");
  expect_close(analytic(f, {&x, &w, &b}, 1, c), ag::numeric_gradient([&](const Tensor& t) { return ref(x, t, b); }, w, kH), kTol, "dW");
  expect_close(analytic(f, {&x, &w, &b}, 2, c), ag::numeric_gradient([&](const Tensor& t) { return ref(x, w, t); }, b, kH), kTol, "db");
}

struct ConvCase {
  std::int64_t n, c, h, w, o, k, stride, pad;
};

class AutogradConv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(AutogradConv, AllInputs) {
  const ConvCase p = GetParam();
  const Tensor x = random_tensor(Shape{p.n, p.c, p.h, p.w}, 11), w = random_tensor(Shape{p.o, p.c, p.k, p.k}, 12);
  const Tensor b = random_tensor(Shape{p.o}, 13);
  oracle::ConvGeom g;
  g.batch = p.n, g.in_c = p.c, g.in_h = p.h, g.in_w = p.w, g.out_c = p.o, g.kernel_h = p.k, g.kernel_w = p.k;
  g.stride = p.stride, g.pad = p.pad;
  const Tensor c = random_tensor(Shape{p.n, p.o, g.out_h(), g.out_w()}, 14);
  const auto ref = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
    std::vector<double> y(static_cast<std::size_t>(g.y_size()));
    const auto xd = to_double(xx), wd = to_double(ww), bd = to_double(bb);
    oracle::conv2d_forward(g, xd.data(), wd.data(), bd.data(), y.data());
    return weighted_sum(y, c);
  };
  const auto f = [&](std::vector<ag::Var>& v) { return ag::conv2d(v[0], v[1], v[2], {p.stride, p.pad}); };
  expect_close(analytic(f, {&x, &w, &b}, 0, c), ag::numeric_gradient([&](const Tensor& t) { return ref(t, w, b); }, x, kH), kTol, "dx");
  expect_close(analytic(f, {&x, &w, &b}, 1, c), ag::numeric_gradient([&](const Tensor& t) { return ref(x, t, b); }, w, kH), kTol, "dW");
  expect_close(analytic(f, {&x, &w, &b}, 2, c), ag::numeric_gradient([&](const Tensor& t) { return ref(x, w, t); }, b, kH), kTol, "db");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AutogradConv,
                         ::testing::Values(ConvCase{2, 3, 6, 5, 4, 3, 1, 1}, ConvCase{1, 2, 7, 7, 3, 3, 2, 0},
                                           ConvCase{2, 1, 5, 6, 2, 1, 1, 0}, ConvCase{1, 2, 8, 8, 3, 5, 2, 2}));

TEST(Autograd, MaxPoolOverlappingWindows) {
  for (auto [k, s] : {std::pair<std::int64_t, std::int64_t>{2, 2}, {3, 2}, {3, 1}}) {
    const Tensor x = distinct_values(Shape{2, 2, 7, 7}, 21 + static_cast<std::uint64_t>(k * 10 + s), 0.01f);
    oracle::PoolGeom g;
    g.planes = 4, g.h = 7, g.w = 7, g.kernel = k, g.stride = s;
    const Tensor c = random_tensor(Shape{2, 2, g.out_h(), g.out_w()}, 22);
    const auto ref = [&](const Tensor& xx) {
      std::vector<double> y(static_cast<std::size_t>(g.out_size()));
      std::vector<std::int64_t> am(y.size());
      const auto xd = to_double(xx);
      oracle::maxpool_forward(g, xd.data(), y.data(), am.data());
      return weighted_sum(y, c);
    };
    const auto f = [&](std::vector<ag::Var>& v) { return ag::maxpool2d(v[0], {k, s}); };
    expect_close(analytic(f, {&x}, 0, c), ag::numeric_gradient(ref, x, kH), kTol, "maxpool dx");
  }
}

TEST(Autograd, AvgPool) {
  const Tensor x = random_tensor(Shape{2, 3, 6, 7}, 31);
  oracle::PoolGeom g;
  g.planes = 6, g.h = 6, g.w = 7, g.kernel = 3, g.stride = 2;
  const Tensor c = random_tensor(Shape{2, 3, g.out_h(), g.out_w()}, 32);
  const auto ref = [&](const Tensor& xx) {
    std::vector<double> y(static_cast<std::size_t>(g.out_size()));
    const auto xd = to_double(xx);
    oracle::avgpool_forward(g, xd.data(), y.data());
    return weighted_sum(y, c);
  };
  const auto f = [](std::vector<ag::Var>& v) { return ag::avgpool2d(v[0], {3, 2}); };
  expect_close(analytic(f, {&x}, 0, c), ag::numeric_gradient(ref, x, kH), kTol, "avgpool dx");
}

TEST(Autograd, ReluAwayFromTheKink) {
  const Tensor x = away_from_zero(Shape{4, 9}, 41, 0.05f);
  const Tensor c = random_tensor(Shape{4, 9}, 42);
  const auto ref = [&](const Tensor& xx) {
    std::vector<double> y(36);
    for (int i = 0; i < 36; ++i) y[static_cast<std::size_t>(i)] = std::max(0.0, static_cast<double>(xx[i]));
    return weighted_sum(y, c);
  };
  const auto f = [](std::vector<ag::Var>& v) { return ag::relu(v[0]); };
  const Tensor a = analytic(f, {&x}, 0, c);
  expect_close(a, ag::numeric_gradient(ref, x, kH), kTol, "relu dx");
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(a[i], x[i] > 0 ? c[i] : 0.0f);
}

TEST(Autograd, FlattenKeepsOrder) {
  const Tensor x = random_tensor(Shape{2, 3, 2, 2}, 51);
  const Tensor c = random_tensor(Shape{2, 12}, 52);
  const auto f = [](std::vector<ag::Var>& v) { return ag::flatten(v[0]); };
  const Tensor a = analytic(f, {&x}, 0, c);
  ASSERT_EQ(a.shape(), x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(a[i], c[i]);
}

TEST(Autograd, DropoutGradientIsTheMask) {
  const Tensor x = random_tensor(Shape{8, 50}, 61);
  const Tensor c = Tensor::full(Shape{8, 50}, 1.0f);
  pn::Rng rng(7);
  ag::Var v = ag::Var::parameter(x.clone());
  ag::Var y = ag::dropout(v, 0.25f, true, &rng);
  ag::sum(y).backward();
  int dropped = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float g = v.grad()[i];
    ASSERT_TRUE(g == 0.0f || std::fabs(g - 1.0f / 0.75f) < 1e-6f) << g;
    EXPECT_FLOAT_EQ(y.value()[i], x[i] * g);  // the forward used the same mask
    dropped += g == 0.0f;
  }
  EXPECT_GT(dropped, 60);  // about 100 of 400 expected
  EXPECT_LT(dropped, 140);
  // Inference: identity, gradient one.
  ag::Var v2 = ag::Var::parameter(x.clone());
  ag::sum(ag::dropout(v2, 0.25f, false, nullptr)).backward();
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(v2.grad()[i], 1.0f);
}

TEST(Autograd, SoftmaxCrossEntropy) {
  const Tensor z = random_tensor(Shape{4, 6}, 71, -3.0f, 3.0f);
  const std::vector<std::int32_t> labels = {0, 5, 2, 2};
  const auto ref = [&](const Tensor& zz) {
    double loss = 0;
    for (int n = 0; n < 4; ++n) {
      double s = 0;
      for (int k = 0; k < 6; ++k) s += std::exp(static_cast<double>(zz[n * 6 + k]));
      loss += std::log(s) - zz[n * 6 + labels[static_cast<std::size_t>(n)]];
    }
    return loss / 4;
  };
  ag::Var v = ag::Var::parameter(z.clone());
  ag::Var loss = ag::softmax_cross_entropy(v, labels);
  EXPECT_NEAR(loss.value()[0], ref(z), 1e-6);
  loss.backward();
  expect_close(v.grad(), ag::numeric_gradient(ref, z, kH), kTol, "softmax-CE dz");
  // Large logits: the max subtraction keeps it finite.
  Tensor big = z.clone();
  for (float& x : big.values()) x *= 400.0f;
  EXPECT_TRUE(std::isfinite(ag::softmax_cross_entropy(ag::Var::constant(std::move(big)), labels).value()[0]));
  EXPECT_THROW(ag::softmax_cross_entropy(ag::Var::constant(z.clone()), {0, 1, 6, 0}), pn::Error);
}

TEST(Autograd, MeanSquaredError) {
  const Tensor p = random_tensor(Shape{3, 4}, 81), t = random_tensor(Shape{3, 4}, 82);
  const auto ref = [&](const Tensor& pp) {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += std::pow(static_cast<double>(pp[i]) - t[i], 2);
    return s / 12;
  };
  ag::Var v = ag::Var::parameter(p.clone());
  ag::Var loss = ag::mse(v, t);
  EXPECT_NEAR(loss.value()[0], ref(p), 1e-6);
  loss.backward();
  expect_close(v.grad(), ag::numeric_gradient(ref, p, kH), kTol, "mse dp");
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  const Tensor x = random_tensor(Shape{2, 3}, 91), w = random_tensor(Shape{4, 3}, 92);
  ag::Var xv = ag::Var::constant(x.clone()), wv = ag::Var::parameter(w.clone());
  ag::sum(ag::linear(xv, wv, ag::Var())).backward();
  const Tensor once = wv.grad().clone();
  ag::sum(ag::linear(xv, wv, ag::Var())).backward();
  for (std::int64_t i = 0; i < once.numel(); ++i) EXPECT_FLOAT_EQ(wv.grad()[i], 2 * once[i]);
  wv.zero_grad();
  EXPECT_FALSE(wv.has_grad());
  EXPECT_FALSE(xv.has_grad());  // constants collect nothing
}

TEST(Autograd, SharedInputSumsBothPaths) {
  // loss = sum(2·relu(x) + 3·x): x feeds two branches, and its gradient must add both.
  const Tensor x = away_from_zero(Shape{1, 4}, 101, 0.1f);
  ag::Var xv = ag::Var::parameter(x.clone());
  ag::Var a = ag::mul_const(ag::relu(xv), Tensor::full(Shape{1, 4}, 2.0f));
  ag::Var b = ag::mul_const(xv, Tensor::full(Shape{1, 4}, 3.0f));
  ag::sum(ag::add(a, b)).backward();
  for (std::int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(xv.grad()[i], (x[i] > 0 ? 2.0f : 0.0f) + 3.0f);
}

TEST(Autograd, BackwardNeedsAScalar) {
  ag::Var v = ag::Var::parameter(Tensor::zeros(Shape{2, 2}));
  EXPECT_THROW(ag::relu(v).backward(), pn::Error);
}

// A whole small network (conv, relu, max-pool, flatten, linear, softmax cross-entropy): the float
// autograd against central differences of the same network computed in float64 by the oracle
// functions. A small step keeps the probability of crossing a ReLU kink or a pooling tie negligible.
TEST(Autograd, WholeNetworkInputGradient) {
  const Tensor x = random_tensor(Shape{2, 2, 6, 6}, 111);
  const Tensor w1 = random_tensor(Shape{3, 2, 3, 3}, 112), b1 = random_tensor(Shape{3}, 113);
  const Tensor w2 = random_tensor(Shape{4, 27}, 114), b2 = random_tensor(Shape{4}, 115);
  const std::vector<std::int32_t> labels = {1, 3};
  ag::Var xv = ag::Var::parameter(x.clone());
  {
    ag::Var h = ag::relu(ag::conv2d(xv, ag::Var::constant(w1.clone()), ag::Var::constant(b1.clone()), {1, 1}));
    h = ag::flatten(ag::maxpool2d(h, {2, 2}));
    ag::softmax_cross_entropy(ag::linear(h, ag::Var::constant(w2.clone()), ag::Var::constant(b2.clone())), labels).backward();
  }
  oracle::ConvGeom cg;
  cg.batch = 2, cg.in_c = 2, cg.in_h = 6, cg.in_w = 6, cg.out_c = 3, cg.kernel_h = 3, cg.kernel_w = 3, cg.stride = 1, cg.pad = 1;
  oracle::PoolGeom pg;
  pg.planes = 6, pg.h = 6, pg.w = 6, pg.kernel = 2, pg.stride = 2;
  const auto w1d = to_double(w1), b1d = to_double(b1), w2d = to_double(w2), b2d = to_double(b2);
  const auto f = [&](const Tensor& t) {
    const auto xd = to_double(t);
    std::vector<double> z(static_cast<std::size_t>(cg.y_size())), p(static_cast<std::size_t>(pg.out_size()));
    std::vector<std::int64_t> am(p.size());
    oracle::conv2d_forward(cg, xd.data(), w1d.data(), b1d.data(), z.data());
    for (double& v : z) v = std::max(v, 0.0);
    oracle::maxpool_forward(pg, z.data(), p.data(), am.data());
    double loss = 0;
    for (int n = 0; n < 2; ++n) {
      double logits[4], mx = -1e300, s = 0;
      for (int o = 0; o < 4; ++o) {
        logits[o] = b2d[static_cast<std::size_t>(o)];
        for (int d = 0; d < 27; ++d) logits[o] += w2d[static_cast<std::size_t>(o * 27 + d)] * p[static_cast<std::size_t>(n * 27 + d)];
        mx = std::max(mx, logits[o]);
      }
      for (double l : logits) s += std::exp(l - mx);
      loss += std::log(s) + mx - logits[labels[static_cast<std::size_t>(n)]];
    }
    return loss / 2;
  };
  expect_close(xv.grad(), ag::numeric_gradient(f, x, 1e-5), kTol, "network dx");
}

}  // namespace
