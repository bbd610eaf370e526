// pn::Tensor: the one tensor type of patternnet.
// float32, contiguous, row-major (NCHW for images), 64-byte aligned, rank <= 4. Storage is
// move-only: a copy is always spelled out with clone(), so a 400 MB activation is never
// duplicated by accident. Views and strides are deliberately absent; see chapter 1.
#pragma once

#include "pn/core/aligned_buffer.h"
#include "pn/core/shape.h"

#include <cstdint>
#include <span>
#include <utility>

namespace pn {

class Tensor {
public:
  Tensor() = default;  // empty: shape (0,)
  explicit Tensor(Shape shape);                 // uninitialised values
  static Tensor zeros(Shape shape);
  static Tensor full(Shape shape, float value);
  static Tensor from(Shape shape, std::span<const float> values);  // copies; sizes must agree

  // A moved-from tensor is empty: shape (0,), no storage.
  Tensor(Tensor&& other) noexcept : shape_(std::exchange(other.shape_, Shape{0})), buffer_(std::move(other.buffer_)) {}
  Tensor& operator=(Tensor&& other) noexcept {
    shape_ = std::exchange(other.shape_, Shape{0});
    buffer_ = std::move(other.buffer_);
    return *this;
  }
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  Tensor clone() const;

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int i) const { return shape_.dim(i); }
  std::int64_t numel() const { return shape_.numel(); }
  // True for a default-constructed tensor and for any tensor with no elements.
  bool empty() const { return buffer_.size() == 0; }

  float* data() { return buffer_.data(); }
  const float* data() const { return buffer_.data(); }
  std::span<float> values() { return {data(), static_cast<std::size_t>(numel())}; }
  std::span<const float> values() const { return {data(), static_cast<std::size_t>(numel())}; }

  float& operator[](std::int64_t i) { return data()[i]; }
  float operator[](std::int64_t i) const { return data()[i]; }

  // Element access by full index (rank must match); bounds are checked, so use it in tests and
  // tools, not in inner loops.
  float& at(std::initializer_list<std::int64_t> index);
  float at(std::initializer_list<std::int64_t> index) const;

  // Same data, new dimensions with the same element count (e.g. (N, C, H, W) -> (N, C*H*W)).
  void reshape(Shape shape);
  Tensor reshaped(Shape shape) &&;

  void fill(float value);

private:
  std::int64_t offset(std::initializer_list<std::int64_t> index) const;

  Shape shape_{0};  // a default tensor holds no elements
  AlignedBuffer buffer_;
};

// Throws pn::Error "<op>: expected <what> of shape A, got B" unless the shapes are equal.
void require_shape(const Tensor& t, const Shape& expected, const char* op, const char* what);

}  // namespace pn
