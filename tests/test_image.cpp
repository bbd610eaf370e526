// Chapter 4 (paper §7.2 and §7.4): image files and explanation heatmaps. PNG round trips and the
// conversions of gray, gray+alpha, RGBA, BMP and JPEG inputs; bilinear resizing against values
// worked out by hand; centre crops; the 'seismic' table against a float64 evaluation of its
// definition; the exact bytes of signal and attribution images; and the refusals (missing,
// corrupt and unwritable files) with messages that name the file.
#include "pn/core/error.h"
#include "pn/io/image.h"
#include "pn/nn/preprocess.h"
#include "pn/viz/colormap.h"
#include "pn/viz/heatmap.h"
#include "test_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace {

using pn::Shape;
using pn::Tensor;
using pn::viz::Rgb8;
using pntest::message_of;
using pntest::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

using Bytes = std::vector<std::uint8_t>;

// A w x h interleaved RGB gradient in which every channel varies differently.
Bytes gradient_rgb(int h, int w) {
  Bytes rgb;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      rgb.push_back(static_cast<std::uint8_t>(x * 255 / (w - 1)));
      rgb.push_back(static_cast<std::uint8_t>(y * 255 / (h - 1)));
      rgb.push_back(static_cast<std::uint8_t>((3 * x + 7 * y) % 256));
    }
  }
  return rgb;
}

Tensor tensor_of(Shape shape, const std::vector<float>& values) { return Tensor::from(shape, values); }

Rgb8 pixel(const Bytes& rgb, std::size_t i) { return Rgb8{rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]}; }

// ---- files ----------------------------------------------------------------------------------

TEST(ImageFiles, PngRoundTripIsExact) {
  TempDir dir;
  const int h = 5, w = 7;
  const Bytes rgb = gradient_rgb(h, w);
  const std::string path = dir.file("gradient.png");
  pn::io::write_png(path, rgb, h, w);
  EXPECT_EQ(dir.count(), 1u);  // no temporary file left behind

  const Tensor img = pn::io::read_image(path);
  ASSERT_EQ(img.shape(), (Shape{3, h, w}));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(img.at({c, y, x}), static_cast<float>(rgb[static_cast<std::size_t>((y * w + x) * 3 + c)]))
            << "c=" << c << " y=" << y << " x=" << x;
      }
    }
  }
}

TEST(ImageFiles, GrayPngRoundTrip) {
  TempDir dir;
  const int h = 3, w = 5;
  Bytes gray;
  for (int i = 0; i < h * w; ++i) gray.push_back(static_cast<std::uint8_t>(i * 17));
  const std::string path = dir.file("gray.png");
  pn::io::write_png_gray(path, gray, h, w);
  const Tensor img = pn::io::read_image(path);
  ASSERT_EQ(img.shape(), (Shape{3, h, w}));
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < h * w; ++i) EXPECT_EQ(img[c * h * w + i], static_cast<float>(i * 17));
  }
}

// Inputs with 1, 2 (gray + alpha) and 4 (RGBA) channels, written by stb directly.
TEST(ImageFiles, GrayAndAlphaInputsBecomeRgb) {
  TempDir dir;
  const int h = 3, w = 5, n = h * w;
  Bytes gray, gray_alpha, rgba;
  for (int i = 0; i < n; ++i) {
    const auto v = static_cast<std::uint8_t>(10 + 16 * i);
    gray.push_back(v);
    gray_alpha.insert(gray_alpha.end(), {v, static_cast<std::uint8_t>(255 - i)});
    rgba.insert(rgba.end(), {v, static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(200 - i),
                             static_cast<std::uint8_t>(i * 3)});
  }
  ASSERT_NE(stbi_write_png(dir.file("g.png").c_str(), w, h, 1, gray.data(), w), 0);
  ASSERT_NE(stbi_write_png(dir.file("ga.png").c_str(), w, h, 2, gray_alpha.data(), 2 * w), 0);
  ASSERT_NE(stbi_write_png(dir.file("rgba.png").c_str(), w, h, 4, rgba.data(), 4 * w), 0);

  for (const char* name : {"g.png", "ga.png"}) {
    const Tensor img = pn::io::read_image(dir.file(name));
    ASSERT_EQ(img.shape(), (Shape{3, h, w})) << name;
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < n; ++i) EXPECT_EQ(img[c * n + i], static_cast<float>(gray[static_cast<std::size_t>(i)])) << name;
    }
  }
  // The alpha channel is dropped, not composited onto a background.
  const Tensor img = pn::io::read_image(dir.file("rgba.png"));
  ASSERT_EQ(img.shape(), (Shape{3, h, w}));
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < n; ++i) EXPECT_EQ(img[c * n + i], static_cast<float>(rgba[static_cast<std::size_t>(4 * i + c)]));
  }
}

TEST(ImageFiles, ReadsBmpExactlyAndJpegApproximately) {
  TempDir dir;
  const int h = 5, w = 7;
  const Bytes rgb = gradient_rgb(h, w);
  ASSERT_NE(stbi_write_bmp(dir.file("g.bmp").c_str(), w, h, 3, rgb.data()), 0);
  const Tensor bmp = pn::io::read_image(dir.file("g.bmp"));
  ASSERT_EQ(bmp.shape(), (Shape{3, h, w}));
  for (int i = 0; i < h * w; ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(bmp[c * h * w + i], static_cast<float>(rgb[static_cast<std::size_t>(3 * i + c)]));
  }

  // JPEG is lossy: a flat colour comes back within a few levels.
  const int jh = 16, jw = 24;
  Bytes flat;
  for (int i = 0; i < jh * jw; ++i) flat.insert(flat.end(), {200, 100, 50});
  ASSERT_NE(stbi_write_jpg(dir.file("flat.jpg").c_str(), jw, jh, 3, flat.data(), 95), 0);
  const Tensor jpg = pn::io::read_image(dir.file("flat.jpg"));
  ASSERT_EQ(jpg.shape(), (Shape{3, jh, jw}));
  const float expected[3] = {200.0f, 100.0f, 50.0f};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < jh * jw; ++i) EXPECT_NEAR(jpg[c * jh * jw + i], expected[c], 4.0f);
  }
}

TEST(ImageFiles, MissingFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.file("no-such-image.png");
  const std::string msg = message_of([&] { pn::io::read_image(path); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("No such file"));
  EXPECT_THAT(message_of([&] { pn::io::read_image(dir.file("")); }), HasSubstr("it is a folder"));
}

TEST(ImageFiles, CorruptFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.file("noise.png");
  {
    std::ofstream out(path, std::ios::binary);
    std::uint64_t state = 12345;
    for (int i = 0; i < 4096; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      out.put(static_cast<char>(state >> 56));
    }
  }
  const std::string msg = message_of([&] { pn::io::read_image(path); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("cannot decode"));

  // A real PNG cut in half is refused too.
  const std::string good = dir.file("good.png"), cut = dir.file("cut.png");
  pn::io::write_png(good, gradient_rgb(5, 7), 5, 7);
  const auto size = fs::file_size(good);
  fs::copy_file(good, cut);
  fs::resize_file(cut, size / 2);
  EXPECT_THAT(message_of([&] { pn::io::read_image(cut); }), HasSubstr(cut));
}

TEST(ImageFiles, UnwritableDestinationFailsCleanly) {
  TempDir dir;
  const std::string path = dir.file("missing-folder/heat.png");
  const std::string msg = message_of([&] { pn::io::write_png(path, gradient_rgb(5, 7), 5, 7); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("does not exist"));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(dir.count(), 0u);
}

TEST(ImageFiles, WrongByteCountIsRefused) {
  TempDir dir;
  const std::string path = dir.file("x.png");
  EXPECT_THAT(message_of([&] { pn::io::write_png(path, Bytes(10), 2, 2); }), HasSubstr("needs 12 bytes, got 10"));
  EXPECT_THAT(message_of([&] { pn::io::write_png(path, Bytes{}, 0, 2); }), HasSubstr("0x2"));
  EXPECT_EQ(dir.count(), 0u);
}

// ---- geometry ---------------------------------------------------------------------------------

// 2x2 -> 4x4: output pixel i samples input position (i + 0.5) / 2 - 0.5, i.e. -0.25 (clamped to
// 0), 0.25, 0.75 and 1.25 (clamped to 1).
TEST(ImageResize, BilinearMatchesHandComputedValues) {
  const Tensor x = tensor_of(Shape{1, 2, 2}, {0.0f, 10.0f, 20.0f, 30.0f});
  const Tensor y = pn::io::resize_bilinear(x, 4, 4);
  ASSERT_EQ(y.shape(), (Shape{1, 4, 4}));
  EXPECT_FLOAT_EQ(y.at({0, 0, 0}), 0.0f);
  EXPECT_FLOAT_EQ(y.at({0, 0, 1}), 2.5f);   // 0.75 * 0 + 0.25 * 10
  EXPECT_FLOAT_EQ(y.at({0, 0, 2}), 7.5f);   // 0.25 * 0 + 0.75 * 10
  EXPECT_FLOAT_EQ(y.at({0, 0, 3}), 10.0f);
  EXPECT_FLOAT_EQ(y.at({0, 1, 1}), 7.5f);   // 0.75 (0.75*0 + 0.25*10) + 0.25 (0.75*20 + 0.25*30)
  EXPECT_FLOAT_EQ(y.at({0, 2, 1}), 17.5f);  // 0.25 * 2.5 + 0.75 * 22.5
  EXPECT_FLOAT_EQ(y.at({0, 3, 3}), 30.0f);

  // Shrinking 1x4 -> 1x2: centres at input x = 0.5 and 2.5, halfway between neighbours.
  const Tensor row = tensor_of(Shape{1, 1, 4}, {0.0f, 10.0f, 20.0f, 40.0f});
  const Tensor half = pn::io::resize_bilinear(row, 1, 2);
  EXPECT_FLOAT_EQ(half[0], 5.0f);
  EXPECT_FLOAT_EQ(half[1], 30.0f);

  // Non-integer ratio 3 -> 2: centres at 0.25 and 1.75.
  const Tensor three = tensor_of(Shape{1, 3, 1}, {0.0f, 100.0f, 300.0f});
  const Tensor two = pn::io::resize_bilinear(three, 2, 1);
  EXPECT_FLOAT_EQ(two[0], 25.0f);
  EXPECT_FLOAT_EQ(two[1], 250.0f);
}

TEST(ImageResize, SameSizeIsTheIdentity) {
  Tensor x(Shape{3, 5, 7});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = std::sin(static_cast<float>(i)) * 100.0f;
  const Tensor y = pn::io::resize_bilinear(x, 5, 7);
  ASSERT_EQ(y.shape(), x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y[i], x[i]) << i;
}

TEST(ImageResize, ConstantStaysConstantAndChannelsStaySeparate) {
  Tensor x(Shape{2, 3, 4});
  for (std::int64_t i = 0; i < 12; ++i) {
    x[i] = 42.0f;
    x[12 + i] = -7.0f;
  }
  const Tensor y = pn::io::resize_bilinear(x, 11, 5);
  for (std::int64_t i = 0; i < 55; ++i) {
    EXPECT_FLOAT_EQ(y[i], 42.0f);
    EXPECT_FLOAT_EQ(y[55 + i], -7.0f);
  }
}

TEST(ImageResize, RefusesBadArguments) {
  const Tensor x = Tensor::zeros(Shape{3, 4, 4});
  EXPECT_THAT(message_of([&] { pn::io::resize_bilinear(x, 0, 4); }), HasSubstr("positive"));
  const Tensor flat = Tensor::zeros(Shape{4, 4});
  EXPECT_THAT(message_of([&] { pn::io::resize_bilinear(flat, 2, 2); }), HasSubstr("(C, H, W)"));
}

TEST(ImageCrop, TakesTheCentralWindow) {
  // value = 100 c + 10 y + x identifies its source position.
  Tensor x(Shape{2, 5, 6});
  for (int c = 0; c < 2; ++c) {
    for (int y = 0; y < 5; ++y) {
      for (int xx = 0; xx < 6; ++xx) x.at({c, y, xx}) = static_cast<float>(100 * c + 10 * y + xx);
    }
  }
  // (5 - 2) / 2 = 1 row cut from the top (two from the bottom), (6 - 3) / 2 = 1 column from the left.
  const Tensor y = pn::io::center_crop(x, 2, 3);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3}));
  for (int c = 0; c < 2; ++c) {
    for (int r = 0; r < 2; ++r) {
      for (int q = 0; q < 3; ++q) EXPECT_EQ(y.at({c, r, q}), static_cast<float>(100 * c + 10 * (r + 1) + (q + 1)));
    }
  }
  const Tensor same = pn::io::center_crop(x, 5, 6);
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(same[i], x[i]);
  EXPECT_THAT(message_of([&] { pn::io::center_crop(x, 6, 6); }), HasSubstr("cannot cut a 6x6 window from a 5x6 image"));
}

TEST(ImageCrop, ResizeShorterSideThenCrop) {
  Tensor landscape(Shape{3, 10, 20});
  for (std::int64_t i = 0; i < landscape.numel(); ++i) landscape[i] = static_cast<float>(i % 97);
  const Tensor a = pn::io::resize_shorter_side_and_crop(landscape, 5, 4);
  const Tensor b = pn::io::center_crop(pn::io::resize_bilinear(landscape, 5, 10), 4, 4);
  ASSERT_EQ(a.shape(), (Shape{3, 4, 4}));
  for (std::int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a[i], b[i]);

  // Portrait, non-integer ratio: 7 x 3 with shorter side 2 -> round(7 * 2 / 3) = 5 rows.
  Tensor portrait(Shape{1, 7, 3});
  for (std::int64_t i = 0; i < portrait.numel(); ++i) portrait[i] = static_cast<float>(i);
  const Tensor c = pn::io::resize_shorter_side_and_crop(portrait, 2, 2);
  const Tensor d = pn::io::center_crop(pn::io::resize_bilinear(portrait, 5, 2), 2, 2);
  ASSERT_EQ(c.shape(), (Shape{1, 2, 2}));
  for (std::int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(c[i], d[i]);

  EXPECT_THAT(message_of([&] { pn::io::resize_shorter_side_and_crop(landscape, 4, 5); }), HasSubstr("crop 5"));
}

// ---- colour maps ------------------------------------------------------------------------------

// matplotlib's definition evaluated in float64 at i / 255, floored after * 255 (with a tiny
// allowance so that values like 253 / 255 * 255 that should be integers stay so).
Rgb8 seismic_reference(int i) {
  const double nodes[5][3] = {{0, 0, 0.3}, {0, 0, 1}, {1, 1, 1}, {1, 0, 0}, {0.5, 0, 0}};
  const double t = i / 255.0 * 4.0;
  const int k = std::min(3, static_cast<int>(t));
  const double f = t - k;
  std::uint8_t out[3];
  for (int c = 0; c < 3; ++c) {
    const double v = nodes[k][c] + f * (nodes[k + 1][c] - nodes[k][c]);
    out[c] = static_cast<std::uint8_t>(std::floor(v * 255.0 + 1e-9));
  }
  return {out[0], out[1], out[2]};
}

TEST(ImageColormap, SeismicEndpointsAndMiddle) {
  const auto& t = pn::viz::seismic_table();
  EXPECT_EQ(t[0], (Rgb8{0, 0, 76}));      // (0, 0, 0.3): dark blue
  EXPECT_EQ(t[64], (Rgb8{1, 1, 255}));    // just past (0, 0, 1)
  EXPECT_EQ(t[127], (Rgb8{253, 253, 255}));
  EXPECT_EQ(t[128], (Rgb8{255, 253, 253}));
  EXPECT_EQ(t[191], (Rgb8{255, 1, 1}));   // just before (1, 0, 0)
  EXPECT_EQ(t[255], (Rgb8{127, 0, 0}));   // (0.5, 0, 0): dark red
  for (int i = 0; i < 256; ++i) EXPECT_EQ(t[static_cast<std::size_t>(i)], seismic_reference(i)) << "entry " << i;
}

TEST(ImageColormap, IndicesAndGray) {
  EXPECT_EQ(pn::viz::diverging_index(-1.0), 0);
  EXPECT_EQ(pn::viz::diverging_index(0.0), 127);  // int(127.5)
  EXPECT_EQ(pn::viz::diverging_index(1.0), 255);
  EXPECT_EQ(pn::viz::diverging_index(0.5), 191);  // int(191.25)
  EXPECT_EQ(pn::viz::diverging_index(-7.0), 0);
  EXPECT_EQ(pn::viz::diverging_index(7.0), 255);
  EXPECT_EQ(pn::viz::diverging_index(std::numeric_limits<double>::quiet_NaN()), 127);
  EXPECT_EQ(pn::viz::seismic(1.0), pn::viz::seismic_table()[255]);
  EXPECT_EQ(pn::viz::sequential_index(0.0), 0);
  EXPECT_EQ(pn::viz::sequential_index(0.5), 127);
  EXPECT_EQ(pn::viz::sequential_index(1.0), 255);
  EXPECT_EQ(pn::viz::sequential_index(2.0), 255);
  for (int i = 0; i < 256; ++i) {
    const auto v = static_cast<std::uint8_t>(i);
    EXPECT_EQ(pn::viz::gray_table()[static_cast<std::size_t>(i)], (Rgb8{v, v, v}));
  }
  EXPECT_EQ(pn::viz::gray(1.0), (Rgb8{255, 255, 255}));
}

// ---- heatmaps ---------------------------------------------------------------------------------

// Two pixels, three channels, max|x| = 4: byte = int(255 (x / 8 + 1/2)).
TEST(ImageHeatmap, SignalImageFollowsTheFormula) {
  const Tensor x = tensor_of(Shape{3, 1, 2}, {4.0f, -2.0f,    // channel 0
                                              0.0f, 1.0f,     // channel 1
                                              -4.0f, 3.0f});  // channel 2
  const Bytes rgb = pn::viz::signal_image(x, false);
  ASSERT_EQ(rgb.size(), 6u);
  EXPECT_EQ(pixel(rgb, 0), (Rgb8{255, 127, 0}));   // 1, 1/2, 0
  EXPECT_EQ(pixel(rgb, 1), (Rgb8{63, 159, 223}));  // 0.25 -> 63.75, 0.625 -> 159.375, 0.875 -> 223.125
  // BGR input: output red comes from channel 2.
  const Bytes flipped = pn::viz::signal_image(x, true);
  EXPECT_EQ(pixel(flipped, 0), (Rgb8{0, 127, 255}));
  EXPECT_EQ(pixel(flipped, 1), (Rgb8{223, 159, 63}));
}

TEST(ImageHeatmap, SignalImageOfOneChannelIsGray) {
  const Tensor x = tensor_of(Shape{1, 1, 3}, {2.0f, -1.0f, 0.0f});
  for (const bool bgr : {false, true}) {
    const Bytes rgb = pn::viz::signal_image(x, bgr);
    EXPECT_EQ(pixel(rgb, 0), (Rgb8{255, 255, 255}));
    EXPECT_EQ(pixel(rgb, 1), (Rgb8{63, 63, 63}));
    EXPECT_EQ(pixel(rgb, 2), (Rgb8{127, 127, 127}));
  }
}

TEST(ImageHeatmap, AllZeroInputs) {
  const Tensor zero = Tensor::zeros(Shape{3, 4, 5});
  const Bytes signal = pn::viz::signal_image(zero, true);
  ASSERT_EQ(signal.size(), 60u);
  for (const std::uint8_t b : signal) EXPECT_EQ(b, 127);
  const Bytes attribution = pn::viz::attribution_image(zero);
  ASSERT_EQ(attribution.size(), 60u);
  for (const std::uint8_t b : attribution) EXPECT_EQ(b, 255);
}

TEST(ImageHeatmap, AttributionImageUsesSeismic) {
  const auto& t = pn::viz::seismic_table();
  // Channel sums 6, -3, 0, 1.5; max |sum| = 6.
  const Tensor x = tensor_of(Shape{2, 2, 2}, {5.0f, -1.0f, 2.0f, 1.0f,     // channel 0
                                              1.0f, -2.0f, -2.0f, 0.5f});  // channel 1
  const Bytes rgb = pn::viz::attribution_image(x);
  ASSERT_EQ(rgb.size(), 12u);
  EXPECT_EQ(pixel(rgb, 0), t[255]);  // the most positive pixel
  EXPECT_EQ(pixel(rgb, 1), t[63]);   // -0.5 -> int(63.75)
  EXPECT_EQ(pixel(rgb, 2), t[127]);  // zero
  EXPECT_EQ(pixel(rgb, 3), t[159]);  // 0.25 -> int(159.375)

  // Here the negative side dominates: the most negative pixel is entry 0.
  const Tensor y = tensor_of(Shape{1, 1, 3}, {-8.0f, 2.0f, 0.0f});
  const Bytes neg = pn::viz::attribution_image(y);
  EXPECT_EQ(pixel(neg, 0), t[0]);
  EXPECT_EQ(pixel(neg, 1), t[159]);
  EXPECT_EQ(pixel(neg, 2), t[127]);
}

TEST(ImageHeatmap, NonFiniteValuesAndWrongShapesAreRefused) {
  Tensor x = Tensor::zeros(Shape{3, 2, 2});
  x[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(message_of([&] { pn::viz::signal_image(x, false); }), HasSubstr("non-finite value (nan) at element 5"));
  x[5] = std::numeric_limits<float>::infinity();
  EXPECT_THAT(message_of([&] { pn::viz::attribution_image(x); }), HasSubstr("non-finite"));
  const Tensor two = Tensor::zeros(Shape{2, 2, 2});
  EXPECT_THAT(message_of([&] { pn::viz::signal_image(two, false); }), HasSubstr("3 or 1 channels, got 2"));
  const Tensor batch = Tensor::zeros(Shape{1, 3, 2, 2});
  EXPECT_THAT(message_of([&] { pn::viz::attribution_image(batch); }), HasSubstr("(C, H, W)"));
}

TEST(ImageHeatmap, UpscaleNearestAndAutoScale) {
  const Bytes rgb = {1, 2, 3, 4, 5, 6};  // 1 x 2
  const Bytes big = pn::viz::upscale_nearest(rgb, 1, 2, 3);
  ASSERT_EQ(big.size(), 3u * 6u * 3u);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 6; ++x) {
      EXPECT_EQ(pixel(big, static_cast<std::size_t>(y * 6 + x)), pixel(rgb, static_cast<std::size_t>(x / 3)));
    }
  }
  EXPECT_EQ(pn::viz::auto_scale(28, 28), 8);  // 224 / 28
  EXPECT_EQ(pn::viz::auto_scale(30, 40), 8);  // ceil(224 / 30)
  EXPECT_EQ(pn::viz::auto_scale(224, 300), 1);
  EXPECT_EQ(pn::viz::auto_scale(500, 300), 1);
}

TEST(ImageHeatmap, PathsOfABatch) {
  EXPECT_EQ(pn::viz::heatmap_paths("out/h.png", 1), (std::vector<std::string>{"out/h.png"}));
  EXPECT_EQ(pn::viz::heatmap_paths("out/h.png", 3), (std::vector<std::string>{"out/h_0.png", "out/h_1.png", "out/h_2.png"}));
  EXPECT_EQ(pn::viz::heatmap_paths("h", 2), (std::vector<std::string>{"h_0", "h_1"}));
}

// A 28 x 28 attribution with a positive and a negative blob, and a signal of three smooth colour
// ramps, drawn as a batch of two: one file per sample, each enlarged 8x to 224 x 224.
Tensor blob_batch() {
  Tensor x(Shape{2, 3, 28, 28});
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 28; ++y) {
      for (int q = 0; q < 28; ++q) {
        const auto sq = [](double v) { return v * v; };
        const double pos = std::exp(-(sq(y - 9) + sq(q - 9)) / 18.0);
        const double neg = std::exp(-(sq(y - 19) + sq(q - 18)) / 30.0);
        x.at({0, c, y, q}) = static_cast<float>(pos - 0.6 * neg);
        x.at({1, c, y, q}) = static_cast<float>(std::sin(0.2 * (c + 1) * (y + 2 * q)));
      }
    }
  }
  return x;
}

TEST(ImageHeatmap, WritesOnePngPerSample) {
  TempDir dir;
  const Tensor batch = blob_batch();
  const auto written = pn::viz::write_heatmaps(dir.file("attr.png"), batch, pn::viz::HeatmapKind::attribution);
  ASSERT_EQ(written, (std::vector<std::string>{dir.file("attr_0.png"), dir.file("attr_1.png")}));
  EXPECT_EQ(dir.count(), 2u);

  // The file holds attribution_image of the sample, each pixel repeated in an 8 x 8 block.
  Tensor first(Shape{3, 28, 28});
  std::copy_n(batch.data(), first.numel(), first.data());
  const Bytes expected = pn::viz::attribution_image(first);
  const Tensor png = pn::io::read_image(written[0]);
  ASSERT_EQ(png.shape(), (Shape{3, 224, 224}));
  for (int y = 0; y < 224; y += 5) {
    for (int q = 0; q < 224; q += 3) {
      const Rgb8 want = pixel(expected, static_cast<std::size_t>((y / 8) * 28 + q / 8));
      EXPECT_EQ(png.at({0, y, q}), want.r);
      EXPECT_EQ(png.at({1, y, q}), want.g);
      EXPECT_EQ(png.at({2, y, q}), want.b);
    }
  }
}

TEST(ImageHeatmap, SingleSampleExplicitScale) {
  TempDir dir;
  Tensor one(Shape{1, 3, 28, 28});
  const Tensor batch = blob_batch();
  std::copy_n(batch.data() + 3 * 28 * 28, one.numel(), one.data());
  const auto written = pn::viz::write_heatmaps(dir.file("signal.png"), one, pn::viz::HeatmapKind::signal, true, 2);
  ASSERT_EQ(written, (std::vector<std::string>{dir.file("signal.png")}));
  const Tensor png = pn::io::read_image(written[0]);
  ASSERT_EQ(png.shape(), (Shape{3, 56, 56}));
  Tensor sample = std::move(one).reshaped(Shape{3, 28, 28});
  const Bytes expected = pn::viz::signal_image(sample, true);
  EXPECT_EQ(png.at({0, 11, 7}), expected[static_cast<std::size_t>((5 * 28 + 3) * 3)]);
  EXPECT_EQ(png.at({2, 11, 7}), expected[static_cast<std::size_t>((5 * 28 + 3) * 3 + 2)]);
}

TEST(ImageHeatmap, WriteFailuresLeaveNoFiles) {
  TempDir dir;
  Tensor batch = blob_batch();
  const std::string missing = dir.file("no-folder/h.png");
  const std::string msg = message_of([&] { pn::viz::write_heatmaps(missing, batch, pn::viz::HeatmapKind::signal); });
  EXPECT_THAT(msg, HasSubstr(missing));
  EXPECT_EQ(dir.count(), 0u);

  // A NaN in the last sample: refused before the first file is written.
  batch[batch.numel() - 1] = std::numeric_limits<float>::quiet_NaN();
  const std::string nan_msg =
      message_of([&] { pn::viz::write_heatmaps(dir.file("h.png"), batch, pn::viz::HeatmapKind::attribution); });
  EXPECT_THAT(nan_msg, HasSubstr("sample 1 of 2"));
  EXPECT_EQ(dir.count(), 0u);

  EXPECT_THAT(message_of([&] { pn::viz::write_heatmaps(dir.file("h.png"), Tensor::zeros(Shape{2, 6}),
                                                       pn::viz::HeatmapKind::signal); }),
              HasSubstr("(N, C, H, W)"));
  EXPECT_THAT(message_of([&] { pn::viz::write_heatmaps(dir.file("h.png"), Tensor::zeros(Shape{1, 3, 2, 2}),
                                                       pn::viz::HeatmapKind::signal, false, -1); }),
              HasSubstr("scale"));
  EXPECT_EQ(dir.count(), 0u);
}

}  // namespace

// The two ImageNet conventions, value by value and in geometry: torchvision resizes the shorter
// side to 256 and crops the central 224; caffe fills 224 with the shorter side, flips RGB to BGR
// and subtracts the channel means. Each map's inverse returns the pixel, and the range holds
// black and white of every channel.
TEST(Preprocess, ImageNetConventions) {
  namespace nn = pn::nn;
  using pn::Shape;
  using pn::Tensor;
  EXPECT_FLOAT_EQ(nn::preprocess_value(nn::Preprocess::caffe, 0, 200.0f), 200.0f - 103.939f);  // blue
  EXPECT_FLOAT_EQ(nn::preprocess_value(nn::Preprocess::caffe, 2, 200.0f), 200.0f - 123.68f);   // red
  EXPECT_FLOAT_EQ(nn::preprocess_value(nn::Preprocess::torchvision, 1, 255.0f), (1.0f - 0.456f) / 0.224f);
  for (auto p : {nn::Preprocess::caffe, nn::Preprocess::torchvision}) {
    for (std::int64_t ch = 0; ch < 3; ++ch) {
      EXPECT_NEAR(nn::unpreprocess_value(p, ch, nn::preprocess_value(p, ch, 77.0f)), 77.0f, 1e-4f);
      const auto [lo, hi] = nn::preprocess_range(p);
      EXPECT_LE(lo, nn::preprocess_value(p, ch, 0.0f));
      EXPECT_GE(hi, nn::preprocess_value(p, ch, 255.0f));
    }
  }
  EXPECT_THROW((void)nn::preprocess_value(nn::Preprocess::unit, 1, 0.0f), pn::Error);

  // A 512 x 256 (W x H) picture whose red channel is its column index scaled to 0..255 and whose
  // blue channel is constant: after torchvision's resize to 256 (no change here) and central
  // 224-crop, the first column is column 144 of the original; after caffe's resize to 224 (a
  // factor 224/256) and crop, it is near column 256 - 112·256/224 = 128.
  const std::int64_t h = 256, w = 512;
  Tensor rgb(Shape{3, h, w});
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      rgb[(0 * h + y) * w + x] = static_cast<float>(x) * 255.0f / static_cast<float>(w - 1);
      rgb[(1 * h + y) * w + x] = 10.0f;
      rgb[(2 * h + y) * w + x] = 50.0f;
    }
  }
  const Shape input{3, 224, 224};
  const Tensor tv = nn::preprocess_image(rgb, input, nn::Preprocess::torchvision);
  EXPECT_EQ(tv.shape(), (Shape{1, 3, 224, 224}));
  const float red_first = nn::unpreprocess_value(nn::Preprocess::torchvision, 0, tv[0]);
  EXPECT_NEAR(red_first, 144.0f * 255.0f / 511.0f, 0.05f);
  EXPECT_NEAR(nn::unpreprocess_value(nn::Preprocess::torchvision, 2, tv[2 * 224 * 224 + 5]), 50.0f, 1e-3f);
  const Tensor caffe = nn::preprocess_image(rgb, input, nn::Preprocess::caffe);
  EXPECT_NEAR(nn::unpreprocess_value(nn::Preprocess::caffe, 0, caffe[7]), 50.0f, 1e-3f);  // channel 0 is blue
  const float red_caffe = nn::unpreprocess_value(nn::Preprocess::caffe, 2, caffe[2 * 224 * 224]);
  EXPECT_NEAR(red_caffe, 128.0f * 255.0f / 511.0f, 2.0f);
}
