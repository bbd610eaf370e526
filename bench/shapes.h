// Shape lists shared by the benchmark suites: the shapes the paper's workloads run, plus small
// ones for the ctest smoke runs (their names contain "small").
#pragma once

#include <cstdint>
#include <vector>

namespace pn::bench {

struct GemmShape {
  const char* name;
  bool trans_a, trans_b;
  std::int64_t m, n, k;
  bool accumulate;
};

// 1024³ and 4096³ square products; the two pattern-statistics products: a conv layer's
// Xᵀ[Y⊙M, M] for VGG-16 conv4-size patches (M = 512 outputs, N = 4608 = 512·3·3 patch values,
// K = 3136 = 56·56 positions) and fc6's cross-moment update with a batch of 64 rows
// (M = 25088 inputs, N = 4096 outputs, K = 64), both accumulated as statistics are; fc6 of VGG-16
// at batch 1 forward (x Wᵀ) and backward (dy W): a 411 MB weight matrix streamed once per call,
// reported as GB/s of B as well; the same for fc7 (4096 x 4096, 67 MB) and fc8 (1000 x 4096,
// 16 MB, which fits the last-level cache of the machine in bench/README.md, so repeated calls read
// it from there).
inline const std::vector<GemmShape>& gemm_shapes() {
  static const std::vector<GemmShape> shapes = {
      {"small_nn_64", false, false, 64, 64, 64, false},
      {"small_tn_odd", true, false, 100, 37, 129, true},
      {"small_nt_odd", false, true, 33, 129, 70, false},
      {"square_1024", false, false, 1024, 1024, 1024, false},
      {"square_4096", false, false, 4096, 4096, 4096, false},
      {"stats_conv_512x4608x3136_tn", true, false, 512, 4608, 3136, true},
      {"stats_fc6_25088x4096x64_tn", true, false, 25088, 4096, 64, true},
      {"fc6_forward_batch1_nt", false, true, 1, 4096, 25088, false},
      {"fc6_backward_batch1_nn", false, false, 1, 25088, 4096, false},
      {"fc7_forward_batch1_nt", false, true, 1, 4096, 4096, false},
      {"fc7_backward_batch1_nn", false, false, 1, 4096, 4096, false},
      {"fc8_forward_batch1_nt", false, true, 1, 1000, 4096, false},
      {"fc8_backward_batch1_nn", false, false, 1, 4096, 1000, false},
  };
  return shapes;
}

struct ConvShape {
  const char* name;
  std::int64_t in_c, out_c, size;  // square input, 3x3 kernel, stride 1, padding 1
};

// The 13 convolutions of VGG-16 at 224x224 (batch 1), and one small shape for smoke runs.
inline const std::vector<ConvShape>& vgg16_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {"small_conv_8x16x12", 8, 16, 12},
      {"conv1_1", 3, 64, 224},    {"conv1_2", 64, 64, 224},    {"conv2_1", 64, 128, 112},
      {"conv2_2", 128, 128, 112}, {"conv3_1", 128, 256, 56},   {"conv3_2", 256, 256, 56},
      {"conv3_3", 256, 256, 56},  {"conv4_1", 256, 512, 28},   {"conv4_2", 512, 512, 28},
      {"conv4_3", 512, 512, 28},  {"conv5_1", 512, 512, 14},   {"conv5_2", 512, 512, 14},
      {"conv5_3", 512, 512, 14},
  };
  return shapes;
}

}  // namespace pn::bench
