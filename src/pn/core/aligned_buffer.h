// pn::AlignedBuffer: an owning, 64-byte aligned, move-only float array.
// 64 bytes is one cache line and one AVX-512 register, so every tensor row starts on a boundary
// the kernels can load with aligned instructions. Allocation failure is a pn::Error naming the size.
//
// Large blocks (1 MiB and up) are recycled: a freed one is kept, up to 128 MiB in all, and handed
// to the next request it fits with at most a quarter to spare. A fresh block costs a page fault
// (and the kernel's zeroing) per 4 KiB page on first touch — 6.7 ms for one 12.8 MB activation of
// VGG-16's first block on the machine of bench/README.md, against 0.8 ms to write it once mapped —
// and an explanation allocates every activation twice (forward and backward) on every call.
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

  // Bytes of freed large blocks held for reuse (at most kRecycleCapBytes).
  static std::size_t recycled_bytes();
  static constexpr std::size_t kRecycleMinBytes = std::size_t{1} << 20;
  static constexpr std::size_t kRecycleCapBytes = std::size_t{128} << 20;

private:
  struct Free {
    Free() noexcept : bytes(0) {}
    explicit Free(std::size_t block_bytes) noexcept : bytes(block_bytes) {}
    void operator()(float* p) const noexcept;
    std::size_t bytes;  // the block's real size, which a recycled block may make larger than size_
  };
  std::unique_ptr<float[], Free> data_;
  std::int64_t size_ = 0;
};

}  // namespace pn
