#include "pn/io/image.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"

// Declarations only: Debian's libstb already contains the stb_image and stb_image_write
// implementations, so no *_IMPLEMENTATION macro is defined here.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace pn::io {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct StbiFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// The dimensions of an image about to be decoded (from its header) or just decoded.
void check_image_size(const std::string& path, int w, int h) {
  if (w < 1 || h < 1) throw Error("cannot decode image file '{}': it claims a size of {}x{} pixels", path, w, h);
  if (w > kMaxImageSide || h > kMaxImageSide ||
      static_cast<std::int64_t>(w) * static_cast<std::int64_t>(h) > kMaxImagePixels) {
    throw Error("image file '{}' is {}x{} pixels, more than patternnet reads (at most {} per side and {} pixels in all)",
                path, w, h, kMaxImageSide, kMaxImagePixels);
  }
}

// stb_image 2.27 (Debian 12's libstb) trusts the symbol counts of a JPEG Huffman table (DHT
// segment): counts adding up to more than 256 make it write past its tables, corrupting memory
// (found by fuzz/fuzz_image). Such a table is invalid JPEG, so the segments are walked here, the way
// stb reads them, and the file is refused before stb sees it. Leaves f at its start.
void check_jpeg_huffman_tables(std::FILE* f, const std::string& path) {
  const auto get = [f] { return std::getc(f); };  // EOF past the end, where stb reads zeros
  // The start-of-image marker as stb finds it: 0xFF, any number of 0xFF fill bytes, then 0xD8.
  int soi = get() == 0xFF ? get() : EOF;
  while (soi == 0xFF) soi = get();
  if (soi != 0xD8) {
    std::rewind(f);
    return;
  }
  int c = get();
  while (c != EOF) {
    if (c != 0xFF) {  // entropy-coded data between markers
      c = get();
      continue;
    }
    int m = get();
    while (m == 0xFF) m = get();  // fill bytes
    if (m == EOF || m == 0xD9) break;  // end of image
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // stuffed zero, TEM, RSTn, SOI: no length
      c = get();
      continue;
    }
    const int hi = get(), lo = get();
    if (lo == EOF) break;
    long remaining = ((hi << 8) | lo) - 2;
    if (m == 0xC4) {
      // As stb does: tables follow one another while the segment has bytes left.
      while (remaining > 0) {
        (void)get();  // table class and index
        int symbols = 0;
        for (int k = 0; k < 16; ++k) symbols += std::max(get(), 0);
        if (symbols > 256) {
          throw Error("cannot decode image file '{}': a JPEG Huffman table declares {} codes, more than 256", path, symbols);
        }
        for (int k = 0; k < symbols; ++k) (void)get();
        remaining -= 17 + symbols;
      }
    } else if (remaining > 0 && std::fseek(f, remaining, SEEK_CUR) != 0) {
      break;
    }
    c = get();
  }
  std::rewind(f);
}

// Two faults of stb_image 2.27 in binary PNM (P5/P6) files, both found by fuzz/fuzz_image:
// - it reads the width, height and maximum value into an int digit by digit without a bound, so
//   ten or more digits overflow a signed int (undefined behaviour); no image this reader accepts
//   needs more than five digits (16384 pixels per side);
// - a maximum value above 255 (16 bits per sample) makes its channel conversion fill an 8-bit
//   buffer that is then read as 16-bit samples, a heap overflow of the decoder.
// Both are refused before stb sees the file. The header is skipped the way stb skips it:
// whitespace, and '#' comments up to the end of the line. Leaves f at its start.
void check_pnm_header(std::FILE* f, const std::string& path) {
  const auto get = [f] { return std::getc(f); };
  const int magic = get() == 'P' ? get() : EOF;
  if (magic != '5' && magic != '6') {
    std::rewind(f);
    return;
  }
  const auto is_space = [](int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  int c = get();
  for (const char* field : {"width", "height", "maximum value"}) {
    for (;;) {
      while (c != EOF && is_space(c)) c = get();
      if (c != '#') break;
      while (c != EOF && c != '\n' && c != '\r') c = get();
    }
    int digits = 0;
    long value = 0;
    while (c >= '0' && c <= '9') {
      if (++digits >= 10) throw Error("cannot decode image file '{}': the PNM header's {} has ten or more digits", path, field);
      value = value * 10 + (c - '0');
      c = get();
    }
    if (std::string_view(field) == "maximum value" && value > 255) {
      throw Error("cannot decode image file '{}': 16-bit PNM (maximum value {}) is not supported; convert it to 8 bits", path, value);
    }
  }
  std::rewind(f);
}

// stb_image 2.27 appends each IDAT chunk of a PNG to its buffer with memcpy(buffer, data, length),
// and before the first non-empty chunk the buffer is still null: a zero-length first IDAT makes
// that memcpy(NULL, data, 0), undefined behaviour (found by fuzz/fuzz_image). Zero-length IDAT
// chunks are legal and carry no data, so they are dropped before stb sees the file. Returns the
// file's bytes without them, or an empty string (and f rewound) when there is nothing to drop.
std::string png_without_empty_idat(std::FILE* f) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char head[8] = {};
  if (std::fread(head, 1, 8, f) != 8 || std::memcmp(head, kSignature, 8) != 0) {
    std::rewind(f);
    return {};
  }
  std::string bytes(reinterpret_cast<const char*>(head), 8);
  char chunk[65536];
  for (std::size_t got = 0; (got = std::fread(chunk, 1, sizeof chunk, f)) > 0;) bytes.append(chunk, got);
  std::rewind(f);
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  std::string kept = bytes.substr(0, 8);
  bool dropped = false;
  std::size_t pos = 8;
  // Each chunk: length (4 bytes, big-endian), type (4), data (length), CRC (4).
  while (pos + 12 <= bytes.size()) {
    const std::uint64_t length = (byte(pos) << 24) | (byte(pos + 1) << 16) | (byte(pos + 2) << 8) | byte(pos + 3);
    const std::uint64_t end = pos + 12 + length;
    if (end > bytes.size()) break;  // truncated: stb reports it
    if (length == 0 && bytes.compare(pos + 4, 4, "IDAT") == 0) {
      dropped = true;
    } else {
      kept.append(bytes, pos, static_cast<std::size_t>(end - pos));
    }
    pos = static_cast<std::size_t>(end);
  }
  if (!dropped) return {};
  kept.append(bytes, pos, std::string::npos);
  return kept;
}

const char* stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "no reason given";
}

void require_chw(const Tensor& t, const char* op) {
  if (t.rank() != 3 || t.dim(1) < 1 || t.dim(2) < 1) {
    throw Error("{}: expected an image tensor (C, H, W) with H, W >= 1, got {}", op, t.shape());
  }
}

// One axis of bilinear resampling: output index o reads input indices lo and hi with weight
// frac on hi. Shared by rows and columns, computed once per axis rather than per pixel.
struct Taps {
  std::vector<std::int64_t> lo, hi;
  std::vector<double> frac;
};

Taps bilinear_taps(std::int64_t in, std::int64_t out) {
  Taps t;
  t.lo.resize(static_cast<std::size_t>(out));
  t.hi.resize(static_cast<std::size_t>(out));
  t.frac.resize(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    // Half-pixel centres: pixel o covers [o, o + 1) of the output, so its centre o + 0.5 maps to
    // (o + 0.5) * scale in input units, and the input pixel centred there has index that - 0.5.
    // Near the border the position is clamped, so edge pixels are repeated rather than blended
    // with a zero outside the image.
    const double src = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
    const auto lo = std::min(static_cast<std::int64_t>(src), in - 1);
    const auto i = static_cast<std::size_t>(o);
    t.lo[i] = lo;
    t.hi[i] = std::min(lo + 1, in - 1);
    t.frac[i] = src - static_cast<double>(lo);
  }
  return t;
}

// stb_image_write hands the encoded file over in pieces; collect them in memory so that the
// file itself is written in one atomic step. The callback is called from C code, so it must not
// throw: a failed allocation is remembered and reported afterwards.
struct PngSink {
  std::string bytes;
  bool failed = false;
};

void append_to_sink(void* context, void* data, int size) {
  auto* sink = static_cast<PngSink*>(context);
  try {
    sink->bytes.append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  } catch (...) {
    sink->failed = true;
  }
}

void write_png_channels(const std::string& path, const std::vector<std::uint8_t>& pixels, std::int64_t h,
                        std::int64_t w, int channels) {
  // stb takes int sizes, and the row stride w * channels must fit too.
  if (h < 1 || w < 1 || h > INT_MAX / 4 || w > INT_MAX / 4) {
    throw Error("write_png '{}': image size {}x{} is not a positive size a PNG can hold", path, h, w);
  }
  const std::int64_t expected = checked_mul(checked_mul(h, w, "PNG size"), channels, "PNG size");
  if (static_cast<std::int64_t>(pixels.size()) != expected) {
    throw Error("write_png '{}': a {}x{} image with {} channel(s) needs {} bytes, got {}", path, h, w, channels,
                expected, pixels.size());
  }
  require_writable_destination(path);  // before encoding: a bad path fails with a clear message
  PngSink sink;
  const int ok = stbi_write_png_to_func(append_to_sink, &sink, static_cast<int>(w), static_cast<int>(h), channels,
                                        pixels.data(), static_cast<int>(w) * channels);
  if (!ok || sink.failed) throw Error("write_png '{}': encoding the {}x{} image failed", path, h, w);
  write_file_atomic(path, sink.bytes);
}

// PNG and JPEG decoding fails on missing data, but stb reads zeros past the end of the other
// formats: 147 bytes of TGA header claiming 3855 x 3855 pixels decoded into 15 million black
// pixels (fuzz_image). Their encodings bound how many pixels a byte can hold: run lengths (TGA,
// BMP, PSD, HDR, PIC) stop at 128-255 pixels per packet of at least two bytes, under 128 pixels
// per byte; GIF's LZW can reach about 2700 (a 12-bit code for a run of up to 4096). A file below
// 256 (GIF: 4096) pixels per byte of the claim is cut short.
void check_bytes_for_pixels(std::FILE* f, const std::string& path, int w, int h) {
  unsigned char head[4] = {};
  const std::size_t got = std::fread(head, 1, 4, f);
  std::rewind(f);
  const bool png = got >= 3 && head[0] == 0x89 && head[1] == 'P' && head[2] == 'N';
  const bool jpeg = got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF;
  if (png || jpeg) return;
  const bool gif = got >= 4 && head[0] == 'G' && head[1] == 'I' && head[2] == 'F' && head[3] == '8';
  const std::int64_t max_per_byte = gif ? 4096 : 256;
  std::error_code ec;
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
  if (ec) return;  // not a regular file: nothing to compare with
  const std::int64_t pixels = static_cast<std::int64_t>(w) * static_cast<std::int64_t>(h);
  if (pixels > bytes * max_per_byte) {
    throw Error("image file '{}' claims {}x{} pixels in {} bytes: it is truncated (its format packs at most {} pixels into a "
                "byte)",
                path, w, h, bytes, max_per_byte);
  }
}

}  // namespace

Tensor read_image(const std::string& path) {
  // Opening the file ourselves gives the operating system's reason (no such file, permission
  // denied) instead of stb's generic "can't fopen".
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw Error("cannot open image file '{}': {}", path, std::strerror(errno));
  // fopen succeeds on a folder on Linux; stb would then call it an "unknown image type".
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error("cannot read image file '{}': it is a folder", path);
  check_jpeg_huffman_tables(file.get(), path);
  check_pnm_header(file.get(), path);
  const std::string cleaned = png_without_empty_idat(file.get());
  const auto* mem = reinterpret_cast<const stbi_uc*>(cleaned.data());
  const int mem_size = static_cast<int>(std::min<std::size_t>(cleaned.size(), INT_MAX));
  int w = 0, h = 0, channels_in_file = 0;
  // The header first (stbi_info reads it and rewinds the file): a few bytes claiming a huge image
  // would otherwise make the decoder allocate, and fill, the whole of it.
  const int info = cleaned.empty() ? stbi_info_from_file(file.get(), &w, &h, &channels_in_file)
                                   : stbi_info_from_memory(mem, mem_size, &w, &h, &channels_in_file);
  if (!info) throw Error("cannot decode image file '{}' (expected PNG, JPEG or BMP): {}", path, stb_reason());
  check_image_size(path, w, h);
  check_bytes_for_pixels(file.get(), path, w, h);
  // Asking for 3 components makes stb convert gray, gray+alpha and RGBA to RGB.
  const std::unique_ptr<unsigned char, StbiFree> pixels(cleaned.empty()
                                                            ? stbi_load_from_file(file.get(), &w, &h, &channels_in_file, 3)
                                                            : stbi_load_from_memory(mem, mem_size, &w, &h, &channels_in_file, 3));
  if (!pixels) {
    throw Error("cannot decode image file '{}' (expected PNG, JPEG or BMP): {}", path, stb_reason());
  }
  check_image_size(path, w, h);  // the decoder reads the header again; it must agree
  const std::int64_t height = h, width = w, plane = height * width;
  Tensor out(Shape{3, height, width});
  const unsigned char* p = pixels.get();
  // Interleaved RGBRGB... -> planar R plane, G plane, B plane.
  for (std::int64_t i = 0; i < plane; ++i) {
    for (std::int64_t c = 0; c < 3; ++c) out[c * plane + i] = static_cast<float>(p[3 * i + c]);
  }
  return out;
}

Tensor resize_bilinear(const Tensor& chw, std::int64_t h, std::int64_t w) {
  require_chw(chw, "resize_bilinear");
  if (h < 1 || w < 1) throw Error("resize_bilinear: target size must be positive, got {}x{}", h, w);
  const std::int64_t channels = chw.dim(0), in_h = chw.dim(1), in_w = chw.dim(2);
  const Taps rows = bilinear_taps(in_h, h);
  const Taps cols = bilinear_taps(in_w, w);
  Tensor out(Shape{channels, h, w});
  for (std::int64_t c = 0; c < channels; ++c) {
    const float* src = chw.data() + c * in_h * in_w;
    float* dst = out.data() + c * h * w;
    for (std::int64_t y = 0; y < h; ++y) {
      const auto yi = static_cast<std::size_t>(y);
      const float* top = src + rows.lo[yi] * in_w;
      const float* bottom = src + rows.hi[yi] * in_w;
      const double fy = rows.frac[yi];
      for (std::int64_t x = 0; x < w; ++x) {
        const auto xi = static_cast<std::size_t>(x);
        const std::int64_t x0 = cols.lo[xi], x1 = cols.hi[xi];
        const double fx = cols.frac[xi];
        // Weights (1 - f, f) rather than a + f (b - a): a weight of exactly 0 or 1 returns the
        // input value bit for bit, so a resize to the same size is the identity.
        const double t = (1.0 - fx) * top[x0] + fx * top[x1];
        const double b = (1.0 - fx) * bottom[x0] + fx * bottom[x1];
        dst[y * w + x] = static_cast<float>((1.0 - fy) * t + fy * b);
      }
    }
  }
  return out;
}

Tensor center_crop(const Tensor& chw, std::int64_t h, std::int64_t w) {
  require_chw(chw, "center_crop");
  const std::int64_t channels = chw.dim(0), in_h = chw.dim(1), in_w = chw.dim(2);
  if (h < 1 || w < 1 || h > in_h || w > in_w) {
    throw Error("center_crop: cannot cut a {}x{} window from a {}x{} image", h, w, in_h, in_w);
  }
  const std::int64_t top = (in_h - h) / 2, left = (in_w - w) / 2;
  Tensor out(Shape{channels, h, w});
  for (std::int64_t c = 0; c < channels; ++c) {
    for (std::int64_t y = 0; y < h; ++y) {
      const float* src = chw.data() + (c * in_h + top + y) * in_w + left;
      std::copy(src, src + w, out.data() + (c * h + y) * w);
    }
  }
  return out;
}

Tensor resize_shorter_side_and_crop(const Tensor& chw, std::int64_t shorter, std::int64_t crop) {
  require_chw(chw, "resize_shorter_side_and_crop");
  if (shorter < 1 || crop < 1 || crop > shorter) {
    throw Error("resize_shorter_side_and_crop: need 1 <= crop <= shorter side, got crop {} and shorter side {}", crop,
                shorter);
  }
  const std::int64_t in_h = chw.dim(1), in_w = chw.dim(2);
  const double factor = static_cast<double>(shorter) / static_cast<double>(std::min(in_h, in_w));
  // The shorter side gets exactly `shorter`; the longer one is scaled by the same factor.
  const auto scaled = [&](std::int64_t side) {
    return std::max(shorter, static_cast<std::int64_t>(std::llround(static_cast<double>(side) * factor)));
  };
  const std::int64_t h = in_h <= in_w ? shorter : scaled(in_h);
  const std::int64_t w = in_h <= in_w ? scaled(in_w) : shorter;
  return center_crop(resize_bilinear(chw, h, w), crop, crop);
}

void write_png(const std::string& path, const std::vector<std::uint8_t>& rgb, std::int64_t h, std::int64_t w) {
  write_png_channels(path, rgb, h, w, 3);
}

void write_png_gray(const std::string& path, const std::vector<std::uint8_t>& gray, std::int64_t h, std::int64_t w) {
  write_png_channels(path, gray, h, w, 1);
}

}  // namespace pn::io
