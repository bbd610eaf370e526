#include "pn/nn/preprocess.h"

#include "pn/core/error.h"
#include "pn/io/image.h"

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
  const Tensor img = io::resize_shorter_side_and_crop(rgb, std::min(h, w), h == w ? h : std::min(h, w));
  if (img.dim(1) != h || img.dim(2) != w) throw Error("preprocess: the cropped image is {}, the model wants {}", img.shape().str(), model_input.str());
  Tensor out(Shape{1, 3, h, w});
  const std::int64_t plane = h * w;
  for (std::int64_t ch = 0; ch < 3; ++ch) {
    for (std::int64_t i = 0; i < plane; ++i) {
      if (p == Preprocess::caffe) {
        // Output channel ch is BGR: blue comes from RGB channel 2.
        static constexpr float kMeanBgr[3] = {103.939f, 116.779f, 123.68f};
        out[ch * plane + i] = img[(2 - ch) * plane + i] - kMeanBgr[ch];
      } else {
        static constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
        out[ch * plane + i] = (img[ch * plane + i] / 255.0f - kMean[ch]) / kStd[ch];
      }
    }
  }
  return out;
}

}  // namespace pn::nn
