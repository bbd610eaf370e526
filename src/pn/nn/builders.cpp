#include "pn/nn/builders.h"

#include "pn/core/error.h"

#include <fmt/format.h>

namespace pn::nn {
namespace {

LayerSpec conv(std::string name, std::int64_t in, std::int64_t out, std::int64_t k = 3, std::int64_t pad = 1) {
  LayerSpec s;
  s.name = std::move(name);
  s.kind = Kind::conv2d;
  s.in = in;
  s.out = out;
  s.kernel = k;
  s.stride = 1;
  s.padding = pad;
  return s;
}
LayerSpec linear(std::string name, std::int64_t in, std::int64_t out) {
  LayerSpec s;
  s.name = std::move(name);
  s.kind = Kind::linear;
  s.in = in;
  s.out = out;
  return s;
}
LayerSpec simple(std::string name, Kind kind) {
  LayerSpec s;
  s.name = std::move(name);
  s.kind = kind;
  return s;
}
LayerSpec pool(std::string name) {
  LayerSpec s = simple(std::move(name), Kind::maxpool2d);
  s.kernel = 2;
  s.stride = 2;
  return s;
}
LayerSpec dropout(std::string name, float p) {
  LayerSpec s = simple(std::move(name), Kind::dropout);
  s.p = p;
  return s;
}

// The 13 VGG-16 convolutions with their ReLUs and the five pools.
void vgg_features(std::vector<LayerSpec>& l, std::int64_t in_channels, std::int64_t div) {
  const int convs[5] = {2, 2, 3, 3, 3};
  const std::int64_t widths[5] = {64, 128, 256, 512, 512};
  std::int64_t c = in_channels;
  for (int b = 0; b < 5; ++b) {
    for (int i = 0; i < convs[b]; ++i) {
      const std::int64_t w = widths[b] / div;
      l.push_back(conv(fmt::format("conv{}_{}", b + 1, i + 1), c, w));
      l.push_back(simple(fmt::format("relu{}_{}", b + 1, i + 1), Kind::relu));
      c = w;
    }
    l.push_back(pool(fmt::format("pool{}", b + 1)));
  }
}

}  // namespace

Sequential build_mlp() {
  std::vector<LayerSpec> l = {simple("flatten", Kind::flatten), linear("fc1", 784, 512), simple("relu1", Kind::relu),
                              linear("fc2", 512, 256),          simple("relu2", Kind::relu), linear("fc3", 256, 10)};
  return Sequential(Shape{1, 28, 28}, std::move(l));
}

Sequential build_cnn() {
  std::vector<LayerSpec> l = {conv("conv1", 1, 32),          simple("relu1", Kind::relu), pool("pool1"),
                              conv("conv2", 32, 64),         simple("relu2", Kind::relu), pool("pool2"),
                              simple("flatten", Kind::flatten), linear("fc1", 64 * 7 * 7, 256),
                              simple("relu3", Kind::relu),   linear("fc2", 256, 10)};
  return Sequential(Shape{1, 28, 28}, std::move(l));
}

Sequential build_vgg16(std::int64_t div, std::int64_t classes) {
  if (div < 1 || 64 % div != 0) throw Error("vgg16 width divisor must divide 64, got {}", div);
  std::vector<LayerSpec> l;
  vgg_features(l, 3, div);
  const std::int64_t c = 512 / div, h = 4096 / div;
  l.push_back(simple("flatten", Kind::flatten));
  l.push_back(linear("fc6", c * 7 * 7, h));
  l.push_back(simple("relu6", Kind::relu));
  l.push_back(dropout("drop6", 0.5f));
  l.push_back(linear("fc7", h, h));
  l.push_back(simple("relu7", Kind::relu));
  l.push_back(dropout("drop7", 0.5f));
  if (classes < 1) throw Error("vgg16 needs at least one class, got {}", classes);
  l.push_back(linear("fc8", h, classes));
  return Sequential(Shape{3, 224, 224}, std::move(l));
}

Sequential build_vgg16_32() {
  std::vector<LayerSpec> l;
  vgg_features(l, 1, 1);
  l.push_back(simple("flatten", Kind::flatten));
  l.push_back(linear("fc6", 512, 512));
  l.push_back(simple("relu6", Kind::relu));
  l.push_back(dropout("drop6", 0.5f));
  l.push_back(linear("fc7", 512, 512));
  l.push_back(simple("relu7", Kind::relu));
  l.push_back(dropout("drop7", 0.5f));
  l.push_back(linear("fc8", 512, 10));
  return Sequential(Shape{1, 32, 32}, std::move(l));
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"mlp", "cnn", "vgg16", "vgg16-32"};
  return names;
}

Sequential build_model(const std::string& arch) {
  if (arch == "mlp") return build_mlp();
  if (arch == "cnn") return build_cnn();
  if (arch == "vgg16") return build_vgg16();
  if (arch == "vgg16-32") return build_vgg16_32();
  throw Error("unknown architecture '{}' (known: mlp, cnn, vgg16, vgg16-32)", arch);
}

}  // namespace pn::nn
