#include "pn/ops/ops.h"

#include "pn/kernels/conv.h"

namespace pn::ops {
namespace {

void require_rank(const Tensor& t, int rank, const char* op, const char* what) {
  if (t.rank() != rank) throw Error("{}: {} must have rank {}, got shape {}", op, what, rank, t.shape());
}

kernels::ConvGeom conv_geom(const Shape& x, const Shape& w, Conv2dSpec spec) {
  if (x.rank() != 4) throw Error("conv2d: input must be (N, C, H, W), got shape {}", x);
  if (w.rank() != 4) throw Error("conv2d: weight must be (O, C, kH, kW), got shape {}", w);
  if (x[1] != w[1]) {
    throw Error("conv2d: input {} has {} channels but weight {} expects {}", x, x[1], w, w[1]);
  }
  return kernels::make_conv_geom(x[0], x[1], x[2], x[3], w[0], w[2], w[3], spec.stride, spec.padding);
}

kernels::PoolGeom pool_geom(const Shape& x, PoolSpec spec, const char* op) {
  if (x.rank() != 4) throw Error("{}: input must be (N, C, H, W), got shape {}", op, x);
  if (spec.kernel <= 0 || spec.stride <= 0) {
    throw Error("{}: kernel and stride must be positive, got kernel {} stride {}", op, spec.kernel, spec.stride);
  }
  if (x[2] < spec.kernel || x[3] < spec.kernel) {
    throw Error("{}: window {}x{} does not fit input {}", op, spec.kernel, spec.kernel, x);
  }
  kernels::PoolGeom g;
  g.planes = x[0] * x[1];
  g.h = x[2];
  g.w = x[3];
  g.kernel = spec.kernel;
  g.stride = spec.stride;
  g.out_h = (g.h - g.kernel) / g.stride + 1;
  g.out_w = (g.w - g.kernel) / g.stride + 1;
  return g;
}

}  // namespace

void matmul_into(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out, bool accumulate,
                 const KernelTable& t) {
  require_rank(a, 2, "matmul", "left operand");
  require_rank(b, 2, "matmul", "right operand");
  const std::int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const std::int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const std::int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  const std::int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if (k != kb) {
    throw Error("matmul: inner dimensions differ: {}{} times {}{}", a.shape(), trans_a ? "ᵀ" : "", b.shape(),
                trans_b ? "ᵀ" : "");
  }
  if (accumulate) {
    require_shape(out, Shape{m, n}, "matmul (accumulate)", "output");
  } else if (out.shape() != Shape{m, n}) {
    out = Tensor(Shape{m, n});
  }
  kernels::gemm(t, kernels::GemmArgs{trans_a, trans_b, m, n, k, a.data(), a.dim(1), b.data(), b.dim(1), out.data(),
                                     n, accumulate});
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, const KernelTable& t) {
  Tensor out;
  matmul_into(a, b, trans_a, trans_b, out, false, t);
  return out;
}

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const KernelTable& t) {
  require_rank(x, 2, "linear", "input");
  require_rank(w, 2, "linear", "weight");
  if (x.dim(1) != w.dim(1)) {
    throw Error("linear: input {} has {} features but weight {} expects {}", x.shape(), x.dim(1), w.shape(), w.dim(1));
  }
  if (bias) require_shape(*bias, Shape{w.dim(0)}, "linear", "bias");
  Tensor y = matmul(x, w, false, true, t);
  if (bias) t.bias_add(y.data(), bias->data(), y.dim(0), y.dim(1), 1);
  return y;
}

Shape conv2d_output_shape(const Shape& x_shape, const Shape& w_shape, Conv2dSpec spec) {
  const auto g = conv_geom(x_shape, w_shape, spec);
  return Shape{g.batch, g.out_c, g.out_h, g.out_w};
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Conv2dSpec spec, const KernelTable& t) {
  const auto g = conv_geom(x.shape(), w.shape(), spec);
  if (bias) require_shape(*bias, Shape{g.out_c}, "conv2d", "bias");
  Tensor y(Shape{g.batch, g.out_c, g.out_h, g.out_w});
  kernels::conv2d_forward(t, g, x.data(), w.data(), bias ? bias->data() : nullptr, y.data());
  return y;
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, Conv2dSpec spec,
                            const KernelTable& t) {
  const auto g = conv_geom(x_shape, w.shape(), spec);
  require_shape(dy, Shape{g.batch, g.out_c, g.out_h, g.out_w}, "conv2d backward-data", "output gradient");
  Tensor dx(x_shape);
  kernels::conv2d_backward_data(t, g, dy.data(), w.data(), dx.data());
  return dx;
}

void conv2d_backward_weight(const Tensor& x, const Tensor& dy, Conv2dSpec spec, Tensor& dw, Tensor* dbias,
                            bool accumulate, const KernelTable& t) {
  const auto g = conv_geom(x.shape(), dw.shape(), spec);
  require_shape(dy, Shape{g.batch, g.out_c, g.out_h, g.out_w}, "conv2d backward-weight", "output gradient");
  if (dbias) require_shape(*dbias, Shape{g.out_c}, "conv2d backward-weight", "bias gradient");
  kernels::conv2d_backward_weight(t, g, x.data(), dy.data(), dw.data(), dbias ? dbias->data() : nullptr, accumulate);
}

Shape pool_output_shape(const Shape& x_shape, PoolSpec spec, const char* op) {
  const auto g = pool_geom(x_shape, spec, op);
  return Shape{x_shape[0], x_shape[1], g.out_h, g.out_w};
}

MaxPoolResult maxpool2d_forward(const Tensor& x, PoolSpec spec, const KernelTable& t) {
  const auto g = pool_geom(x.shape(), spec, "maxpool2d");
  MaxPoolResult r{Tensor(Shape{x.dim(0), x.dim(1), g.out_h, g.out_w}), {}};
  r.argmax.resize(static_cast<std::size_t>(r.y.numel()));
  t.maxpool_forward(g, x.data(), r.y.data(), r.argmax.data());
  return r;
}

Tensor maxpool2d_backward(const Tensor& dy, const std::vector<std::int32_t>& argmax, const Shape& x_shape,
                          PoolSpec spec, const KernelTable& t) {
  const auto g = pool_geom(x_shape, spec, "maxpool2d backward");
  require_shape(dy, Shape{x_shape[0], x_shape[1], g.out_h, g.out_w}, "maxpool2d backward", "output gradient");
  if (static_cast<std::int64_t>(argmax.size()) != dy.numel()) {
    throw Error("maxpool2d backward: {} switches for an output of shape {}", argmax.size(), dy.shape());
  }
  for (std::int32_t i : argmax) {
    if (i < 0 || i >= g.h * g.w) throw Error("maxpool2d backward: switch {} outside a {}x{} plane", i, g.h, g.w);
  }
  Tensor dx(x_shape);
  t.maxpool_backward(g, dy.data(), argmax.data(), dx.data());
  return dx;
}

Tensor avgpool2d_forward(const Tensor& x, PoolSpec spec, const KernelTable& t) {
  const auto g = pool_geom(x.shape(), spec, "avgpool2d");
  Tensor y(Shape{x.dim(0), x.dim(1), g.out_h, g.out_w});
  t.avgpool_forward(g, x.data(), y.data());
  return y;
}

Tensor avgpool2d_backward(const Tensor& dy, const Shape& x_shape, PoolSpec spec, const KernelTable& t) {
  const auto g = pool_geom(x_shape, spec, "avgpool2d backward");
  require_shape(dy, Shape{x_shape[0], x_shape[1], g.out_h, g.out_w}, "avgpool2d backward", "output gradient");
  Tensor dx(x_shape);
  t.avgpool_backward(g, dy.data(), dx.data());
  return dx;
}

Tensor relu_forward(const Tensor& x, const KernelTable& t) {
  Tensor y(x.shape());
  t.relu_forward(x.data(), y.data(), x.numel());
  return y;
}

Tensor relu_backward(const Tensor& dy, const Tensor& z, const KernelTable& t) {
  require_shape(dy, z.shape(), "relu backward", "gradient");
  Tensor dx(z.shape());
  t.relu_backward(dy.data(), z.data(), dx.data(), z.numel());
  return dx;
}

}  // namespace pn::ops
