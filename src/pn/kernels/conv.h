// 2-D convolution (cross-correlation, NCHW activations, OIHW weights) on top of the GEMM kernel.
// Chapter 1 and chapter 10. Forward: y[n] = W · col(x[n]); backward-data: dx[n] = col2im(Wᵀ · dy[n]);
// backward-weight: dW += dy[n] · col(x[n])ᵀ. col() is im2col, built for a band of output rows at a
// time so that its scratch stays bounded (a 224 x 224 image would otherwise need 115 MB for
// VGG-16's conv1_2). Small feature maps go the other way: the columns of several images share one
// col matrix, so a 2x2 map of vgg16-32's conv5 becomes one product with N = images x 4 instead of
// a matrix-vector product per image. Padding is zero padding on both sides; stride is the same on
// both axes.
#pragma once

#include "pn/kernels/kernels.h"

#include <cstdint>

namespace pn::kernels {

struct ConvGeom {
  std::int64_t batch = 0, in_c = 0, in_h = 0, in_w = 0;
  std::int64_t out_c = 0, kernel_h = 0, kernel_w = 0;
  std::int64_t stride = 1, pad = 0;
  std::int64_t out_h = 0, out_w = 0;

  std::int64_t patch() const { return in_c * kernel_h * kernel_w; }  // D: one im2col column
  std::int64_t positions() const { return out_h * out_w; }
};

// Fills out_h/out_w; throws pn::Error naming the sizes when the geometry is impossible.
ConvGeom make_conv_geom(std::int64_t batch, std::int64_t in_c, std::int64_t in_h, std::int64_t in_w,
                        std::int64_t out_c, std::int64_t kernel_h, std::int64_t kernel_w, std::int64_t stride,
                        std::int64_t pad);

// Writes the (patch x rows*out_w) im2col block of image x (C, H, W) for output rows
// [row0, row0 + rows): column (r, c) holds the receptive field of output (row0 + r, c), zero where
// it reaches into the padding. Rows of the block follow the (c, ky, kx) order of the weights; ld is
// the distance between rows of col (default rows*out_w; larger when several images share col).
void im2col(const ConvGeom& g, const float* x, std::int64_t row0, std::int64_t rows, float* col, std::int64_t ld = 0);
// Row d = (c·kernel_h + ky)·kernel_w + kx of that block alone: rows·out_w values written to dst.
// For consumers that finish each row while it is in cache (the pattern statistics centre it).
void im2col_row(const ConvGeom& g, const float* x, std::int64_t d, std::int64_t row0, std::int64_t rows, float* dst);
// The adjoint of im2col: adds the block back into the image gradient dx (C, H, W).
void col2im(const ConvGeom& g, const float* col, std::int64_t row0, std::int64_t rows, float* dx, std::int64_t ld = 0);

// y (N, O, out_h, out_w) = conv(x (N, C, H, W), w (O, C, kH, kW)) + bias (O, may be null).
void conv2d_forward(const KernelTable& t, const ConvGeom& g, const float* x, const float* w, const float* bias,
                    float* y);
// dx (N, C, H, W) = the gradient of the forward with respect to x, overwritten.
void conv2d_backward_data(const KernelTable& t, const ConvGeom& g, const float* dy, const float* w, float* dx);
// dw (O, C, kH, kW) and dbias (O, may be null) (+)= gradients with respect to the weights.
void conv2d_backward_weight(const KernelTable& t, const ConvGeom& g, const float* x, const float* dy, float* dw,
                            float* dbias, bool accumulate);

}  // namespace pn::kernels
