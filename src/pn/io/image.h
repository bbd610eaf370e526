// Image files and the geometry of preprocessing: reading PNG/JPEG/BMP into a (3, H, W) tensor,
// bilinear resizing, centre cropping (paper §7.2: images "rescaled and cropped to 224x224"), and
// writing 8-bit PNGs atomically for the heatmaps of §7.4. Decoding and encoding are stb_image's;
// this file only converts between its interleaved bytes and patternnet's planar float tensors.
// Not here: the per-model colour order and mean subtraction (nn/preprocess.h), colour maps (viz/).
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::io {

// PNG, JPEG or BMP (and the other formats stb_image decodes: TGA, GIF's first frame, PNM, PSD,
// HDR, PIC) -> float32 (3, H, W), RGB, values 0..255. Gray images are copied into all three
// channels; an alpha channel is dropped (not composited); 16-bit PNGs are reduced to 8 bits;
// JPEG EXIF orientation is not applied. A missing, unreadable or corrupt file is a pn::Error that
// names the file and quotes the decoder's reason. The size is read from the header and checked
// before decoding: at most kMaxImageSide pixels per side and kMaxImagePixels in all, and a file in
// a format other than PNG and JPEG (which check their own data) must hold at least one byte per
// 256 pixels it claims, GIF per 4096 (stb reads zeros past the end of those formats).
Tensor read_image(const std::string& path);

// 2^26 pixels (a 64-megapixel photo) is a (3, H, W) float tensor of 768 MiB plus 192 MiB of
// decoded bytes; far larger than the paper's 224x224 inputs, yet a header that claims more (a few
// bytes can) cannot make the reader allocate gigabytes.
inline constexpr int kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;

// Bilinear resampling of each channel of a (C, H, W) tensor to (C, h, w) with half-pixel centres:
// output pixel (i, j) samples the input at ((i + 0.5) H/h - 0.5, (j + 0.5) W/w - 0.5), clamped to
// the image, which is OpenCV's INTER_LINEAR and PyTorch's align_corners=False. There is no
// anti-aliasing: shrinking by more than 2x skips input pixels, as those libraries do.
Tensor resize_bilinear(const Tensor& chw, std::int64_t h, std::int64_t w);

// The central (C, h, w) window of a (C, H, W) tensor. When H - h (or W - w) is odd, the extra
// row (column) is cut from the bottom (right): the window starts at floor((H - h) / 2).
Tensor center_crop(const Tensor& chw, std::int64_t h, std::int64_t w);

// Resizes so that the shorter side is `shorter` (the other side is scaled by the same factor and
// rounded to the nearest pixel, never below `shorter`), then takes the central crop x crop square.
// crop must not exceed shorter.
Tensor resize_shorter_side_and_crop(const Tensor& chw, std::int64_t shorter, std::int64_t crop);

// Writes an 8-bit PNG atomically (a temporary file renamed into place, see pn::AtomicFile): an
// interrupted or failed write leaves no file behind. rgb is interleaved row-major R, G, B bytes,
// h * w * 3 of them; write_png_gray takes h * w bytes. A destination whose folder is missing or
// not writable is a pn::Error naming the path.
void write_png(const std::string& path, const std::vector<std::uint8_t>& rgb, std::int64_t h, std::int64_t w);
void write_png_gray(const std::string& path, const std::vector<std::uint8_t>& gray, std::int64_t h, std::int64_t w);

}  // namespace pn::io
