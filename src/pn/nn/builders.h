// The networks of the project, by name. Chapter 2.
//   mlp       Fashion-MNIST: 784 -> 512 -> 256 -> 10 with ReLUs
//   cnn       Fashion-MNIST: 2 conv (32, 64 channels, 3x3, 'same') each with ReLU + 2x2 max-pool,
//             then dense 3136 -> 256 -> 10
//   vgg16     the paper's network: 13 conv (3x3, 'same') in blocks of 2,2,3,3,3 with
//             64,128,256,512,512 channels, 2x2 max-pool after each block, dense 25088 -> 4096 ->
//             4096 -> 1000 with dropout 0.5 on the hidden dense layers; input 3x224x224
//   vgg16-32  the same 13 conv layers at full width on 1x32x32 inputs (Fashion-MNIST padded to
//             32x32), classifier 512 -> 512 -> 512 -> 10 with dropout 0.5
// Layer names follow the VGG convention (conv1_1 ... conv5_3, pool1 ... pool5, fc6, fc7, fc8).
#pragma once

#include "pn/nn/sequential.h"

#include <string>
#include <vector>

namespace pn::nn {

Sequential build_model(const std::string& arch);  // parameters zero; call init() or load weights
const std::vector<std::string>& model_names();

Sequential build_mlp();
Sequential build_cnn();
// width_divisor > 1 gives a narrower copy (every conv and hidden dense width divided), e.g. for
// test fixtures that exercise the full VGG-16 topology and name binding in a few megabytes.
Sequential build_vgg16(std::int64_t width_divisor = 1, std::int64_t classes = 1000);
Sequential build_vgg16_32();

}  // namespace pn::nn
