// A Trace keeps what the explanation passes need from one forward pass. Chapters 2 and 4.
// For every layer: its input (for a ReLU that is the pre-activation z, whose sign is the gate
// every backward rule uses), and for max-pooling the arg-max switches. The layer's output is the
// next layer's input; the network's output (the logits) is kept separately.
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <vector>

namespace pn::nn {

struct LayerRecord {
  Tensor input;
  std::vector<std::int32_t> switches;  // max-pool layers only
};

struct Trace {
  std::vector<LayerRecord> layers;
  Tensor output;
};

}  // namespace pn::nn
