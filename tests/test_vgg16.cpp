// The full VGG-16 at 224x224 without downloads (chapter 9): a narrowed copy (every width divided by
// kWidthDivisor, the topology, the 224x224 input and the 1000 classes unchanged) with seeded random
// weights, written here in the two PyTorch layouts a user converts real weights from — torchvision's
// `vgg16` state dict and timm's `vgg16.tv_in1k` — and loaded through nn::load_model(path, "vgg16").
// The loaded network's logits are checked against a float64 direct-loop oracle
// (tests/oracle/vgg16_oracle.h) that shares no code with src/. Then every explanation method runs
// on it at 224x224, with patterns fitted by the project's own fit_patterns on a few images, and
// LRP-z without biases is checked to conserve the explained logit.
#include "oracle/vgg16_oracle.h"
#include "pn/core/rng.h"
#include "pn/explain/explain.h"
#include "pn/explain/fit_patterns.h"
#include "pn/io/safetensors.h"
#include "pn/nn/builders.h"
#include "pn/nn/model_io.h"
#include "pn/nn/preprocess.h"
#include "test_files.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace {

namespace nn = pn::nn;
namespace ex = pn::explain;
using pn::Shape;
using pn::Tensor;
using pntest::TempDir;

// Channels 8, 16, 32, 64, 64 and dense width 512 in an optimised build; a quarter of that where the
// library runs unoptimised (the Debug + ASan/UBSan 'dev' preset: about 20 s then, against 3-4 s), so
// both stay well inside their time budgets. Either way every layer, shape rule and file name of
// the real network is exercised.
#if defined(__OPTIMIZE__)
constexpr std::int64_t kWidthDivisor = 8;
#else
constexpr std::int64_t kWidthDivisor = 32;
#endif

// torchvision's vgg16().features numbers every module — conv, ReLU, max-pool — so its 13
// convolutions sit at these indices; timm keeps the same `features` list. Written out here rather
// than derived from our layer list, so that the loader's own index arithmetic is what is tested.
constexpr int kTorchConvIndex[13] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};

std::vector<double> doubles(std::span<const float> v) { return {v.begin(), v.end()}; }

// He-initialised weights and small non-zero biases, uniform in [bias_low, bias_high]: with zero
// biases a loader that dropped them, or an oracle that forgot them, would go unnoticed.
nn::Sequential random_vgg16(std::uint64_t seed, float bias_low, float bias_high) {
  nn::Sequential m = nn::build_vgg16(kWidthDivisor);
  pn::Rng rng(seed);
  m.init(rng);
  for (std::size_t i = 0; i < m.size(); ++i) {
    nn::Layer& l = m.layer(i);
    if (l.spec.has_params()) rng.fill_uniform(l.bias.mutable_value().values(), bias_low, bias_high);
  }
  return m;
}

// An RGB "photo" (3, 240, 320) with values 0..255: colour gradients, a bright disc and pixel noise.
// Not square, so the preprocessing's resize of the shorter side and centre crop take part.
Tensor synthetic_photo(std::uint64_t seed) {
  const std::int64_t h = 240, w = 320;
  Tensor img(Shape{3, h, w});
  pn::Rng rng(seed);
  const double cy = rng.uniform(60, 180), cx = rng.uniform(80, 240), radius = rng.uniform(30, 70);
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const auto fc = static_cast<double>(c), fy = static_cast<double>(y), fx = static_cast<double>(x);
        double v = 40.0 + 60.0 * fc + 80.0 * std::sin(0.02 * (fx + 7.0 * fc) + 0.01 * fy);
        if ((fy - cy) * (fy - cy) + (fx - cx) * (fx - cx) < radius * radius) v += 90.0;
        v += rng.uniform(-20, 20);
        img[(c * h + y) * w + x] = static_cast<float>(std::clamp(v, 0.0, 255.0));
      }
  return img;
}

// n photos through the torchvision preprocessing, as `--arch vgg16` files are explained: (n, 3, 224, 224).
Tensor photo_batch(const nn::Sequential& m, std::int64_t n, std::uint64_t seed) {
  Tensor x(Shape{n, 3, 224, 224});
  const std::int64_t per = 3 * 224 * 224;
  for (std::int64_t i = 0; i < n; ++i) {
    const Tensor one = nn::preprocess_image(synthetic_photo(seed + static_cast<std::uint64_t>(i)), m.input_shape(),
                                            nn::Preprocess::torchvision);
    std::copy_n(one.data(), per, x.data() + i * per);
  }
  return x;
}

enum class Naming { torchvision, timm };

// The state dict as PyTorch saves it: features.N.* for the convolutions, then torchvision's
// classifier.{0,3,6}.* or timm's pre_logits.fc1.* (fc6 as a 7x7 convolution over pool5, weight
// (O, C, 7, 7)), pre_logits.fc2.* (fc7 as a 1x1 convolution, (O, I, 1, 1)) and head.fc.* — the
// reshapes timm's own checkpoint filter applies to torchvision's weights.
void write_pytorch_vgg16(const std::string& path, const nn::Sequential& m, Naming naming) {
  std::vector<std::pair<std::string, const Tensor*>> t;
  std::vector<std::unique_ptr<Tensor>> keep;
  int conv = 0;
  std::int64_t pool5_channels = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const nn::Layer& l = m.layer(i);
    if (l.spec.kind != nn::Kind::conv2d) continue;
    ASSERT_LT(conv, 13);
    const std::string name = "features." + std::to_string(kTorchConvIndex[conv++]);
    t.emplace_back(name + ".weight", &l.weight.value());
    t.emplace_back(name + ".bias", &l.bias.value());
    pool5_channels = l.spec.out;
  }
  ASSERT_EQ(conv, 13);
  const bool timm = naming == Naming::timm;
  const char* names[3][2] = {{"classifier.0", "pre_logits.fc1"}, {"classifier.3", "pre_logits.fc2"}, {"classifier.6", "head.fc"}};
  const char* ours[3] = {"fc6", "fc7", "fc8"};
  for (int k = 0; k < 3; ++k) {
    const nn::Layer& l = m.layer(*m.find(ours[k]));
    const Tensor* w = &l.weight.value();
    if (timm && k < 2) {
      const Shape conv_shape = k == 0 ? Shape{w->dim(0), pool5_channels, 7, 7} : Shape{w->dim(0), w->dim(1), 1, 1};
      keep.push_back(std::make_unique<Tensor>(w->clone().reshaped(conv_shape)));
      w = keep.back().get();
    }
    const std::string name = names[k][timm ? 1 : 0];
    t.emplace_back(name + ".weight", w);
    t.emplace_back(name + ".bias", &l.bias.value());
  }
  pn::io::write_safetensors(path, t);
}

// The oracle's copy of the weights, read from the model the files were written from.
oracle::Vgg16Params oracle_params(const nn::Sequential& m) {
  oracle::Vgg16Params p;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const nn::Layer& l = m.layer(i);
    if (l.spec.kind == nn::Kind::conv2d) {
      p.conv_out.push_back(l.spec.out);
      p.conv_w.push_back(doubles(l.weight.value().values()));
      p.conv_b.push_back(doubles(l.bias.value().values()));
    } else if (l.spec.kind == nn::Kind::linear) {
      p.fc_w.push_back(doubles(l.weight.value().values()));
      p.fc_b.push_back(doubles(l.bias.value().values()));
    }
  }
  p.hidden = m.layer(*m.find("fc6")).spec.out;
  p.classes = m.layer(*m.find("fc8")).spec.out;
  return p;
}

TEST(Vgg16Full, TorchvisionAndTimmFilesMatchTheFloat64Oracle) {
  const nn::Sequential m = random_vgg16(1101, -0.05f, 0.05f);
  ASSERT_EQ(m.layer(0).spec.out, 64 / kWidthDivisor);
  const Tensor x = photo_batch(m, 2, 1102);
  const std::int64_t per = x.numel() / 2;

  const oracle::Vgg16Params p = oracle_params(m);
  std::vector<std::vector<double>> want;
  for (std::int64_t s = 0; s < 2; ++s) {
    const std::vector<double> xs(x.data() + s * per, x.data() + (s + 1) * per);
    want.push_back(oracle::vgg16_forward(p, xs.data()));
    ASSERT_EQ(want.back().size(), 1000u);
  }
  // Random weights must still give a network whose logits differ between classes and images;
  // otherwise a comparison of near-constants would prove little.
  double scale = 0;
  for (const auto& w : want)
    for (double v : w) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 1e-3);
  const auto [lowest, highest] = std::minmax_element(want[0].begin(), want[0].end());
  ASSERT_GT(*highest - *lowest, 0.1 * scale);
  ASSERT_NE(want[0][0], want[1][0]);

  TempDir dir;
  for (const Naming naming : {Naming::torchvision, Naming::timm}) {
    const char* label = naming == Naming::timm ? "timm vgg16.tv_in1k naming" : "torchvision naming";
    SCOPED_TRACE(label);
    const std::string path = dir.file(naming == Naming::timm ? "timm.safetensors" : "torchvision.safetensors");
    write_pytorch_vgg16(path, m, naming);
    const nn::Sequential loaded = nn::load_model(path, "vgg16");
    // The width and the classes come from the file; the topology is VGG-16's.
    EXPECT_EQ(loaded.architecture_json(), nn::build_vgg16(kWidthDivisor).architecture_json());
    EXPECT_EQ(loaded.fingerprint(), m.fingerprint());
    const Tensor y = loaded.forward(x);
    ASSERT_EQ(y.shape(), (Shape{2, 1000}));
    // A float32 network of 16 layers with reductions of up to (pool5 channels · 49) terms against float64:
    // observed errors are near 1e-6 of the largest logit; 1e-4 leaves a wide margin while a
    // misplaced tensor, a transposed kernel or a wrong flatten order fails by orders of magnitude.
    double worst = 0;
    for (std::size_t s = 0; s < 2; ++s)
      for (std::size_t k = 0; k < 1000; ++k)
        worst = std::max(worst, std::fabs(static_cast<double>(y[static_cast<std::int64_t>(s * 1000 + k)]) - want[s][k]));
    EXPECT_LE(worst, 1e-4 * scale) << "max |logit - oracle| = " << worst << ", max |oracle logit| = " << scale;
    RecordProperty(naming == Naming::timm ? "timm_max_rel_error" : "torchvision_max_rel_error", fmt::format("{:.3g}", worst / scale));
  }
}

// The range pixel values 0..255 take after the torchvision preprocessing, over all channels: the
// box of the zB rule (what `patternnet explain --methods` derives for lrp_zbox).
std::pair<double, double> torchvision_box(const nn::Sequential& m) {
  const Tensor black = nn::preprocess_image(Tensor::zeros(Shape{3, 224, 224}), m.input_shape(), nn::Preprocess::torchvision);
  const Tensor white = nn::preprocess_image(Tensor::full(Shape{3, 224, 224}, 255.0f), m.input_shape(), nn::Preprocess::torchvision);
  return {*std::min_element(black.values().begin(), black.values().end()),
          *std::max_element(white.values().begin(), white.values().end())};
}

TEST(Vgg16Full, EveryMethodExplainsA224x224Image) {
  // Biases <= 0 keep LRP-z without biases well-conditioned (see the end of the test).
  const nn::Sequential m = random_vgg16(1201, -0.05f, 0.0f);
  // Patterns as `patternnet fit-patterns --estimator two_component` fits them, on four images.
  ex::StatsCollector collector(m, false, true);
  collector.add_batch(photo_batch(m, 4, 1202));
  const ex::Patterns patterns = ex::fit_patterns(m, &collector, ex::Estimator::two_component);
  ASSERT_EQ(patterns.layers.size(), 16u);
  for (const auto& l : patterns.layers) {
    for (const Tensor* a : {&l.a, &l.a_negative})
      for (float v : a->values()) ASSERT_TRUE(std::isfinite(v)) << l.layer;
  }

  const Tensor x = photo_batch(m, 1, 1203);
  const auto [low, high] = torchvision_box(m);
  ASSERT_LE(low, *std::min_element(x.values().begin(), x.values().end()));
  ASSERT_GE(high, *std::max_element(x.values().begin(), x.values().end()));
  // One traced forward pass shared by every method, as `explain --methods all` does.
  const ex::TracedForward fwd = ex::trace_forward(m, x);
  ASSERT_EQ(fwd.targets.size(), 1u);

  for (const std::string& name : ex::method_names()) {
    SCOPED_TRACE(name);
    ex::MethodOptions o;
    o.samples = 2;  // smoothgrad: the wrapper's loop, not its statistics, is what runs here
    o.steps = 2;    // integrated_gradients
    if (name == "lrp_zbox") o.low = low, o.high = high;
    const ex::Method method = ex::make_method(name, o);
    const ex::Explainer explainer(m, method, method.needs_patterns ? &patterns : nullptr);
    const ex::Explanation e = explainer.explain_traced(fwd);
    ASSERT_EQ(e.result.shape(), (Shape{1, 3, 224, 224}));
    std::int64_t non_finite = 0, non_zero = 0;
    for (float v : e.result.values()) {
      non_finite += std::isfinite(v) ? 0 : 1;
      non_zero += v != 0.0f ? 1 : 0;
    }
    EXPECT_EQ(non_finite, 0);
    EXPECT_GT(non_zero, 0);
    EXPECT_EQ(e.targets, fwd.targets);
  }

  // LRP-z with the biases left out of the denominators redistributes each layer's relevance
  // exactly (each z_j is the sum of its own x_i w_ji; zero padding contributes x_i = 0; ReLUs pass
  // relevance, max-pooling routes it to one input), so the input relevance sums to the explained
  // logit. Numerically that needs R_j / (z_j - b_j) to stay bounded. Behind a ReLU, R_j is
  // proportional to x_j = z_j, so the factor is x_j / (z_j - b_j): at most 1 when b_j <= 0, as here,
  // but unbounded for b_j > 0, where z_j - b_j can vanish while x_j = b_j does not (with biases in
  // [-0.05, 0.05] single positions received relevances of 1e3 to 1e5 for a logit near 2-5, and
  // rounding alone broke conservation by up to 1.3%). The default lrp_z keeps the biases in its denominators
  // and lets them absorb their share; that difference is checked to be visible.
  ex::MethodOptions no_bias;
  no_bias.ignore_bias = true;
  const ex::Explanation e = ex::Explainer(m, ex::make_method("lrp_z", no_bias), nullptr).explain_traced(fwd);
  double sum = 0;
  for (float v : e.result.values()) sum += v;
  const double start = e.target_outputs[0];
  EXPECT_NEAR(sum, start, 1e-4 * std::fabs(start)) << "input relevance " << sum << ", explained logit " << start;
  RecordProperty("lrp_z_ignore_bias_conservation_rel_error", fmt::format("{:.3g}", std::fabs(sum - start) / std::fabs(start)));
  const ex::Explanation with_bias = ex::Explainer(m, ex::make_method("lrp_z"), nullptr).explain_traced(fwd);
  double absorbed = start;
  for (float v : with_bias.result.values()) absorbed -= v;
  EXPECT_GT(std::fabs(absorbed), 1e-3 * std::fabs(start)) << "the biases absorbed nothing";
  RecordProperty("lrp_z_with_bias_absorbed_rel", fmt::format("{:.3g}", absorbed / std::fabs(start)));

  // With the biases in the denominators LRP-z is input x gradient on a ReLU network: by induction
  // R_j = x_j g_j, and x_j / z_j = 1 wherever the ReLU lets anything through. Two different code
  // paths (the z rule's ratios, the gradient's transposed products) must agree pixel by pixel.
  const Tensor ixg = ex::Explainer(m, ex::make_method("input_x_gradient"), nullptr).explain_traced(fwd).result;
  double biggest = 0, diff = 0;
  for (std::int64_t i = 0; i < ixg.numel(); ++i) {
    biggest = std::max(biggest, std::fabs(static_cast<double>(ixg[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(with_bias.result[i]) - ixg[i]));
  }
  EXPECT_LE(diff, 1e-4 * biggest) << "max |lrp_z - input_x_gradient| " << diff << ", max |input_x_gradient| " << biggest;
  RecordProperty("lrp_z_vs_input_x_gradient_rel_error", fmt::format("{:.3g}", diff / biggest));
}

}  // namespace
