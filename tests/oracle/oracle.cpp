#include "oracle/oracle.h"

namespace oracle {
namespace {

// x (batch, channels, height, width) flat index.
std::int64_t idx4(std::int64_t d1, std::int64_t d2, std::int64_t d3, std::int64_t i0, std::int64_t i1,
                  std::int64_t i2, std::int64_t i3) {
  return ((i0 * d1 + i1) * d2 + i2) * d3 + i3;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const double* a,
          std::int64_t lda, const double* b, std::int64_t ldb, double* c, std::int64_t ldc, bool accumulate) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double aip = trans_a ? a[p * lda + i] : a[i * lda + p];
        const double bpj = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += aip * bpj;
      }
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
    }
  }
}

void channel_sums(const double* x, double* out, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t i = 0; i < inner; ++i) sum += x[(o * channels + c) * inner + i];
    }
    out[c] = sum;
  }
}

double conv2d_forward_at(const ConvGeom& g, const double* x, const double* w, const double* bias, std::int64_t n,
                         std::int64_t o, std::int64_t oy, std::int64_t ox) {
  double sum = bias ? bias[o] : 0.0;
  for (std::int64_t c = 0; c < g.in_c; ++c) {
    for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
      for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
        const std::int64_t iy = oy * g.stride + ky - g.pad;
        const std::int64_t ix = ox * g.stride + kx - g.pad;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;  // zero padding
        sum += x[idx4(g.in_c, g.in_h, g.in_w, n, c, iy, ix)] * w[idx4(g.in_c, g.kernel_h, g.kernel_w, o, c, ky, kx)];
      }
    }
  }
  return sum;
}

void conv2d_forward(const ConvGeom& g, const double* x, const double* w, const double* bias, double* y) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t o = 0; o < g.out_c; ++o)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox)
          y[idx4(g.out_c, oh, ow, n, o, oy, ox)] = conv2d_forward_at(g, x, w, bias, n, o, oy, ox);
}

void conv2d_backward_data(const ConvGeom& g, const double* dy, const double* w, double* dx) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  for (std::int64_t i = 0; i < g.x_size(); ++i) dx[i] = 0.0;
  // Every product of the forward pass sends its share back to the input it read.
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t o = 0; o < g.out_c; ++o)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const double d = dy[idx4(g.out_c, oh, ow, n, o, oy, ox)];
          for (std::int64_t c = 0; c < g.in_c; ++c)
            for (std::int64_t ky = 0; ky < g.kernel_h; ++ky)
              for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
                const std::int64_t iy = oy * g.stride + ky - g.pad;
                const std::int64_t ix = ox * g.stride + kx - g.pad;
                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
                dx[idx4(g.in_c, g.in_h, g.in_w, n, c, iy, ix)] +=
                    d * w[idx4(g.in_c, g.kernel_h, g.kernel_w, o, c, ky, kx)];
              }
        }
}

double conv2d_backward_data_at(const ConvGeom& g, const double* dy, const double* w, std::int64_t n, std::int64_t c,
                               std::int64_t iy, std::int64_t ix) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  double sum = 0.0;
  // Input (iy, ix) is read by output (oy, ox) through tap (ky, kx) when oy*stride + ky - pad == iy.
  for (std::int64_t o = 0; o < g.out_c; ++o)
    for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const std::int64_t ty = iy + g.pad - ky;
      if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= oh) continue;
      for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
        const std::int64_t tx = ix + g.pad - kx;
        if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= ow) continue;
        sum += dy[idx4(g.out_c, oh, ow, n, o, ty / g.stride, tx / g.stride)] *
               w[idx4(g.in_c, g.kernel_h, g.kernel_w, o, c, ky, kx)];
      }
    }
  return sum;
}

double conv2d_backward_weight_at(const ConvGeom& g, const double* x, const double* dy, std::int64_t o,
                                 std::int64_t c, std::int64_t ky, std::int64_t kx) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  double sum = 0.0;
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        const std::int64_t iy = oy * g.stride + ky - g.pad;
        const std::int64_t ix = ox * g.stride + kx - g.pad;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
        sum += dy[idx4(g.out_c, oh, ow, n, o, oy, ox)] * x[idx4(g.in_c, g.in_h, g.in_w, n, c, iy, ix)];
      }
  return sum;
}

void conv2d_backward_weight(const ConvGeom& g, const double* x, const double* dy, double* dw, double* dbias) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  for (std::int64_t o = 0; o < g.out_c; ++o)
    for (std::int64_t c = 0; c < g.in_c; ++c)
      for (std::int64_t ky = 0; ky < g.kernel_h; ++ky)
        for (std::int64_t kx = 0; kx < g.kernel_w; ++kx)
          dw[idx4(g.in_c, g.kernel_h, g.kernel_w, o, c, ky, kx)] = conv2d_backward_weight_at(g, x, dy, o, c, ky, kx);
  if (dbias) {
    for (std::int64_t o = 0; o < g.out_c; ++o) {
      double sum = 0.0;
      for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t oy = 0; oy < oh; ++oy)
          for (std::int64_t ox = 0; ox < ow; ++ox) sum += dy[idx4(g.out_c, oh, ow, n, o, oy, ox)];
      dbias[o] = sum;
    }
  }
}

void maxpool_forward(const PoolGeom& g, const double* x, double* y, std::int64_t* argmax) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const double* plane = x + p * g.h * g.w;
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        std::int64_t best = -1;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
            const std::int64_t i = (oy * g.stride + ky) * g.w + (ox * g.stride + kx);
            if (best < 0 || plane[i] > plane[best]) best = i;
          }
        const std::int64_t o = (p * oh + oy) * ow + ox;
        y[o] = plane[best];
        argmax[o] = best;
      }
  }
}

void maxpool_backward(const PoolGeom& g, const double* dy, const std::int64_t* argmax, double* dx) {
  const std::int64_t out_plane = g.out_h() * g.out_w();
  for (std::int64_t i = 0; i < g.in_size(); ++i) dx[i] = 0.0;
  for (std::int64_t p = 0; p < g.planes; ++p)
    for (std::int64_t o = 0; o < out_plane; ++o) dx[p * g.h * g.w + argmax[p * out_plane + o]] += dy[p * out_plane + o];
}

void avgpool_forward(const PoolGeom& g, const double* x, double* y) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  const double area = static_cast<double>(g.kernel * g.kernel);
  for (std::int64_t p = 0; p < g.planes; ++p)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        double sum = 0.0;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx)
            sum += x[p * g.h * g.w + (oy * g.stride + ky) * g.w + (ox * g.stride + kx)];
        y[(p * oh + oy) * ow + ox] = sum / area;
      }
}

void avgpool_backward(const PoolGeom& g, const double* dy, double* dx) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  const double area = static_cast<double>(g.kernel * g.kernel);
  for (std::int64_t i = 0; i < g.in_size(); ++i) dx[i] = 0.0;
  for (std::int64_t p = 0; p < g.planes; ++p)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        const double share = dy[(p * oh + oy) * ow + ox] / area;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx)
            dx[p * g.h * g.w + (oy * g.stride + ky) * g.w + (ox * g.stride + kx)] += share;
      }
}

}  // namespace oracle
