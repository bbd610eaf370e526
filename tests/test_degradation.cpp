// The image degradation experiment of Fig. 4 (pn::eval): patch sums with a non-divisible border,
// the patch order and its ties, the mean replacement, the curve's clean start and batching, and
// the AOPC of a linear model whose probabilities are known in closed form.
#include "pn/eval/degradation.h"

#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

namespace {

using pn::Shape;
using pn::Tensor;
namespace ev = pn::eval;

// Channel 0 is all ones (each patch scores its pixel count), channel 1 holds 7h + w.
Tensor ramp_image() {
  Tensor t(Shape{2, 5, 7});
  for (std::int64_t h = 0; h < 5; ++h) {
    for (std::int64_t w = 0; w < 7; ++w) {
      t.at({0, h, w}) = 1.0f;
      t.at({1, h, w}) = static_cast<float>(7 * h + w);
    }
  }
  return t;
}

TEST(degradation, GridCoversTheRemainderWithNarrowerPatches) {
  const ev::PatchGrid g = ev::patch_grid(5, 7, 3);
  EXPECT_EQ(g.rows, 2);
  EXPECT_EQ(g.cols, 3);
  EXPECT_EQ(g.count(), 6);
  const ev::PatchRect last = g.rect(5);  // rows 3-4, column 6
  EXPECT_EQ(last.row0, 3);
  EXPECT_EQ(last.row1, 5);
  EXPECT_EQ(last.col0, 6);
  EXPECT_EQ(last.col1, 7);
  EXPECT_EQ(last.pixels(), 2);
  // The paper's 224x224 with 9x9 patches: 24 full patches and an 8-pixel remainder per side.
  const ev::PatchGrid vgg = ev::patch_grid(224, 224, 9);
  EXPECT_EQ(vgg.count(), 625);
  EXPECT_EQ(vgg.rect(624).pixels(), 64);
  EXPECT_THROW(ev::patch_grid(5, 7, 0), pn::Error);
  EXPECT_THROW(ev::patch_grid(5, 7, 6), pn::Error);
  EXPECT_THROW(g.rect(6), pn::Error);
}

TEST(degradation, PatchScoresSumChannelsAndPixelsIncludingTheBorder) {
  const Tensor r = ramp_image();
  // By hand, patches row-major; channel 1's sums plus channel 0's pixel counts:
  //   (0,0): rows 0-2, cols 0-2: 21·3 + 3·3 = 72, + 9      (0,1): cols 3-5: 63 + 36 = 99, + 9
  //   (0,2): col 6 only: 7·3 + 6·3 = 39, + 3               (1,0): rows 3-4: 21·7 + 2·3 = 153, + 6
  //   (1,1): 147 + 2·12 = 171, + 6                         (1,2): 7·7 + 2·6 = 61, + 2
  const std::vector<double> expected = {81, 108, 42, 159, 177, 63};
  EXPECT_EQ(ev::patch_scores(r, 3), expected);

  // The batch overload reads sample 1 of (2, C, H, W), not sample 0.
  Tensor batch(Shape{2, 2, 5, 7});
  std::fill(batch.data(), batch.data() + r.numel(), -100.0f);
  std::copy(r.data(), r.data() + r.numel(), batch.data() + r.numel());
  EXPECT_EQ(ev::patch_scores(batch, 1, 3), expected);
  EXPECT_THROW(ev::patch_scores(batch, 2, 3), pn::Error);
  EXPECT_THROW(ev::patch_scores(Tensor(Shape{5, 7}), 3), pn::Error);
}

TEST(degradation, OrderIsDecreasingWithTiesByIndex) {
  const std::vector<double> scores = {1.0, 3.0, 3.0, -2.0, 3.0, 0.0, -0.0};
  const std::vector<std::int64_t> expected = {1, 2, 4, 0, 5, 6, 3};
  EXPECT_EQ(ev::order_by_score(scores), expected);
  const std::vector<double> bad = {1.0, std::nan("")};
  EXPECT_THROW(ev::order_by_score(bad), pn::Error);

  // The attribution path: the ramp's largest patch sum is patch 4, then 3, 1, 0, 5, 2.
  Tensor batch(Shape{1, 2, 5, 7});
  const Tensor r = ramp_image();
  std::copy(r.data(), r.data() + r.numel(), batch.data());
  const std::vector<std::int64_t> ramp_order = {4, 3, 1, 0, 5, 2};
  EXPECT_EQ(ev::orders_from_attributions(batch, 3).front(), ramp_order);
}

TEST(degradation, RandomOrderIsASeededPermutation) {
  pn::Rng a(7), b(7), c(8);
  const auto oa = ev::random_order(64, a), ob = ev::random_order(64, b), oc = ev::random_order(64, c);
  EXPECT_EQ(oa, ob);
  EXPECT_NE(oa, oc);
  std::vector<std::int64_t> sorted = oa;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> all(64);
  std::iota(all.begin(), all.end(), std::int64_t{0});
  EXPECT_EQ(sorted, all);
  // Every patch lands first about equally often (Fisher-Yates, not a biased shuffle).
  pn::Rng r(3);
  std::vector<int> first(4, 0);
  for (int t = 0; t < 4000; ++t) ++first[static_cast<std::size_t>(ev::random_order(4, r)[0])];
  for (int count : first) EXPECT_NEAR(count, 1000, 120);
}

TEST(degradation, PerturbReplacesExactlyTheChosenPatchesByTheirChannelMeans) {
  Tensor img = Tensor::from(Shape{3, 5, 7}, pntest::random_floats(3 * 5 * 7, 11));
  const ev::PatchGrid g = ev::patch_grid(5, 7, 3);
  const std::vector<std::int64_t> order = {4, 2, 0, 1, 3, 5};
  const Tensor out = ev::perturb(img, order, 2, 3);
  const ev::PatchRect p4 = g.rect(4), p2 = g.rect(2);
  const auto inside = [](const ev::PatchRect& p, std::int64_t h, std::int64_t w) { return h >= p.row0 && h < p.row1 && w >= p.col0 && w < p.col1; };
  for (std::int64_t c = 0; c < 3; ++c) {
    double m4 = 0, m2 = 0;
    for (std::int64_t h = 0; h < 5; ++h) {
      for (std::int64_t w = 0; w < 7; ++w) {
        if (inside(p4, h, w)) m4 += img.at({c, h, w});
        if (inside(p2, h, w)) m2 += img.at({c, h, w});
      }
    }
    m4 /= static_cast<double>(p4.pixels());
    m2 /= static_cast<double>(p2.pixels());
    for (std::int64_t h = 0; h < 5; ++h) {
      for (std::int64_t w = 0; w < 7; ++w) {
        const float v = out.at({c, h, w});
        if (inside(p4, h, w)) {
          EXPECT_FLOAT_EQ(v, static_cast<float>(m4)) << c << "," << h << "," << w;
        } else if (inside(p2, h, w)) {
          EXPECT_FLOAT_EQ(v, static_cast<float>(m2)) << c << "," << h << "," << w;
        } else {
          EXPECT_TRUE(pntest::same_bits(v, img.at({c, h, w}))) << c << "," << h << "," << w;
        }
      }
    }
  }
  // The input is untouched, n = 0 is a bit-identical copy, and replacing everything leaves each
  // patch constant.
  const Tensor same = ev::perturb(img, order, 0, 3);
  for (std::int64_t i = 0; i < img.numel(); ++i) ASSERT_TRUE(pntest::same_bits(same[i], img[i]));
  const Tensor flat = ev::perturb(img, order, 6, 3);
  EXPECT_EQ(flat.at({1, 3, 3}), flat.at({1, 4, 5}));
  EXPECT_NE(flat.at({1, 0, 0}), flat.at({1, 0, 3}));

  const std::vector<std::int64_t> twice = {4, 4, 0};
  EXPECT_THROW(ev::perturb(img, twice, 2, 3), pn::Error);
  EXPECT_NO_THROW(ev::perturb(img, twice, 1, 3));
  const std::vector<std::int64_t> outside = {6};
  EXPECT_THROW(ev::perturb(img, outside, 1, 3), pn::Error);
  EXPECT_THROW(ev::perturb(img, order, 7, 3), pn::Error);
}

// A small conv net on 2 x 6 x 6 images with three classes.
pn::nn::Sequential small_cnn(std::uint64_t seed) {
  pn::nn::LayerSpec conv;
  conv.name = "conv1";
  conv.kind = pn::nn::Kind::conv2d;
  conv.in = 2, conv.out = 4, conv.kernel = 3, conv.padding = 1;
  pn::nn::LayerSpec relu;
  relu.name = "relu1";
  relu.kind = pn::nn::Kind::relu;
  pn::nn::LayerSpec flat;
  flat.name = "flat";
  flat.kind = pn::nn::Kind::flatten;
  pn::nn::LayerSpec fc;
  fc.name = "fc1";
  fc.kind = pn::nn::Kind::linear;
  fc.in = 4 * 6 * 6, fc.out = 3;
  pn::nn::Sequential m(Shape{2, 6, 6}, {conv, relu, flat, fc});
  pn::Rng rng(seed);
  m.init(rng);
  return m;
}

std::vector<double> softmax(const Tensor& logits, std::int64_t row) {
  const std::int64_t k = logits.dim(1);
  std::vector<double> p(static_cast<std::size_t>(k));
  double z = 0;
  for (std::int64_t j = 0; j < k; ++j) z += std::exp(static_cast<double>(logits[row * k + j]));
  for (std::int64_t j = 0; j < k; ++j) p[static_cast<std::size_t>(j)] = std::exp(static_cast<double>(logits[row * k + j])) / z;
  return p;
}

Tensor sample(const Tensor& x, std::int64_t i) {
  const std::int64_t per = x.numel() / x.dim(0);
  Tensor out(Shape{x.dim(1), x.dim(2), x.dim(3)});
  std::copy(x.data() + i * per, x.data() + (i + 1) * per, out.data());
  return out;
}

TEST(degradation, CurveStartsAtTheCleanProbabilityAndMatchesDirectEvaluation) {
  const pn::nn::Sequential m = small_cnn(5);
  const std::int64_t n = 7;
  Tensor x = Tensor::from(Shape{n, 2, 6, 6}, pntest::random_floats(n * 72, 21, 0.0f, 1.0f));
  // Image 3 has a black top-left quadrant: replacing its patches changes nothing, the case the
  // curve resolves without a forward pass.
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t h = 0; h < 3; ++h)
      for (std::int64_t w = 0; w < 3; ++w) x[((3 * 2 + c) * 6 + h) * 6 + w] = 0.0f;
  pn::Rng rng(9);
  std::vector<std::vector<std::int64_t>> orders;
  for (std::int64_t i = 0; i < n; ++i) orders.push_back(ev::random_order(9, rng));
  orders[3] = {0, 1, 3, 4, 2, 5, 6, 7, 8};  // patch 0 (rows and columns 0-1) is all black
  ev::DegradationOptions opt;
  opt.patch = 2;
  opt.steps = 5;
  opt.batch = 4;  // neither a divisor of the 7 clean images nor of the 35 perturbed ones
  const ev::Curve curve = ev::degradation_curve(m, x, orders, opt);
  ASSERT_EQ(curve.images(), n);
  ASSERT_EQ(curve.probability.size(), static_cast<std::size_t>(n * 6));

  const Tensor clean = m.forward(x);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::vector<double> p = softmax(clean, i);
    const auto t = static_cast<std::int64_t>(std::max_element(p.begin(), p.end()) - p.begin());
    EXPECT_EQ(curve.original_class[static_cast<std::size_t>(i)], t);
    EXPECT_NEAR(curve.probability[static_cast<std::size_t>(i * 6)], p[static_cast<std::size_t>(t)], 1e-6) << "image " << i;
    EXPECT_EQ(curve.original[static_cast<std::size_t>(i * 6)], 1);
    // Every step against a forward pass of its own on perturb()'s image.
    for (std::int64_t s = 1; s <= 5; ++s) {
      Tensor xi = ev::perturb(sample(x, i), orders[static_cast<std::size_t>(i)], s, 2);
      const Tensor one = m.forward(std::move(xi).reshaped(Shape{1, 2, 6, 6}));
      const std::vector<double> q = softmax(one, 0);
      const auto arg = static_cast<std::int64_t>(std::max_element(q.begin(), q.end()) - q.begin());
      EXPECT_NEAR(curve.probability[static_cast<std::size_t>(i * 6 + s)], q[static_cast<std::size_t>(t)], 1e-5) << i << " step " << s;
      EXPECT_EQ(curve.original[static_cast<std::size_t>(i * 6 + s)], arg == t ? 1 : 0) << i << " step " << s;
    }
  }
  // Image 3's first step replaced a constant patch: the curve repeats the clean value.
  EXPECT_EQ(curve.probability[3 * 6 + 1], curve.probability[3 * 6]);
  EXPECT_EQ(curve.noop[3 * 6 + 1], 1);
  EXPECT_EQ(std::count(curve.noop.begin(), curve.noop.end(), std::uint8_t{1}), 1);  // random images have no constant patch
  EXPECT_DOUBLE_EQ(curve.noop_fraction(), 1.0 / 35.0);
  const std::vector<double> mean = curve.mean_probability();
  double clean_mean = 0;
  for (std::int64_t i = 0; i < n; ++i) clean_mean += curve.probability[static_cast<std::size_t>(i * 6)];
  EXPECT_DOUBLE_EQ(mean[0], clean_mean / static_cast<double>(n));
  EXPECT_DOUBLE_EQ(curve.still_original()[0], 1.0);

  // Refusals: too many steps, a wrong number of orders, a repeated patch.
  opt.steps = 10;
  EXPECT_THROW(ev::degradation_curve(m, x, orders, opt), pn::Error);
  opt.steps = 5;
  orders.pop_back();
  EXPECT_THROW(ev::degradation_curve(m, x, orders, opt), pn::Error);
  orders.push_back({1, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_THROW(ev::degradation_curve(m, x, orders, opt), pn::Error);
}

TEST(degradation, AopcOfALinearModelInClosedForm) {
  // Input 1 x 2 x 4, two 2 x 2 patches: A (columns 0-1) and B (columns 2-3).
  //   x = [1 3 0 0]     patch A has mean 2, patch B mean 1.
  //       [1 3 4 0]
  // Class 0's logit z = x[0,1] + x[1,1] - x[1,2] - 0.5, class 1's logit is 0, so p(class 0) = σ(z):
  //   clean: 3 + 3 - 4 - 0.5 = 1.5    A replaced: 2 + 2 - 4 - 0.5 = -0.5
  //   B replaced: 3 + 3 - 1 - 0.5 = 4.5    both: 2 + 2 - 1 - 0.5 = 2.5
  pn::nn::LayerSpec flat;
  flat.name = "flat";
  flat.kind = pn::nn::Kind::flatten;
  pn::nn::LayerSpec fc;
  fc.name = "fc";
  fc.kind = pn::nn::Kind::linear;
  fc.in = 8, fc.out = 2;
  pn::nn::Sequential m(Shape{1, 2, 4}, {flat, fc});
  m.layer(1).weight.mutable_value() =
      Tensor::from(Shape{2, 8}, std::vector<float>{0, 1, 0, 0, 0, 1, -1, 0, /* class 1 */ 0, 0, 0, 0, 0, 0, 0, 0});
  m.layer(1).bias.mutable_value() = Tensor::from(Shape{2}, std::vector<float>{-0.5f, 0.0f});
  const std::vector<float> img = {1, 3, 0, 0, 1, 3, 4, 0};
  std::vector<float> both(img);
  both.insert(both.end(), img.begin(), img.end());
  const Tensor x = Tensor::from(Shape{2, 1, 2, 4}, both);
  const std::vector<std::vector<std::int64_t>> orders = {{0, 1}, {1, 0}};  // image 0: A first; image 1: B first
  ev::DegradationOptions opt;
  opt.patch = 2;
  opt.steps = 2;
  const ev::Curve curve = ev::degradation_curve(m, x, orders, opt);

  const auto sigma = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  const std::vector<double> image0 = {sigma(1.5), sigma(-0.5), sigma(2.5)};
  const std::vector<double> image1 = {sigma(1.5), sigma(4.5), sigma(2.5)};
  for (std::size_t s = 0; s < 3; ++s) {
    EXPECT_NEAR(curve.probability[s], image0[s], 1e-6) << s;
    EXPECT_NEAR(curve.probability[3 + s], image1[s], 1e-6) << s;
  }
  const std::vector<std::uint8_t> still = {1, 0, 1, 1, 1, 1};  // z = -0.5 flips image 0 to class 1
  EXPECT_EQ(curve.original, still);
  EXPECT_EQ(curve.still_original(), (std::vector<double>{1.0, 0.5, 1.0}));

  const double expected = ((sigma(1.5) - sigma(-0.5)) + (sigma(1.5) - sigma(2.5)) + (sigma(1.5) - sigma(4.5)) + (sigma(1.5) - sigma(2.5))) / 4;
  EXPECT_NEAR(curve.aopc(), expected, 1e-6);
  const std::vector<double> per = curve.aopc_per_image();
  EXPECT_NEAR(per[0], ((sigma(1.5) - sigma(-0.5)) + (sigma(1.5) - sigma(2.5))) / 2, 1e-6);
  EXPECT_NEAR((per[0] + per[1]) / 2, curve.aopc(), 1e-12);

  // The free function on a hand-made curve, and appending chunks.
  EXPECT_DOUBLE_EQ(ev::aopc(std::vector<double>{1.0, 0.5, 0.25}), 0.625);
  EXPECT_DOUBLE_EQ(ev::aopc(std::vector<double>{0.7}), 0.0);
  ev::Curve joined;
  joined.append(curve);
  joined.append(curve);
  EXPECT_EQ(joined.images(), 4);
  EXPECT_NEAR(joined.aopc(), expected, 1e-12);
  ev::Curve other;
  other.steps = 3;
  other.original_class = {0};
  other.probability.assign(4, 0.5);
  other.original.assign(4, 1);
  EXPECT_THROW(joined.append(other), pn::Error);
}

TEST(degradation, SoftmaxProbabilityIsStableForLargeLogits) {
  const std::vector<float> z = {1000.0f, 1000.0f, -1000.0f};
  EXPECT_DOUBLE_EQ(ev::softmax_probability(z, 0), 0.5);
  EXPECT_DOUBLE_EQ(ev::softmax_probability(z, 2), 0.0);
  EXPECT_THROW(ev::softmax_probability(z, 3), pn::Error);
}

}  // namespace
