// Chapter 2: layers, the Sequential network, its architecture JSON and model files (patternnet,
// torchvision and timm naming), the Trace, initialisation, optimizers and reproducible training.
#include "pn/core/error.h"
#include "test_files.h"
#include "pn/core/rng.h"
#include "pn/io/safetensors.h"
#include "pn/nn/builders.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"
#include "pn/nn/optim.h"
#include "pn/nn/trainer.h"
#include "pn/autograd/ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <numbers>
#include <cstring>
#include <filesystem>
#include <map>

namespace {

using pntest::message_of;
using pntest::TempDir;

using ::testing::HasSubstr;
using pn::Shape;
using pn::Tensor;
namespace nn = pn::nn;
namespace fs = std::filesystem;



Tensor random_tensor(Shape s, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  pn::Rng rng(seed);
  Tensor t(s);
  rng.fill_uniform(t.values(), lo, hi);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), 4 * static_cast<std::size_t>(a.numel())) == 0;
}

// The example of the documented architecture interface, verbatim.
const char* kExampleArchitecture =
    R"({"input": [3, 14, 22], "layers": [{"name": "conv1", "type": "conv2d", "in_channels": 3,
      "out_channels": 5, "kernel": 3, "stride": 1, "padding": 0}, {"name": "relu1", "type": "relu"},
      {"name": "pool1", "type": "maxpool2d", "kernel": 2, "stride": 2}, {"name": "avg1", "type": "avgpool2d",
      "kernel": 2, "stride": 2}, {"name": "flat", "type": "flatten"}, {"name": "drop", "type": "dropout",
      "p": 0.5}, {"name": "fc1", "type": "linear", "in_features": 75, "out_features": 10}]})";

TEST(Builders, ShapesAndParameterCounts) {
  const auto vgg = nn::build_vgg16();
  EXPECT_EQ(vgg.parameter_count(), 138357544);  // the published VGG-16 count
  EXPECT_EQ(vgg.num_classes(), 1000);
  EXPECT_EQ(vgg.output_shape(*vgg.find("pool5")), (Shape{512, 7, 7}));
  const auto v32 = nn::build_vgg16_32();
  EXPECT_EQ(v32.output_shape(*v32.find("pool5")), (Shape{512, 1, 1}));
  EXPECT_EQ(v32.num_classes(), 10);
  int convs = 0, dense = 0;
  for (std::size_t i = 0; i < v32.size(); ++i) {
    convs += v32.layer(i).spec.kind == nn::Kind::conv2d;
    dense += v32.layer(i).spec.kind == nn::Kind::linear;
  }
  EXPECT_EQ(convs, 13);
  EXPECT_EQ(dense, 3);
  EXPECT_EQ(nn::build_cnn().output_shape(*nn::build_cnn().find("pool2")), (Shape{64, 7, 7}));
  EXPECT_EQ(nn::build_mlp().num_classes(), 10);
  EXPECT_THAT(message_of([] { (void)nn::build_model("resnet"); }), HasSubstr("unknown architecture 'resnet'"));
}

TEST(Architecture, TheDocumentedExampleParsesAndRoundTrips) {
  const auto m = nn::Sequential::from_architecture_json(kExampleArchitecture);
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m.layer(0).weight.shape(), (Shape{5, 3, 3, 3}));
  EXPECT_EQ(m.layer(6).weight.shape(), (Shape{10, 75}));
  EXPECT_FLOAT_EQ(m.layer(5).spec.p, 0.5f);
  const auto again = nn::Sequential::from_architecture_json(m.architecture_json());
  EXPECT_EQ(again.architecture_json(), m.architecture_json());
}

TEST(Architecture, RefusesWhatItDoesNotUnderstand) {
  const auto fails = [](const std::string& json) { return message_of([&] { (void)nn::Sequential::from_architecture_json(json, "arch"); }); };
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [{"name": "r", "type": "relu", "alpha": 0.1}]})"), HasSubstr("unknown key 'alpha'"));
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [], "version": 2})"), HasSubstr("unknown key 'version'"));
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [{"name": "s", "type": "softmax"}]})"), HasSubstr("unknown layer type 'softmax'"));
  EXPECT_THAT(fails(R"({"input": [4], "layers": [{"name": "fc", "type": "linear", "in_features": 5, "out_features": 2}]})"),
              HasSubstr("expects 5 input features"));
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [{"name": "c", "type": "conv2d", "in_channels": 1, "out_channels": 2}]})"),
              HasSubstr("lacks \"kernel\""));
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [{"name": "a", "type": "relu"}, {"name": "a", "type": "relu"}]})"),
              HasSubstr("used twice"));
  EXPECT_THAT(fails(R"({"input": [1, 4, 4], "layers": [{"name": "fc", "type": "linear", "in_features": 16, "out_features": 2}]})"),
              HasSubstr("flatten"));
  EXPECT_THAT(fails("[1]"), HasSubstr("\"input\" and \"layers\""));
  EXPECT_THAT(fails("{"), HasSubstr("not valid JSON"));
}

TEST(ModelFiles, SaveLoadIsBitIdentical) {
  TempDir dir;
  auto m = nn::build_cnn();
  pn::Rng rng(5);
  m.init(rng);
  nn::save_model(dir.file("cnn.safetensors"), m);
  const auto loaded = nn::load_model(dir.file("cnn.safetensors"));
  EXPECT_EQ(loaded.fingerprint(), m.fingerprint());
  const Tensor x = random_tensor(Shape{3, 1, 28, 28}, 6, 0, 1);
  EXPECT_TRUE(same_bits(loaded.forward(x), m.forward(x)));
  // One flipped bit changes the fingerprint (pattern files rely on it).
  auto& w = const_cast<nn::Layer&>(loaded.layer(0)).weight.mutable_value();
  std::uint32_t bits;
  std::memcpy(&bits, w.data(), 4);
  bits ^= 1u;
  std::memcpy(w.data(), &bits, 4);
  EXPECT_NE(loaded.fingerprint(), m.fingerprint());
}

TEST(ModelFiles, MissingExtraAndMisShapedTensorsAreListed) {
  TempDir dir;
  auto m = nn::build_mlp();
  const std::string arch = m.architecture_json();
  const Tensor w1 = Tensor::zeros(Shape{512, 784}), b1 = Tensor::zeros(Shape{512}), w2 = Tensor::zeros(Shape{256, 512});
  const Tensor b2 = Tensor::zeros(Shape{256}), w3 = Tensor::zeros(Shape{10, 256}), b3 = Tensor::zeros(Shape{10});
  const Tensor wrong = Tensor::zeros(Shape{10, 255});
  pn::io::write_safetensors(dir.file("a.safetensors"), {{"fc1.weight", &w1}, {"fc1.bias", &b1}, {"fc2.weight", &w2}, {"fc2.bias", &b2},
                                                        {"fc3.weight", &w3}, {"extra", &b3}},
                            {{nn::kArchitectureKey, arch}});
  const std::string msg = message_of([&] { (void)nn::load_model(dir.file("a.safetensors")); });
  EXPECT_THAT(msg, HasSubstr("missing tensors [fc3.bias]"));
  EXPECT_THAT(msg, HasSubstr("unexpected tensors [extra]"));
  pn::io::write_safetensors(dir.file("b.safetensors"), {{"fc1.weight", &w1}, {"fc1.bias", &b1}, {"fc2.weight", &w2}, {"fc2.bias", &b2},
                                                        {"fc3.weight", &wrong}, {"fc3.bias", &b3}},
                            {{nn::kArchitectureKey, arch}});
  EXPECT_THAT(message_of([&] { (void)nn::load_model(dir.file("b.safetensors")); }), HasSubstr("fc3.weight is (10, 255)"));
  pn::io::write_safetensors(dir.file("c.safetensors"), {{"fc1.weight", &w1}});
  EXPECT_THAT(message_of([&] { (void)nn::load_model(dir.file("c.safetensors")); }), HasSubstr("--arch"));
  EXPECT_THAT(message_of([&] { (void)nn::load_model(dir.file("a.safetensors"), "cnn"); }), HasSubstr("different network"));
}

// A narrow VGG-16 (every width divided by 16) written by this test in PyTorch's naming: the
// torchvision and timm layouts must load through --arch vgg16 and compute what patternnet's own
// copy computes.
void write_vgg16_as(const std::string& path, const nn::Sequential& m, bool timm) {
  std::vector<std::pair<std::string, const Tensor*>> t;
  std::vector<std::unique_ptr<Tensor>> keep;
  int torch_index = 0;
  std::size_t i = 0;
  for (; i < m.size() && m.layer(i).spec.kind != nn::Kind::flatten; ++i, ++torch_index) {
    if (m.layer(i).spec.kind != nn::Kind::conv2d) continue;
    t.emplace_back("features." + std::to_string(torch_index) + ".weight", &m.layer(i).weight.value());
    t.emplace_back("features." + std::to_string(torch_index) + ".bias", &m.layer(i).bias.value());
  }
  const std::map<std::string, std::pair<std::string, std::string>> fc = {
      {"fc6", {"classifier.0", "pre_logits.fc1"}}, {"fc7", {"classifier.3", "pre_logits.fc2"}}, {"fc8", {"classifier.6", "head.fc"}}};
  for (const auto& [ours, names] : fc) {
    const auto& l = m.layer(*m.find(ours));
    const Tensor* w = &l.weight.value();
    if (timm && ours == "fc6") {  // timm stores fc6 as a 7x7 convolution over pool5
      keep.push_back(std::make_unique<Tensor>(w->clone().reshaped(Shape{w->dim(0), w->dim(1) / 49, 7, 7})));
      w = keep.back().get();
    } else if (timm && ours == "fc7") {  // and fc7 as a 1x1 convolution
      keep.push_back(std::make_unique<Tensor>(w->clone().reshaped(Shape{w->dim(0), w->dim(1), 1, 1})));
      w = keep.back().get();
    }
    t.emplace_back((timm ? names.second : names.first) + ".weight", w);
    t.emplace_back((timm ? names.second : names.first) + ".bias", &l.bias.value());
  }
  pn::io::write_safetensors(path, t);
}

TEST(ModelFiles, TorchvisionAndTimmVgg16Load) {
  TempDir dir;
  auto m = nn::build_vgg16(16);
  pn::Rng rng(9);
  m.init(rng);
  for (auto& p : m.parameters()) rng.fill_uniform(p.mutable_value().values(), -0.1f, 0.1f);  // non-zero biases too
  const Tensor x = random_tensor(Shape{1, 3, 224, 224}, 10);
  const Tensor want = m.forward(x);
  for (bool timm : {false, true}) {
    const std::string path = dir.file(timm ? "timm.safetensors" : "tv.safetensors");
    write_vgg16_as(path, m, timm);
    const auto loaded = nn::load_model(path, "vgg16");
    EXPECT_EQ(loaded.fingerprint(), m.fingerprint()) << (timm ? "timm" : "torchvision");
    EXPECT_TRUE(same_bits(loaded.forward(x), want));
    EXPECT_THAT(message_of([&] { (void)nn::load_model(path); }), HasSubstr("--arch"));
  }
}

TEST(Trace, RecordsInputsPreActivationsAndSwitches) {
  auto m = nn::build_cnn();
  pn::Rng rng(11);
  m.init(rng);
  const Tensor x = random_tensor(Shape{2, 1, 28, 28}, 12, 0, 1);
  nn::Trace trace;
  const Tensor y = m.forward(x, &trace);
  ASSERT_EQ(trace.layers.size(), m.size());
  EXPECT_TRUE(same_bits(trace.layers[0].input, x));
  EXPECT_TRUE(same_bits(trace.output, y));
  const std::size_t relu1 = *m.find("relu1"), pool1 = *m.find("pool1");
  // The ReLU's recorded input is the conv's output, bias included: the pre-activation z.
  const Tensor z = pn::ops::conv2d_forward(x, m.layer(0).weight.value(), &m.layer(0).bias.value(), {1, 1});
  EXPECT_TRUE(same_bits(trace.layers[relu1].input, z));
  EXPECT_EQ(trace.layers[pool1].switches.size(), static_cast<std::size_t>(2 * 32 * 14 * 14));
  EXPECT_TRUE(trace.layers[relu1].switches.empty());
  EXPECT_THAT(message_of([&] { (void)m.forward(Tensor::zeros(Shape{2, 3, 28, 28})); }), HasSubstr("(N, 1, 28, 28)"));
}

TEST(Init, HeForReluLayersGlorotForTheLast) {
  auto m = nn::build_mlp();
  pn::Rng rng(13);
  m.init(rng);
  const auto stats = [](const Tensor& t) {
    double s = 0, s2 = 0;
    for (float v : t.values()) s += v, s2 += static_cast<double>(v) * v;
    const double n = static_cast<double>(t.numel());
    return std::pair<double, double>(s / n, s2 / n - (s / n) * (s / n));
  };
  const auto [m1, v1] = stats(m.layer(*m.find("fc1")).weight.value());
  EXPECT_NEAR(m1, 0.0, 1e-3);
  EXPECT_NEAR(v1, 2.0 / 784, 0.05 * 2.0 / 784);
  const auto [m3, v3] = stats(m.layer(*m.find("fc3")).weight.value());
  EXPECT_NEAR(v3, 2.0 / (256 + 10), 0.1 * 2.0 / (256 + 10));  // Glorot uniform: variance 2/(in+out)
  for (float b : m.layer(*m.find("fc1")).bias.value().values()) EXPECT_EQ(b, 0.0f);
}

TEST(Optimizers, SgdMomentumAndWeightDecayStep) {
  auto w = pn::ag::Var::parameter(Tensor::from(Shape{2}, std::vector<float>{1.0f, -2.0f}));
  nn::Sgd opt({w}, 0.1f, 0.9f, 0.01f);
  for (int step = 0; step < 2; ++step) {
    w.zero_grad();
    pn::ag::sum(pn::ag::mul_const(w, Tensor::from(Shape{2}, std::vector<float>{3.0f, 4.0f}))).backward();
    opt.step();
  }
  // v1 = g + wd·w0, w1 = w0 - lr·v1; v2 = 0.9·v1 + g + wd·w1, w2 = w1 - lr·v2.
  const double g[2] = {3, 4}, w0[2] = {1, -2};
  for (int i = 0; i < 2; ++i) {
    const double v1 = g[i] + 0.01 * w0[i], w1 = w0[i] - 0.1 * v1;
    const double v2 = 0.9 * v1 + g[i] + 0.01 * w1, w2 = w1 - 0.1 * v2;
    EXPECT_NEAR(w.value()[i], w2, 1e-6);
  }
}

TEST(Optimizers, AdamFirstStepIsLearningRateTimesSign) {
  auto w = pn::ag::Var::parameter(Tensor::from(Shape{3}, std::vector<float>{0.5f, 0.5f, 0.5f}));
  nn::Adam opt({w}, 0.01f);
  pn::ag::sum(pn::ag::mul_const(w, Tensor::from(Shape{3}, std::vector<float>{2.0f, -0.001f, 7.0f}))).backward();
  opt.step();
  // m̂ = g and v̂ = g² after one step, so the update is lr · g / (|g| + eps).
  EXPECT_NEAR(w.value()[0], 0.49, 1e-6);
  EXPECT_NEAR(w.value()[1], 0.51, 1e-5);
  EXPECT_NEAR(w.value()[2], 0.49, 1e-6);
}

nn::Dataset synthetic(std::int64_t n, std::uint64_t seed) {
  // Two classes told apart by the mean brightness of the left half.
  pn::Rng rng(seed);
  nn::Dataset d{Tensor(Shape{n, 1, 28, 28}), {}};
  for (std::int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.below(2));
    d.labels.push_back(label);
    for (int p = 0; p < 784; ++p) {
      const float base = (p % 28 < 14 && label == 1) ? 0.7f : 0.3f;
      d.images[i * 784 + p] = base + static_cast<float>(rng.uniform(-0.2, 0.2));
    }
  }
  return d;
}

TEST(Training, LearnsAndIsBitReproducible) {
  const nn::Dataset train = synthetic(256, 1), test = synthetic(128, 2);
  const auto run = [&] {
    auto m = nn::build_mlp();
    pn::Rng rng(3);
    m.init(rng);
    nn::TrainConfig cfg;
    cfg.epochs = 2;
    cfg.batch = 32;
    cfg.seed = 4;
    const auto h = nn::train(m, train, test, cfg);
    return std::make_pair(std::move(m), h.back().test_accuracy);
  };
  auto [a, acc_a] = run();
  auto [b, acc_b] = run();
  EXPECT_GT(acc_a, 0.95);
  EXPECT_EQ(acc_a, acc_b);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());  // every weight bit equal
}

TEST(Training, RefusesBadSettings) {
  auto m = nn::build_mlp();
  const nn::Dataset d = synthetic(8, 5);
  nn::TrainConfig cfg;
  cfg.optimizer = "rmsprop";
  EXPECT_THAT(message_of([&] { (void)nn::train(m, d, d, cfg); }), HasSubstr("unknown optimizer"));
  cfg.optimizer = "sgd";
  nn::Dataset bad{d.images.clone(), d.labels};
  bad.labels[0] = 12;
  EXPECT_THAT(message_of([&] { (void)nn::train(m, bad, d, cfg); }), HasSubstr("label 12"));
  EXPECT_THAT(message_of([&] { (void)nn::train(m, nn::Dataset{}, d, cfg); }), HasSubstr("empty"));
}

TEST(Training, LearningRateSchedules) {
  nn::TrainConfig cfg;
  cfg.lr = 0.1f;
  cfg.epochs = 3;
  cfg.lr_decay = 0.5f;
  EXPECT_DOUBLE_EQ(nn::learning_rate_at(cfg, 0, 10), 0.1f);
  EXPECT_DOUBLE_EQ(nn::learning_rate_at(cfg, 9, 10), 0.1f);
  EXPECT_DOUBLE_EQ(nn::learning_rate_at(cfg, 10, 10), 0.05f);
  EXPECT_DOUBLE_EQ(nn::learning_rate_at(cfg, 29, 10), 0.025f);
  cfg.lr_decay = 1.0f;
  cfg.schedule = "cosine";
  EXPECT_DOUBLE_EQ(nn::learning_rate_at(cfg, 0, 10), 0.1f);
  EXPECT_NEAR(nn::learning_rate_at(cfg, 15, 10), 0.05, 1e-9);                                        // half way
  EXPECT_NEAR(nn::learning_rate_at(cfg, 29, 10), 0.05 * (1 + std::cos(std::numbers::pi * 29 / 30)), 1e-9);  // last step
  // Warm-up over half an epoch (5 steps): (t + 1) / 5 of the scheduled rate, then the schedule alone.
  cfg.warmup_epochs = 0.5;
  const auto cosine = [&](double t) { return 0.5 * static_cast<double>(cfg.lr) * (1 + std::cos(std::numbers::pi * t / 30)); };
  EXPECT_NEAR(nn::learning_rate_at(cfg, 0, 10), 0.2 * cosine(0), 1e-9);
  EXPECT_NEAR(nn::learning_rate_at(cfg, 3, 10), 0.8 * cosine(3), 1e-9);
  EXPECT_NEAR(nn::learning_rate_at(cfg, 4, 10), cosine(4), 1e-9);
  EXPECT_NEAR(nn::learning_rate_at(cfg, 5, 10), cosine(5), 1e-9);
  cfg.schedule = "constant";
  EXPECT_NEAR(nn::learning_rate_at(cfg, 1, 10), 0.4 * static_cast<double>(cfg.lr), 1e-12);
  cfg.warmup_epochs = 4.0;  // longer than the run
  auto small = nn::build_mlp();
  EXPECT_THAT(message_of([&] { (void)nn::train(small, synthetic(16, 6), synthetic(16, 6), cfg); }), HasSubstr("--warmup"));
  cfg.warmup_epochs = 0.0;
  cfg.schedule = "cosine";
  // The schedule reaches the optimiser: cosine training ends with other weights than constant.
  const nn::Dataset train = synthetic(128, 6);
  const auto weights_after = [&](const std::string& schedule) {
    auto m = nn::build_mlp();
    pn::Rng rng(3);
    m.init(rng);
    nn::TrainConfig c;
    c.epochs = 2, c.batch = 32, c.schedule = schedule;
    (void)nn::train(m, train, nn::Dataset{}, c);
    return m.fingerprint();
  };
  EXPECT_NE(weights_after("cosine"), weights_after("constant"));
  cfg.lr_decay = 0.5f;
  auto m = nn::build_mlp();
  EXPECT_THAT(message_of([&] { (void)nn::train(m, train, train, cfg); }), HasSubstr("--lr-decay"));
  cfg.schedule = "step";
  EXPECT_THAT(message_of([&] { (void)nn::train(m, train, train, cfg); }), HasSubstr("unknown learning-rate schedule"));
}

TEST(Data, FitToInputPadsCentred) {
  auto m = nn::build_vgg16_32();
  Tensor img = Tensor::full(Shape{1, 1, 28, 28}, 1.0f);
  const Tensor p = nn::fit_to_input(img, m);
  EXPECT_EQ(p.shape(), (Shape{1, 1, 32, 32}));
  EXPECT_EQ(p.at({0, 0, 1, 1}), 0.0f);
  EXPECT_EQ(p.at({0, 0, 2, 2}), 1.0f);
  EXPECT_EQ(p.at({0, 0, 29, 29}), 1.0f);
  EXPECT_EQ(p.at({0, 0, 30, 30}), 0.0f);
  EXPECT_THAT(message_of([&] { (void)nn::fit_to_input(Tensor::zeros(Shape{1, 3, 28, 28}), m); }), HasSubstr("do not fit"));
}

}  // namespace
