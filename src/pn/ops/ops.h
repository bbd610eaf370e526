// Tensor-level operations: shape-checked wrappers over the kernel layer.
// Chapter 1. These are what the autograd, the layers and the explanation rules call; every
// mismatch is a pn::Error that names the operation and both shapes. Each function takes the
// kernel table to run on (default: the one chosen at start-up), so tests can force each ISA.
#pragma once

#include "pn/core/tensor.h"
#include "pn/kernels/kernels.h"

#include <cstdint>
#include <vector>

namespace pn::ops {

using kernels::KernelTable;

// op(a) · op(b) for rank-2 tensors; with accumulate, adds into out (which must then exist).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
              const KernelTable& t = kernels::active());
void matmul_into(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out, bool accumulate,
                 const KernelTable& t = kernels::active());

// y (N, O) = x (N, D) · wᵀ (w is (O, D), PyTorch's layout) + bias (O) when bias is non-null.
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const KernelTable& t = kernels::active());

struct Conv2dSpec {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
};

// x (N, C, H, W), w (O, C, kH, kW), bias (O) or null -> y (N, O, out_h, out_w).
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Conv2dSpec spec,
                      const KernelTable& t = kernels::active());
// dy (N, O, out_h, out_w) -> dx with the given input shape.
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, Conv2dSpec spec,
                            const KernelTable& t = kernels::active());
// dw (O, C, kH, kW) and dbias (O, or null) (+)= weight gradients of the convolution of x.
void conv2d_backward_weight(const Tensor& x, const Tensor& dy, Conv2dSpec spec, Tensor& dw, Tensor* dbias,
                            bool accumulate, const KernelTable& t = kernels::active());

struct PoolSpec {
  std::int64_t kernel = 2;
  std::int64_t stride = 2;
};

struct MaxPoolResult {
  Tensor y;
  std::vector<std::int32_t> argmax;  // per output element: flat index inside its input plane
};

MaxPoolResult maxpool2d_forward(const Tensor& x, PoolSpec spec, const KernelTable& t = kernels::active());
Tensor maxpool2d_backward(const Tensor& dy, const std::vector<std::int32_t>& argmax, const Shape& x_shape,
                          PoolSpec spec, const KernelTable& t = kernels::active());
Tensor avgpool2d_forward(const Tensor& x, PoolSpec spec, const KernelTable& t = kernels::active());
Tensor avgpool2d_backward(const Tensor& dy, const Shape& x_shape, PoolSpec spec,
                          const KernelTable& t = kernels::active());

// Output shape of a pooling or convolution, with the checks of the forward functions.
Shape pool_output_shape(const Shape& x_shape, PoolSpec spec, const char* op);
Shape conv2d_output_shape(const Shape& x_shape, const Shape& w_shape, Conv2dSpec spec);

Tensor relu_forward(const Tensor& x, const KernelTable& t = kernels::active());
// dx = dy where the pre-activation z > 0, else 0.
Tensor relu_backward(const Tensor& dy, const Tensor& z, const KernelTable& t = kernels::active());

}  // namespace pn::ops
