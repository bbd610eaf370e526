// pn::Hasher: a 64-bit multiply-xorshift hash over 8-byte words, printed as 16 hex digits. Fast
// enough for VGG-16's 138M weights (about 0.1 s) and sensitive to every bit: model fingerprints,
// data fingerprints and the checksums of statistics files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pn {

class Hasher {
public:
  // The bytes as 8-byte words, then the byte count (so that the boundaries between pieces count).
  void add(const void* data, std::size_t bytes);
  void add_u64(std::uint64_t v) { mix(v); }
  void add_string(const std::string& s);
  std::string hex() const;

private:
  void mix(std::uint64_t v);
  std::uint64_t h_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace pn
