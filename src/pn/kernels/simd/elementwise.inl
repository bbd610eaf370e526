// ReLU, bias and channel sums written against the Vec interface; included inside an ISA
// namespace (see gemm.inl for why no standard header may appear here). Tails shorter than one
// vector run through the same scalar expressions as the reference table.

inline void relu_forward(const float* x, float* y, std::int64_t n) {
  const Vec zero = Vec::zero();
  std::int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) Vec::max(Vec::loadu(x + i), zero).storeu(y + i);
  for (; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

inline void relu_backward(const float* dy, const float* gate, float* dx, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) {
    Vec::where_positive(Vec::loadu(gate + i), Vec::loadu(dy + i)).storeu(dx + i);
  }
  for (; i < n; ++i) dx[i] = gate[i] > 0.0f ? dy[i] : 0.0f;
}

inline void bias_add(float* x, const float* bias, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  if (inner == 1) {  // a dense layer: every row gets the bias vector
    for (std::int64_t o = 0; o < outer; ++o) {
      float* row = x + o * channels;
      std::int64_t c = 0;
      for (; c + Vec::width <= channels; c += Vec::width) (Vec::loadu(row + c) + Vec::loadu(bias + c)).storeu(row + c);
      for (; c < channels; ++c) row[c] += bias[c];
    }
    return;
  }
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t c = 0; c < channels; ++c) {
      float* plane = x + (o * channels + c) * inner;
      const Vec b = Vec::set1(bias[c]);
      std::int64_t i = 0;
      for (; i + Vec::width <= inner; i += Vec::width) (Vec::loadu(plane + i) + b).storeu(plane + i);
      for (; i < inner; ++i) plane[i] += bias[c];
    }
  }
}

inline void channel_sums(const float* x, float* out, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                         bool accumulate) {
  if (!accumulate) {
    for (std::int64_t c = 0; c < channels; ++c) out[c] = 0.0f;
  }
  if (inner == 1) {  // column sums of an (outer x channels) matrix
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * channels;
      std::int64_t c = 0;
      for (; c + Vec::width <= channels; c += Vec::width) (Vec::loadu(out + c) + Vec::loadu(row + c)).storeu(out + c);
      for (; c < channels; ++c) out[c] += row[c];
    }
    return;
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    float total = 0.0f;
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* plane = x + (o * channels + c) * inner;
      // Four vector accumulators hide the add latency and keep the rounding error of long
      // planes (224 x 224) small.
      Vec s0 = Vec::zero(), s1 = Vec::zero(), s2 = Vec::zero(), s3 = Vec::zero();
      std::int64_t i = 0;
      for (; i + 4 * Vec::width <= inner; i += 4 * Vec::width) {
        s0 = s0 + Vec::loadu(plane + i);
        s1 = s1 + Vec::loadu(plane + i + Vec::width);
        s2 = s2 + Vec::loadu(plane + i + 2 * Vec::width);
        s3 = s3 + Vec::loadu(plane + i + 3 * Vec::width);
      }
      for (; i + Vec::width <= inner; i += Vec::width) s0 = s0 + Vec::loadu(plane + i);
      float part = ((s0 + s1) + (s2 + s3)).sum();
      for (; i < inner; ++i) part += plane[i];
      total += part;
    }
    out[c] += total;
  }
}
