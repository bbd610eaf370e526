#include "oracle/vgg16_oracle.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace oracle {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("vgg16 oracle: " + what);
}

// A feature map (c, h, w), row-major.
struct Map {
  std::int64_t c = 0, h = 0, w = 0;
  std::vector<double> v;
  double& at(std::int64_t ch, std::int64_t y, std::int64_t x) { return v[static_cast<std::size_t>((ch * h + y) * w + x)]; }
  double at(std::int64_t ch, std::int64_t y, std::int64_t x) const { return v[static_cast<std::size_t>((ch * h + y) * w + x)]; }
};

// y[o][i][j] = b[o] + sum over c, ky, kx of w[o][c][ky][kx] * x[c][i + ky - 1][j + kx - 1], where
// x is zero outside the image. The (ky, kx) loops sit outside the pixel loops so that the bounds
// are a range per tap rather than a test per product: the same sum, fast enough under -O0.
Map conv3x3(const Map& x, const std::vector<double>& w, const std::vector<double>& b, std::int64_t out) {
  require(static_cast<std::int64_t>(w.size()) == out * x.c * 9, "conv weight size");
  require(static_cast<std::int64_t>(b.size()) == out, "conv bias size");
  Map y{out, x.h, x.w, std::vector<double>(static_cast<std::size_t>(out * x.h * x.w))};
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t i = 0; i < y.h; ++i)
      for (std::int64_t j = 0; j < y.w; ++j) y.at(o, i, j) = b[static_cast<std::size_t>(o)];
    for (std::int64_t c = 0; c < x.c; ++c)
      for (std::int64_t ky = 0; ky < 3; ++ky)
        for (std::int64_t kx = 0; kx < 3; ++kx) {
          const double wt = w[static_cast<std::size_t>(((o * x.c + c) * 3 + ky) * 3 + kx)];
          // Output rows i with 0 <= i + ky - 1 < h, columns likewise.
          const std::int64_t i0 = std::max<std::int64_t>(0, 1 - ky), i1 = std::min(y.h, x.h + 1 - ky);
          const std::int64_t j0 = std::max<std::int64_t>(0, 1 - kx), j1 = std::min(y.w, x.w + 1 - kx);
          for (std::int64_t i = i0; i < i1; ++i)
            for (std::int64_t j = j0; j < j1; ++j) y.at(o, i, j) += wt * x.at(c, i + ky - 1, j + kx - 1);
        }
  }
  return y;
}

void relu(std::vector<double>& v) {
  for (double& e : v) e = e > 0 ? e : 0.0;
}

// 2x2 windows, stride 2, no padding: an odd last row or column is dropped.
Map maxpool2(const Map& x) {
  Map y{x.c, x.h / 2, x.w / 2, {}};
  y.v.resize(static_cast<std::size_t>(y.c * y.h * y.w));
  for (std::int64_t c = 0; c < y.c; ++c)
    for (std::int64_t i = 0; i < y.h; ++i)
      for (std::int64_t j = 0; j < y.w; ++j)
        y.at(c, i, j) = std::max(std::max(x.at(c, 2 * i, 2 * j), x.at(c, 2 * i, 2 * j + 1)),
                                 std::max(x.at(c, 2 * i + 1, 2 * j), x.at(c, 2 * i + 1, 2 * j + 1)));
  return y;
}

std::vector<double> dense(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                          std::int64_t out) {
  const auto in = static_cast<std::int64_t>(x.size());
  require(static_cast<std::int64_t>(w.size()) == out * in, "dense weight size");
  require(static_cast<std::int64_t>(b.size()) == out, "dense bias size");
  std::vector<double> y(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    double s = b[static_cast<std::size_t>(o)];
    for (std::int64_t i = 0; i < in; ++i) s += w[static_cast<std::size_t>(o * in + i)] * x[static_cast<std::size_t>(i)];
    y[static_cast<std::size_t>(o)] = s;
  }
  return y;
}

}  // namespace

std::vector<double> vgg16_forward(const Vgg16Params& p, const double* x) {
  require(p.conv_out.size() == 13 && p.conv_w.size() == 13 && p.conv_b.size() == 13, "13 convolutions expected");
  require(p.fc_w.size() == 3 && p.fc_b.size() == 3, "3 dense layers expected");
  Map m{p.in_c, p.in_h, p.in_w, std::vector<double>(x, x + p.in_c * p.in_h * p.in_w)};
  static constexpr int kBlocks[5] = {2, 2, 3, 3, 3};
  std::size_t k = 0;
  for (const int convs : kBlocks) {
    for (int i = 0; i < convs; ++i, ++k) {
      m = conv3x3(m, p.conv_w[k], p.conv_b[k], p.conv_out[k]);
      relu(m.v);
    }
    m = maxpool2(m);
  }
  // m.v is already (C, H, W) row-major: the flattened vector.
  std::vector<double> h = dense(m.v, p.fc_w[0], p.fc_b[0], p.hidden);
  relu(h);
  h = dense(h, p.fc_w[1], p.fc_b[1], p.hidden);
  relu(h);
  return dense(h, p.fc_w[2], p.fc_b[2], p.classes);
}

}  // namespace oracle
