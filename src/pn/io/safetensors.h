// safetensors files: the tensor container of PyTorch and the Hugging Face hub.
// Layout: an 8-byte little-endian header length, a JSON header mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section) plus an
// optional "__metadata__" object of strings, then the data. Chapter 2.
// The reader validates everything against the file size before allocating: header size (at most
// kMaxSafetensorsHeader), dtype, rank (at most kMaxRank), element count (every partial product of
// the shape stays below the data size, so no product can overflow), offsets inside the data
// section, byte counts that match dtype x shape, and no overlapping or missing bytes. It converts
// F32/F64/F16/BF16 to float32. The writer writes F32 (and F64 for statistics) atomically.
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pn::io {

inline constexpr std::uint64_t kMaxSafetensorsHeader = 100ull << 20;  // 100 MiB, as the reference reader

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: "F32", "F16", "BF16", "F64", "I64", ...
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets inside the data section
};

class SafetensorsReader {
public:
  explicit SafetensorsReader(std::string path);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // sorted by name
  const SafetensorsEntry* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads one tensor as float32; throws pn::Error for unknown names and unsupported dtypes.
  Tensor load(const std::string& name) const;
  // Reads one F64 tensor without rounding (for statistics files).
  std::vector<double> load_f64(const std::string& name) const;

private:
  void read_bytes(std::uint64_t offset, void* out, std::uint64_t bytes) const;

  std::string path_;
  std::uint64_t data_start_ = 0;
  std::uint64_t data_size_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: float32 from a Tensor, or float64 from a buffer with a shape.
struct SafetensorsItem {
  std::string name;
  const Tensor* f32 = nullptr;
  const std::vector<double>* f64 = nullptr;
  Shape f64_shape;
};

// Writes the tensors in the given order, atomically (temporary file, fsync, rename).
void write_safetensors_items(const std::string& path, const std::vector<SafetensorsItem>& items,
                       const std::map<std::string, std::string>& metadata = {});
// Convenience for float32 tensors only.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Conversions used by the reader (exposed for tests).
float half_to_float(std::uint16_t h);
float bfloat16_to_float(std::uint16_t b);

}  // namespace pn::io
