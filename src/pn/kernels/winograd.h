// 3x3 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016).
// Chapter 10. A 2x2 block of outputs of a 3x3 filter needs 36 multiplications done directly; F(2x2, 3x3)
// computes it from a 4x4 input tile with 16, so the products (the GEMMs) shrink 2.25x:
//
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        d: 4x4 input tile, g: 3x3 filter, Y: 2x2 outputs
//
// with the transforms
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 -1 -1].
// Summed over input channels, each of the 16 element positions ξ of the transformed tile is an
// independent matrix product: M_ξ (K x tiles) = U_ξ (K x C) · V_ξ (C x tiles), U = G g Gᵀ per
// (output, input) channel pair, V = Bᵀ d B per (channel, tile). Every coefficient is 0, ±1 or ±½,
// so the transforms add no rounding beyond the sums themselves (measured against the direct
// product in tests/test_conv.cpp).
//
// Only 3x3, stride-1, padding-1 layers (every conv of VGG-16) with enough channels and tiles for
// the 16 products to be efficient take this path. The backward-data pass of such a layer is the same kind
// of convolution, with the filters flipped and the channel axes swapped, so it runs here too.
#pragma once

#include "pn/kernels/conv.h"

namespace pn::kernels {

// Which algorithm conv2d_forward / conv2d_backward_data use for layers that suit Winograd.
// PN_CONV=direct (im2col + GEMM everywhere) or PN_CONV=auto (the default), read once per process;
// any other value is a pn::Error.
enum class ConvAlgo { automatic, direct };
ConvAlgo conv_algo();

// True when g is a 3x3, stride-1, padding-1 convolution with at least 16 input and output channels
// and at least kWinogradMinTiles 2x2 output tiles over the batch.
inline constexpr std::int64_t kWinogradMinTiles = 64;
bool winograd_suits(const ConvGeom& g);

// y (N, out_c, H, W) = conv(x (N, in_c, H, W), w) without bias, for a geometry that
// winograd_suits. Without flip, w is (out_c, in_c, 3, 3) as in conv2d_forward. With flip, w is
// stored (in_c, out_c, 3, 3) and filter (o, c) is w's filter (c, o) rotated by 180 degrees: the
// backward-data pass of the layer whose weights are w (x is then its dy, y its dx).
// chunk_rows > 0 overrides the tile rows per chunk (the tests cut chunks across and inside images);
// the result does not depend on it, bit for bit.
void winograd_conv3x3(const KernelTable& t, const ConvGeom& g, const float* x, const float* w, bool flip, float* y,
                      std::int64_t chunk_rows = 0);

}  // namespace pn::kernels
