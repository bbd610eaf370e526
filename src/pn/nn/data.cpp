#include "pn/nn/data.h"

#include "pn/core/error.h"

#include <algorithm>
#include <cstring>

namespace pn::nn {

Tensor fit_to_input(const Tensor& images, const Sequential& model) {
  const Shape& in = model.input_shape();
  if (images.rank() != 4) throw Error("images must be (N, C, H, W), got {}", images.shape());
  if (in.rank() == 1) {
    if (images.numel() / std::max<std::int64_t>(1, images.dim(0)) != in[0]) {
      throw Error("images {} do not fit a model with {} inputs", images.shape(), in[0]);
    }
    return images.clone();
  }
  const std::int64_t n = images.dim(0), c = images.dim(1), h = images.dim(2), w = images.dim(3);
  if (c != in[0] || h > in[1] || w > in[2]) {
    throw Error("images of shape {} do not fit the model's input (N, {}, {}, {})", images.shape(), in[0], in[1], in[2]);
  }
  if (h == in[1] && w == in[2]) return images.clone();
  const std::int64_t top = (in[1] - h) / 2, left = (in[2] - w) / 2;
  Tensor out = Tensor::zeros(Shape{n, c, in[1], in[2]});
  for (std::int64_t p = 0; p < n * c; ++p)
    for (std::int64_t y = 0; y < h; ++y)
      std::memcpy(out.data() + (p * in[1] + y + top) * in[2] + left, images.data() + (p * h + y) * w,
                  static_cast<std::size_t>(w) * sizeof(float));
  return out;
}

Tensor gather_rows(const Tensor& images, const std::vector<std::int64_t>& idx, std::int64_t begin, std::int64_t end) {
  Shape s = images.shape();
  Shape bs{end - begin};
  for (int i = 1; i < s.rank(); ++i) bs.push_back(s[i]);
  const std::int64_t row = s.numel() / std::max<std::int64_t>(1, s[0]);
  Tensor b(bs);
  for (std::int64_t i = begin; i < end; ++i) {
    std::memcpy(b.data() + (i - begin) * row, images.data() + idx[static_cast<std::size_t>(i)] * row,
                static_cast<std::size_t>(row) * sizeof(float));
  }
  return b;
}

Dataset take(const Dataset& d, std::int64_t n) {
  if (n <= 0 || n >= d.size()) return Dataset{d.images.clone(), d.labels};
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
  return Dataset{gather_rows(d.images, idx, 0, n), std::vector<std::int32_t>(d.labels.begin(), d.labels.begin() + n)};
}

}  // namespace pn::nn
