// pn::AlignedBuffer: an owning, 64-byte aligned, move-only float array.
// 64 bytes is one cache line and one AVX-512 register, so every tensor row starts on a boundary
// the kernels can load with aligned instructions. Allocation failure is a pn::Error naming the size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace pn {

inline constexpr std::size_t kAlignment = 64;

class AlignedBuffer {
public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::int64_t count);  // uninitialised floats

  // A moved-from buffer is empty (size 0), never a size without storage.
  AlignedBuffer(AlignedBuffer&& other) noexcept : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::int64_t size() const { return size_; }

private:
  struct Free {
    void operator()(float* p) const noexcept;
  };
  std::unique_ptr<float[], Free> data_;
  std::int64_t size_ = 0;
};

}  // namespace pn
