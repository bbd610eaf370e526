#include "pn/core/aligned_buffer.h"

#include "pn/core/error.h"
#include "pn/core/shape.h"

#include <cstdlib>

namespace pn {

void AlignedBuffer::Free::operator()(float* p) const noexcept { std::free(p); }

AlignedBuffer::AlignedBuffer(std::int64_t count) : size_(count) {
  if (count < 0) throw Error("AlignedBuffer: negative element count {}", count);
  if (count == 0) return;
  if (count > (INT64_MAX - static_cast<std::int64_t>(kAlignment)) / static_cast<std::int64_t>(sizeof(float))) {
    throw Error("out of memory: {} floats cannot be addressed", count);
  }
  std::int64_t bytes = count * static_cast<std::int64_t>(sizeof(float));
  // aligned_alloc wants a multiple of the alignment; round up (the check above leaves room).
  bytes = (bytes + static_cast<std::int64_t>(kAlignment) - 1) / static_cast<std::int64_t>(kAlignment) *
          static_cast<std::int64_t>(kAlignment);
  void* p = std::aligned_alloc(kAlignment, static_cast<std::size_t>(bytes));
  if (!p) throw Error("out of memory: cannot allocate {} floats ({:.1f} MiB)", count, static_cast<double>(bytes) / 1048576.0);
  data_.reset(static_cast<float*>(p));
}

}  // namespace pn
