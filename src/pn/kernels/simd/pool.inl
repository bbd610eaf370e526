// Max and average pooling written against the Vec interface; included inside an ISA namespace.
// The forward passes vectorise across Vec::width neighbouring output columns of one output row:
// stride 1 reads the window columns with plain loads, other strides with a gather. Window
// elements are visited in the same row-major order as the scalar reference and a candidate only
// replaces the running maximum when strictly greater, so values and arg-max switches are
// bit-identical to the reference. Backward passes scatter and are kept scalar.

inline void maxpool_forward(const PoolGeom& g, const float* x, float* y, std::int32_t* argmax) {
  // Indices travel as floats inside the vectors; beyond 2^24 they would no longer be exact.
  const bool vector_ok = g.h * g.w < (std::int64_t{1} << 24);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.h * g.w;
    float* yp = y + p * g.out_h * g.out_w;
    std::int32_t* ap = argmax + p * g.out_h * g.out_w;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      std::int64_t ow = 0;
      if (vector_ok) {
        for (; ow + Vec::width <= g.out_w; ow += Vec::width) {
          Vec best = Vec::zero();
          Vec best_idx = Vec::zero();
          bool first = true;
          for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
            const std::int64_t row = oh * g.stride + ky;
            for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
              const std::int64_t col = ow * g.stride + kx;
              const float* src = xp + row * g.w + col;
              const Vec v = g.stride == 1 ? Vec::loadu(src) : Vec::gather(src, static_cast<int>(g.stride));
              const Vec idx = Vec::fma(Vec::iota(), Vec::set1(static_cast<float>(g.stride)),
                                       Vec::set1(static_cast<float>(row * g.w + col)));
              if (first) {
                best = v;
                best_idx = idx;
                first = false;
              } else {
                const Mask gt = Vec::greater(v, best);
                best = Vec::blend(best, v, gt);
                best_idx = Vec::blend(best_idx, idx, gt);
              }
            }
          }
          best.storeu(yp + oh * g.out_w + ow);
          best_idx.store_i32(ap + oh * g.out_w + ow);
        }
      }
      for (; ow < g.out_w; ++ow) {
        float best = 0.0f;
        std::int32_t best_i = 0;
        bool first = true;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
            const std::int64_t i = (oh * g.stride + ky) * g.w + ow * g.stride + kx;
            if (first || xp[i] > best) {
              best = xp[i];
              best_i = static_cast<std::int32_t>(i);
              first = false;
            }
          }
        }
        yp[oh * g.out_w + ow] = best;
        ap[oh * g.out_w + ow] = best_i;
      }
    }
  }
}

inline void maxpool_backward(const PoolGeom& g, const float* dy, const std::int32_t* argmax, float* dx) {
  const std::int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* dxp = dx + p * in_plane;
    for (std::int64_t i = 0; i < in_plane; ++i) dxp[i] = 0.0f;
    const float* dyp = dy + p * out_plane;
    const std::int32_t* ap = argmax + p * out_plane;
    for (std::int64_t o = 0; o < out_plane; ++o) dxp[ap[o]] += dyp[o];
  }
}

inline void avgpool_forward(const PoolGeom& g, const float* x, float* y) {
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  const Vec vinv = Vec::set1(inv);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.h * g.w;
    float* yp = y + p * g.out_h * g.out_w;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      std::int64_t ow = 0;
      for (; ow + Vec::width <= g.out_w; ow += Vec::width) {
        Vec sum = Vec::zero();
        for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
            const float* src = xp + (oh * g.stride + ky) * g.w + ow * g.stride + kx;
            sum = sum + (g.stride == 1 ? Vec::loadu(src) : Vec::gather(src, static_cast<int>(g.stride)));
          }
        }
        (sum * vinv).storeu(yp + oh * g.out_w + ow);
      }
      for (; ow < g.out_w; ++ow) {
        float sum = 0.0f;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) sum += xp[(oh * g.stride + ky) * g.w + ow * g.stride + kx];
        yp[oh * g.out_w + ow] = sum * inv;
      }
    }
  }
}

inline void avgpool_backward(const PoolGeom& g, const float* dy, float* dx) {
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  const std::int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* dxp = dx + p * in_plane;
    for (std::int64_t i = 0; i < in_plane; ++i) dxp[i] = 0.0f;
    const float* dyp = dy + p * out_plane;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        const float share = dyp[oh * g.out_w + ow] * inv;
        for (std::int64_t ky = 0; ky < g.kernel; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel; ++kx) dxp[(oh * g.stride + ky) * g.w + ow * g.stride + kx] += share;
      }
    }
  }
}
