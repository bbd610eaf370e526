#include "pn/nn/preprocess.h"

#include "pn/core/error.h"
#include "pn/io/image.h"

#include <algorithm>
#include <cmath>

namespace pn::nn {

Preprocess preprocess_from_name(const std::string& name) {
  if (name == "caffe") return Preprocess::caffe;
  if (name == "torchvision") return Preprocess::torchvision;
  if (name == "unit") return Preprocess::unit;
  throw Error("unknown preprocessing '{}'; known: caffe, torchvision, unit", name);
}

const char* preprocess_name(Preprocess p) {
  switch (p) {
    case Preprocess::caffe: return "caffe";
    case Preprocess::torchvision: return "torchvision";
    case Preprocess::unit: return "unit";
  }
  return "?";
}

namespace {
constexpr float kCaffeMeanBgr[3] = {103.939f, 116.779f, 123.68f};
constexpr float kTorchMean[3] = {0.485f, 0.456f, 0.406f}, kTorchStd[3] = {0.229f, 0.224f, 0.225f};

void check_channel(Preprocess p, std::int64_t ch) {
  const std::int64_t channels = p == Preprocess::unit ? 1 : 3;
  if (ch < 0 || ch >= channels) throw Error("preprocess '{}' has {} channel(s), asked for channel {}", preprocess_name(p), channels, ch);
}
}  // namespace

// [book:preprocess]
float preprocess_value(Preprocess p, std::int64_t ch, float v) {
  check_channel(p, ch);
  switch (p) {
    case Preprocess::caffe: return v - kCaffeMeanBgr[ch];
    case Preprocess::torchvision: return (v / 255.0f - kTorchMean[ch]) / kTorchStd[ch];
    case Preprocess::unit: return v / 255.0f;
  }
  throw Error("preprocess: unknown preprocessing");
}
// [/book:preprocess]

float unpreprocess_value(Preprocess p, std::int64_t ch, float x) {
  check_channel(p, ch);
  switch (p) {
    case Preprocess::caffe: return x + kCaffeMeanBgr[ch];
    case Preprocess::torchvision: return (x * kTorchStd[ch] + kTorchMean[ch]) * 255.0f;
    case Preprocess::unit: return x * 255.0f;
  }
  throw Error("preprocess: unknown preprocessing");
}

std::pair<float, float> preprocess_range(Preprocess p) {
  const std::int64_t channels = p == Preprocess::unit ? 1 : 3;
  float lo = preprocess_value(p, 0, 0.0f), hi = preprocess_value(p, 0, 255.0f);
  for (std::int64_t ch = 1; ch < channels; ++ch) {
    lo = std::min(lo, preprocess_value(p, ch, 0.0f));
    hi = std::max(hi, preprocess_value(p, ch, 255.0f));
  }
  return {lo, hi};
}

Tensor preprocess_image(const Tensor& rgb, const Shape& model_input, Preprocess p) {
  if (rgb.rank() != 3 || rgb.dim(0) != 3) throw Error("preprocess: expected an RGB image (3, H, W), got {}", rgb.shape().str());
  if (model_input.rank() != 3) throw Error("preprocess: the model's input {} is not an image (C, H, W)", model_input.str());
  const std::int64_t c = model_input.dim(0), h = model_input.dim(1), w = model_input.dim(2);
  if (p == Preprocess::unit) {
    if (c != 1) throw Error("preprocess 'unit' makes one gray channel, but the model takes {} channels", c);
    const Tensor img = io::resize_bilinear(rgb, h, w);
    Tensor out(Shape{1, 1, h, w});
    const std::int64_t plane = h * w;
    for (std::int64_t i = 0; i < plane; ++i) out[i] = (img[i] + img[plane + i] + img[2 * plane + i]) / (3.0f * 255.0f);
    return out;
  }
  if (c != 3) throw Error("preprocess '{}' makes three colour channels, but the model takes {}", preprocess_name(p), c);
  // torchvision's evaluation transform resizes the shorter side to 256 and crops the central 224
  // (the ratio the published accuracies of its and timm's weights use); the paper only says
  // "rescaled and cropped to 224x224", so caffe fills the crop with the shorter side.
  const std::int64_t crop = std::min(h, w);
  const std::int64_t shorter = p == Preprocess::torchvision ? std::llround(static_cast<double>(crop) * 256.0 / 224.0) : crop;
  const Tensor img = io::resize_shorter_side_and_crop(rgb, shorter, crop);
  if (img.dim(1) != h || img.dim(2) != w) throw Error("preprocess: the cropped image is {}, the model wants {}", img.shape().str(), model_input.str());
  Tensor out(Shape{1, 3, h, w});
  const std::int64_t plane = h * w;
  for (std::int64_t ch = 0; ch < 3; ++ch) {
    for (std::int64_t i = 0; i < plane; ++i) {
      // Caffe's output channel ch is BGR: blue comes from RGB channel 2.
      const std::int64_t colour = p == Preprocess::caffe ? 2 - ch : ch;
      out[ch * plane + i] = preprocess_value(p, ch, img[colour * plane + i]);
    }
  }
  return out;
}

}  // namespace pn::nn
