#include "pn/viz/heatmap.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/io/image.h"
#include "pn/viz/colormap.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace pn::viz {
namespace {

// One explanation inside a tensor: C planes of H x W floats starting at data. Lets a batch be
// drawn sample by sample without copying each sample into a tensor of its own.
struct Planes {
  const float* data;
  std::int64_t c, h, w;
};

Planes planes_of(const Tensor& chw, const char* op) {
  if (chw.rank() != 3 || chw.dim(0) < 1 || chw.dim(1) < 1 || chw.dim(2) < 1) {
    throw Error("{}: expected one explanation (C, H, W) with C, H, W >= 1, got {}", op, chw.shape());
  }
  return {chw.data(), chw.dim(0), chw.dim(1), chw.dim(2)};
}

// max |x| over all values; NaN or infinity would poison the normalisation of every pixel, so
// they are refused with their position rather than drawn as garbage.
double checked_absmax(const float* x, std::int64_t n, const char* op) {
  double m = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      throw Error("{}: the explanation holds a non-finite value ({}) at element {}", op, x[i], i);
    }
    m = std::max(m, std::fabs(static_cast<double>(x[i])));
  }
  return m;
}

std::vector<std::uint8_t> signal_pixels(const Planes& p, bool bgr_to_rgb) {
  if (p.c != 1 && p.c != 3) {
    throw Error("signal_image: a signal is shown as RGB or gray, so it needs 3 or 1 channels, got {}", p.c);
  }
  const std::int64_t plane = p.h * p.w;
  const double m = checked_absmax(p.data, p.c * plane, "signal_image");
  // x / (2m) + 1/2 maps [-m, m] onto [0, 1]; when m = 0 every x is 0 and the value is 1/2.
  const auto byte = [m](float x) {
    const double u = m > 0.0 ? static_cast<double>(x) / (2.0 * m) + 0.5 : 0.5;
    return static_cast<std::uint8_t>(sequential_index(u));
  };
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(plane * 3));
  for (std::int64_t i = 0; i < plane; ++i) {
    for (std::int64_t k = 0; k < 3; ++k) {
      // Output channel k (R, G, B) reads input channel k, or 2 - k when the input is BGR.
      const std::int64_t src = p.c == 1 ? 0 : (bgr_to_rgb ? 2 - k : k);
      rgb[static_cast<std::size_t>(3 * i + k)] = byte(p.data[src * plane + i]);
    }
  }
  return rgb;
}

std::vector<std::uint8_t> attribution_pixels(const Planes& p) {
  const std::int64_t plane = p.h * p.w;
  checked_absmax(p.data, p.c * plane, "attribution_image");
  // Relevance is additive, so a pixel's relevance is the sum over its colour channels.
  std::vector<double> sum(static_cast<std::size_t>(plane), 0.0);
  for (std::int64_t c = 0; c < p.c; ++c) {
    for (std::int64_t i = 0; i < plane; ++i) sum[static_cast<std::size_t>(i)] += p.data[c * plane + i];
  }
  double m = 0.0;
  for (const double s : sum) m = std::max(m, std::fabs(s));
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(plane * 3), 255);  // all-zero: white
  if (m == 0.0) return rgb;
  for (std::int64_t i = 0; i < plane; ++i) {
    const Rgb8 colour = seismic(sum[static_cast<std::size_t>(i)] / m);
    rgb[static_cast<std::size_t>(3 * i)] = colour.r;
    rgb[static_cast<std::size_t>(3 * i + 1)] = colour.g;
    rgb[static_cast<std::size_t>(3 * i + 2)] = colour.b;
  }
  return rgb;
}

std::vector<std::uint8_t> pixels_of(const Planes& p, HeatmapKind kind, bool bgr_to_rgb) {
  return kind == HeatmapKind::signal ? signal_pixels(p, bgr_to_rgb) : attribution_pixels(p);
}

}  // namespace

const char* heatmap_kind_name(HeatmapKind kind) {
  return kind == HeatmapKind::signal ? "signal" : "attribution";
}

std::vector<std::uint8_t> signal_image(const Tensor& chw, bool bgr_to_rgb) {
  return signal_pixels(planes_of(chw, "signal_image"), bgr_to_rgb);
}

std::vector<std::uint8_t> attribution_image(const Tensor& chw) {
  return attribution_pixels(planes_of(chw, "attribution_image"));
}

std::vector<std::uint8_t> heatmap_image(const Tensor& chw, HeatmapKind kind, bool bgr_to_rgb) {
  return pixels_of(planes_of(chw, "heatmap_image"), kind, bgr_to_rgb);
}

std::vector<std::uint8_t> upscale_nearest(const std::vector<std::uint8_t>& rgb, std::int64_t h, std::int64_t w,
                                          std::int64_t factor) {
  if (h < 1 || w < 1) throw Error("upscale_nearest: image size must be positive, got {}x{}", h, w);
  const std::int64_t bytes = checked_mul(checked_mul(h, w, "image size"), 3, "image size");
  if (static_cast<std::int64_t>(rgb.size()) != bytes) {
    throw Error("upscale_nearest: a {}x{} RGB image needs {} bytes, got {}", h, w, bytes, rgb.size());
  }
  if (factor < 1) throw Error("upscale_nearest: the factor must be a positive integer, got {}", factor);
  if (factor == 1) return rgb;
  const std::int64_t out_w = checked_mul(w, factor, "upscaled width");
  const std::int64_t out_h = checked_mul(h, factor, "upscaled height");
  std::vector<std::uint8_t> out(static_cast<std::size_t>(checked_mul(checked_mul(out_h, out_w, "upscaled image size"), 3, "upscaled image size")));
  for (std::int64_t y = 0; y < out_h; ++y) {
    const std::uint8_t* src_row = rgb.data() + (y / factor) * w * 3;
    std::uint8_t* dst_row = out.data() + y * out_w * 3;
    for (std::int64_t x = 0; x < out_w; ++x) std::copy_n(src_row + (x / factor) * 3, 3, dst_row + x * 3);
  }
  return out;
}

std::int64_t auto_scale(std::int64_t h, std::int64_t w) {
  const std::int64_t side = std::max<std::int64_t>(1, std::min(h, w));
  return std::max<std::int64_t>(1, (kMinHeatmapSide + side - 1) / side);  // ceil(224 / side)
}

std::vector<std::string> heatmap_paths(const std::string& path, std::int64_t n) {
  if (n < 1) throw Error("heatmap_paths: need at least one sample, got {}", n);
  if (n == 1) return {path};
  const std::filesystem::path p(path);
  const std::string stem = p.stem().string(), ext = p.extension().string();
  std::vector<std::string> paths;
  for (std::int64_t i = 0; i < n; ++i) paths.push_back((p.parent_path() / fmt::format("{}_{}{}", stem, i, ext)).string());
  return paths;
}

std::vector<std::string> write_heatmaps(const std::string& path, const Tensor& batch, HeatmapKind kind,
                                        bool bgr_to_rgb, std::int64_t scale) {
  if ((batch.rank() != 3 && batch.rank() != 4) || batch.numel() == 0) {
    throw Error("write_heatmaps '{}': expected explanations (N, C, H, W) or one (C, H, W), got {}", path, batch.shape());
  }
  if (scale < 0) throw Error("write_heatmaps '{}': scale must be 0 (automatic) or a positive factor, got {}", path, scale);
  const int first = batch.rank() - 3;  // index of the C dimension
  const std::int64_t n = batch.rank() == 4 ? batch.dim(0) : 1;
  const Planes shape{nullptr, batch.dim(first), batch.dim(first + 1), batch.dim(first + 2)};
  const std::int64_t factor = scale == 0 ? auto_scale(shape.h, shape.w) : scale;
  std::vector<std::string> paths = heatmap_paths(path, n);
  require_writable_destination(path);  // fail before any work when the folder is wrong

  // Draw everything first, so a bad value in the last sample leaves no partial set of files.
  std::vector<std::vector<std::uint8_t>> images;
  const std::int64_t sample = shape.c * shape.h * shape.w;
  for (std::int64_t i = 0; i < n; ++i) {
    Planes p = shape;
    p.data = batch.data() + i * sample;
    try {
      images.push_back(upscale_nearest(pixels_of(p, kind, bgr_to_rgb), p.h, p.w, factor));
    } catch (const Error& e) {
      throw Error("write_heatmaps '{}': sample {} of {}: {}", path, i, n, e.what());
    }
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    io::write_png(paths[i], images[i], shape.h * factor, shape.w * factor);
  }
  return paths;
}

}  // namespace pn::viz
