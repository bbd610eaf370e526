// Batches of labelled images for training and evaluation. Chapter 2.
#pragma once

#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/nn/sequential.h"

#include <cstdint>
#include <vector>

namespace pn::nn {

struct Dataset {
  Tensor images;                     // (N, C, H, W)
  std::vector<std::int32_t> labels;  // N
  std::int64_t size() const { return images.empty() ? 0 : images.dim(0); }
};

// Fits images to the model's input: zero-pads (centred) when the model's H, W are larger, e.g.
// Fashion-MNIST's 28x28 to vgg16-32's 32x32; an image larger than the input, or with another
// channel count, is an error naming both shapes.
Tensor fit_to_input(const Tensor& images, const Sequential& model);

// Rows idx[begin, end) of images, gathered into one batch tensor.
Tensor gather_rows(const Tensor& images, const std::vector<std::int64_t>& idx, std::int64_t begin, std::int64_t end);

// The first n samples (or all when n <= 0 or n >= size).
Dataset take(const Dataset& d, std::int64_t n);

}  // namespace pn::nn
