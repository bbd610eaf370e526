#include "pn/core/aligned_buffer.h"

#include "pn/core/error.h"
#include "pn/core/shape.h"

#include <cstdlib>
#include <map>
#include <mutex>

namespace pn {
namespace {

// Freed large blocks by size. Never destroyed: buffers may be freed during static destruction.
struct Recycler {
  std::mutex mu;
  std::multimap<std::size_t, void*> blocks;
  std::size_t held = 0;
};
Recycler& recycler() {
  static auto* r = new Recycler;
  return *r;
}

// A held block of at least `bytes` and at most a quarter larger, or null.
void* take_recycled(std::size_t bytes, std::size_t& block_bytes) {
  Recycler& r = recycler();
  const std::lock_guard lock(r.mu);
  const auto it = r.blocks.lower_bound(bytes);
  if (it == r.blocks.end() || it->first > bytes + bytes / 4) return nullptr;
  void* p = it->second;
  block_bytes = it->first;
  r.held -= it->first;
  r.blocks.erase(it);
  return p;
}

}  // namespace

void AlignedBuffer::Free::operator()(float* p) const noexcept {
  if (p != nullptr && bytes >= kRecycleMinBytes) {
    Recycler& r = recycler();
    const std::lock_guard lock(r.mu);
    if (r.held + bytes <= kRecycleCapBytes) {
      try {
        r.blocks.emplace(bytes, p);
        r.held += bytes;
        return;
      } catch (...) {  // no memory for the map node: free the block instead
      }
    }
  }
  std::free(p);
}

std::size_t AlignedBuffer::recycled_bytes() {
  Recycler& r = recycler();
  const std::lock_guard lock(r.mu);
  return r.held;
}

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
  std::size_t block = static_cast<std::size_t>(bytes);
  void* p = block >= kRecycleMinBytes ? take_recycled(block, block) : nullptr;
  if (p == nullptr) p = std::aligned_alloc(kAlignment, block);
  if (!p) throw Error("out of memory: cannot allocate {} floats ({:.1f} MiB)", count, static_cast<double>(bytes) / 1048576.0);
  data_ = std::unique_ptr<float[], Free>(static_cast<float*>(p), Free{block});
}

}  // namespace pn
