// pn::AlignedBuffer: an owning, 64-byte aligned, move-only float array.
// 64 bytes is one cache line and one AVX-512 register, so every tensor row starts on a boundary
// the kernels can load with aligned instructions. Allocation failure is a pn::Error naming the size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace pn {

inline constexpr std::size_t kAlignment = 64;

class AlignedBuffer {
public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::int64_t count);  // uninitialised floats

  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;
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
