// Float64 forward pass of a whole VGG-16 (any width), for the chapter-11 tests.
//
// The most direct loops over the definitions, sharing no code with src/ and none with the other
// oracles (see oracle.h): 3x3 cross-correlation with one pixel of zero padding, ReLU, 2x2 stride-2
// max-pooling, flattening in (C, H, W) order, dense layers. Dropout is the identity at inference
// and does not appear. Layouts are PyTorch's, spelled out below.
#pragma once

#include <cstdint>
#include <vector>

namespace oracle {

// VGG-16's topology: 13 convolutions in blocks of 2, 2, 3, 3, 3, each followed by a ReLU, a max-pool
// after each block; then dense -> ReLU -> dense -> ReLU -> dense (the logits).
struct Vgg16Params {
  std::int64_t in_c = 3, in_h = 224, in_w = 224;
  // Output channels of the 13 convolutions, in order (64, 64, 128, ... 512 at full width).
  std::vector<std::int64_t> conv_out;
  // conv_w[k]: (conv_out[k], in, 3, 3) row-major, in = in_c for k = 0 else conv_out[k - 1];
  // conv_b[k]: (conv_out[k]).
  std::vector<std::vector<double>> conv_w, conv_b;
  // fc_w[k]: (out, in) row-major; fc_b[k]: (out). fc 0 reads the flattened (C, H, W) pool5 map.
  std::vector<std::vector<double>> fc_w, fc_b;
  std::int64_t hidden = 0, classes = 0;  // outputs of fc 0 and 1; of fc 2
};

// The logits (classes) of one image x (in_c, in_h, in_w), row-major. Throws std::invalid_argument
// when a tensor's size does not match the shapes above.
std::vector<double> vgg16_forward(const Vgg16Params& p, const double* x);

}  // namespace oracle
