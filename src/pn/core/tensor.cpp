#include "pn/core/tensor.h"

#include <algorithm>
#include <cstring>

namespace pn {

Tensor::Tensor(Shape shape) : shape_(shape), buffer_(shape.numel()) {}

Tensor Tensor::zeros(Shape shape) { return full(shape, 0.0f); }

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from(Shape shape, std::span<const float> values) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel()) {
    throw Error("Tensor::from: shape {} needs {} values, got {}", shape, shape.numel(), values.size());
  }
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(shape_);
  if (numel() > 0) std::memcpy(t.data(), data(), static_cast<std::size_t>(numel()) * sizeof(float));
  return t;
}

void Tensor::fill(float value) { std::fill_n(data(), numel(), value); }

void Tensor::reshape(Shape shape) {
  if (shape.numel() != numel()) {
    throw Error("reshape: cannot view {} ({} elements) as {} ({} elements)", shape_, numel(), shape, shape.numel());
  }
  shape_ = shape;
}

Tensor Tensor::reshaped(Shape shape) && {
  reshape(shape);
  return std::move(*this);
}

std::int64_t Tensor::offset(std::initializer_list<std::int64_t> index) const {
  if (static_cast<int>(index.size()) != rank()) {
    throw Error("tensor of shape {} indexed with {} indices", shape_, index.size());
  }
  std::int64_t off = 0;
  int axis = 0;
  for (std::int64_t i : index) {
    const std::int64_t d = shape_[axis];
    if (i < 0 || i >= d) throw Error("index {} out of range for axis {} of shape {}", i, axis, shape_);
    off = off * d + i;
    ++axis;
  }
  return off;
}

float& Tensor::at(std::initializer_list<std::int64_t> index) { return data()[offset(index)]; }
float Tensor::at(std::initializer_list<std::int64_t> index) const { return data()[offset(index)]; }

void require_shape(const Tensor& t, const Shape& expected, const char* op, const char* what) {
  if (t.shape() != expected) throw Error("{}: expected {} of shape {}, got {}", op, what, expected, t.shape());
}

}  // namespace pn
