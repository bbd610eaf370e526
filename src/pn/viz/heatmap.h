// From an explanation tensor to a picture, exactly as the paper shows them (§7.4, Fig. 5 and 6).
// Signal and function methods (Gradient, DeConvNet, Guided BackProp, PatternNet) are shown as an
// RGB image of x / (2 max|x|) + 1/2; attribution methods (LRP, PatternAttribution) are summed over
// colour channels, scaled to [-1, 1] by max|.| and coloured with 'seismic' (viz/colormap.h).
// Each explanation is normalised on its own, so only the pattern within one image is meaningful,
// not the brightness across images or methods. Not here: PNG encoding (io/image.h).
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::viz {

enum class HeatmapKind { signal, attribution };

const char* heatmap_kind_name(HeatmapKind kind);  // "signal" / "attribution"

// The images below are interleaved 8-bit RGB, row-major, H * W * 3 bytes.

// chw is one explanation (C, H, W) with C = 3 (colour) or 1 (shown as gray). Every value x of
// every channel becomes byte int(255 * clip(x / (2 m) + 1/2, 0, 1)) with m = max|x| over the whole
// explanation, so 0 is 127 and +-m are 255 and 0. An all-zero explanation is uniform gray 127,
// never NaN. bgr_to_rgb reverses the channel order for display (the paper's Caffe VGG-16 works
// in BGR); it is ignored for one channel. A NaN or infinite value is a pn::Error.
std::vector<std::uint8_t> signal_image(const Tensor& chw, bool bgr_to_rgb);

// chw is one explanation (C, H, W), any C. s = sum over channels, v = s / max|s|, colour
// seismic(v) = seismic_table()[int((v + 1) * 127.5)]: the most positive pixel gets entry 255
// (dark red), the most negative entry 0 (dark blue), zero entry 127 (near white). An all-zero
// explanation is pure white (255, 255, 255). A NaN or infinite value is a pn::Error.
std::vector<std::uint8_t> attribution_image(const Tensor& chw);

std::vector<std::uint8_t> heatmap_image(const Tensor& chw, HeatmapKind kind, bool bgr_to_rgb);

// Repeats each pixel of an h x w RGB image factor x factor times (nearest neighbour): small
// inputs such as Fashion-MNIST's 28 x 28 stay sharp-edged when enlarged for viewing.
std::vector<std::uint8_t> upscale_nearest(const std::vector<std::uint8_t>& rgb, std::int64_t h, std::int64_t w,
                                          std::int64_t factor);

// The default enlargement: the smallest integer factor that makes the shorter side at least
// kMinHeatmapSide pixels (1 for images that are already that large).
inline constexpr std::int64_t kMinHeatmapSide = 224;
std::int64_t auto_scale(std::int64_t h, std::int64_t w);

// The files write_heatmaps writes for a batch of n: `path` itself when n == 1; otherwise one file
// per sample, `<stem>_<i><ext>` beside it with i = 0 .. n-1 unpadded ("out/h.png" -> "out/h_0.png",
// "out/h_1.png", ...).
std::vector<std::string> heatmap_paths(const std::string& path, std::int64_t n);

// Writes one PNG per sample of batch (N, C, H, W) (or one (C, H, W) explanation) to the files
// heatmap_paths(path, N) names, and returns those names. scale 0 chooses auto_scale(H, W); a
// positive scale enlarges by exactly that factor. Every image is computed (and every value
// checked) before the first file is written, and each file is written atomically; a destination
// folder that is missing or not writable is a pn::Error before anything is written.
std::vector<std::string> write_heatmaps(const std::string& path, const Tensor& batch, HeatmapKind kind,
                                        bool bgr_to_rgb = false, std::int64_t scale = 0);

}  // namespace pn::viz
