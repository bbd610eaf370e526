// The names of a model's output classes, for printed predictions and figure captions. Chapter 8.
// ImageNet: the 1000 ILSVRC-2012 classes in the order every VGG-16 checkpoint uses (torchvision,
// timm, Caffe), compiled in from data/imagenet_classes.txt (see data/README.md), so no file is
// read at run time. Fashion-MNIST: the ten classes of io::fashion_mnist_classes().
#pragma once

#include "pn/nn/sequential.h"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace pn::nn {

inline constexpr std::int64_t kImageNetClasses = 1000;

// Output unit index -> its ImageNet class name ("tench" for 0, "toilet tissue" for 999). Throws
// pn::Error outside 0..999.
std::string_view imagenet_class_name(std::int64_t index);
std::span<const std::string_view> imagenet_class_names();

// The name of output unit `index` of `model` when the model's classes are known from its shape:
// 1000 outputs are ImageNet; 10 outputs on a one-channel image (this project's Fashion-MNIST
// networks: 28x28, or 32x32 for vgg16-32) are Fashion-MNIST. Empty when unknown or outside the
// outputs.
std::string_view class_name_for(const Sequential& model, std::int64_t index);

namespace detail {
// Defined in the source generated from data/imagenet_classes.txt (cmake/PnImageNetClasses.cmake).
extern const std::array<std::string_view, kImageNetClasses> kImageNetClassNames;
}  // namespace detail

}  // namespace pn::nn
