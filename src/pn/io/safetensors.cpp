#include "pn/io/safetensors.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

namespace pn::io {

// The format is little-endian; so is every machine patternnet targets, and the reader copies bytes
// straight into float storage.
static_assert(std::endian::native == std::endian::little, "patternnet's file readers assume a little-endian CPU");

namespace {

// Bytes per element of every dtype the format defines; 0 for an unknown name.
std::uint64_t dtype_size(const std::string& d) {
  static const std::map<std::string, std::uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  const auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal half: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf or NaN
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

SafetensorsReader::SafetensorsReader(std::string path) : path_(std::move(path)) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw Error("cannot open safetensors file '{}': {}", path_, std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  // Every size below is checked against this one, so it must be a real size (a pipe has none).
  if (end < 0) throw Error("cannot read safetensors file '{}': its size is unknown (not a regular file?)", path_);
  const auto file_size = static_cast<std::uint64_t>(end);
  in.seekg(0);
  if (file_size < 8) throw Error("'{}' is not a safetensors file: {} bytes, shorter than the 8-byte header length", path_, file_size);
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) throw Error("cannot read safetensors file '{}': {}", path_, std::strerror(errno));
  const std::uint64_t header_len = read_le64(len_bytes);
  if (header_len > kMaxSafetensorsHeader) {
    throw Error("'{}': safetensors header of {} bytes exceeds the limit of {} bytes", path_, header_len,
                kMaxSafetensorsHeader);
  }
  if (header_len > file_size - 8) {
    throw Error("'{}' is truncated: the header claims {} bytes but only {} follow", path_, header_len, file_size - 8);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) throw Error("'{}': cannot read the {}-byte header", path_, header_len);
  data_start_ = 8 + header_len;
  data_size_ = file_size - data_start_;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw Error("'{}': the safetensors header is not valid JSON ({})", path_, e.what());
  }
  if (!j.is_object()) throw Error("'{}': the safetensors header must be a JSON object", path_);

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error("'{}': __metadata__ must be an object of strings", path_);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw Error("'{}': __metadata__[\"{}\"] is not a string", path_, m.key());
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets")) {
      throw Error("'{}': tensor '{}' needs dtype, shape and data_offsets", path_, name);
    }
    for (auto k = v.begin(); k != v.end(); ++k) {
      if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets") {
        throw Error("'{}': tensor '{}' has an unknown key '{}'", path_, name, k.key());
      }
    }
    SafetensorsEntry e;
    e.name = name;
    if (!v["dtype"].is_string()) throw Error("'{}': tensor '{}': dtype must be a string", path_, name);
    e.dtype = v["dtype"].get<std::string>();
    const std::uint64_t esize = dtype_size(e.dtype);
    if (esize == 0) throw Error("'{}': tensor '{}' has unknown dtype '{}'", path_, name, e.dtype);
    const auto& shape = v["shape"];
    if (!shape.is_array()) throw Error("'{}': tensor '{}': shape must be an array", path_, name);
    if (shape.size() > static_cast<std::size_t>(kMaxRank)) {
      throw Error("'{}': tensor '{}' has rank {}; patternnet supports rank <= {}", path_, name, shape.size(), kMaxRank);
    }
    std::uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) throw Error("'{}': tensor '{}': shape entries must be non-negative integers", path_, name);
      const auto dim = d.get<std::uint64_t>();
      // numel * dim <= data_size_ keeps every product below the file size, so nothing can wrap.
      // The message names the dimension rather than quoting shape.dump(): the rest of the array is
      // unchecked, and dumping a deeply nested value recurses once per level.
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
          (dim != 0 && numel > data_size_ / dim)) {
        throw Error("'{}': tensor '{}': shape dimension {} ({}) makes it larger than the file ({} bytes of data)", path_,
                    name, e.shape.rank(), dim, data_size_);
      }
      numel *= dim;
      e.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      throw Error("'{}': tensor '{}': data_offsets must be two non-negative integers", path_, name);
    }
    e.begin = off[0].get<std::uint64_t>();
    e.end = off[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > data_size_) {
      throw Error("'{}': tensor '{}': data_offsets [{}, {}] lie outside the {}-byte data section", path_, name, e.begin,
                  e.end, data_size_);
    }
    if (numel > (e.end - e.begin) || numel * esize != e.end - e.begin) {
      throw Error("'{}': tensor '{}': {} x shape {} needs {} bytes but data_offsets give {}", path_, name, e.dtype,
                  e.shape, numel * esize, e.end - e.begin);
    }
    entries_.push_back(std::move(e));
  }

  // nlohmann::json keeps object keys sorted, so entries_ already is; sorting again costs little and
  // keeps find()'s binary search correct should the JSON type ever change.
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

  // The data section must be covered exactly once: no overlaps, no holes.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t pos = 0;
  for (const auto* e : by_offset) {
    if (e->begin < pos) throw Error("'{}': tensor '{}' overlaps another tensor's bytes (offset {})", path_, e->name, e->begin);
    if (e->begin > pos) throw Error("'{}': bytes {}..{} of the data section belong to no tensor", path_, pos, e->begin);
    pos = e->end;
  }
  if (pos != data_size_) {
    throw Error("'{}': the data section has {} bytes but the tensors cover {}", path_, data_size_, pos);
  }
}

// Binary search: callers look up every tensor by name, and a hostile header may declare millions
// of (empty) tensors, which would make a linear search quadratic.
const SafetensorsEntry* SafetensorsReader::find(const std::string& name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

void SafetensorsReader::read_bytes(std::uint64_t offset, void* out, std::uint64_t bytes) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw Error("cannot reopen '{}': {}", path_, std::strerror(errno));
  in.seekg(static_cast<std::streamoff>(data_start_ + offset));
  in.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<std::uint64_t>(in.gcount()) != bytes) {
    throw Error("'{}': could not read {} bytes at offset {} (file changed or truncated?)", path_, bytes, data_start_ + offset);
  }
}

Tensor SafetensorsReader::load(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw Error("'{}' has no tensor named '{}'", path_, name);
  Tensor t(e->shape);
  const std::uint64_t n = static_cast<std::uint64_t>(t.numel());
  if (e->dtype == "F32") {
    read_bytes(e->begin, t.data(), n * 4);
    return t;
  }
  if (e->dtype == "F64") {
    const std::vector<double> d = load_f64(name);
    for (std::uint64_t i = 0; i < n; ++i) t[static_cast<std::int64_t>(i)] = static_cast<float>(d[i]);
    return t;
  }
  if (e->dtype == "F16" || e->dtype == "BF16") {
    std::vector<unsigned char> raw(n * 2);
    read_bytes(e->begin, raw.data(), raw.size());
    const bool half = e->dtype == "F16";
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto bits = static_cast<std::uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8));
      t[static_cast<std::int64_t>(i)] = half ? half_to_float(bits) : bfloat16_to_float(bits);
    }
    return t;
  }
  throw Error("'{}': tensor '{}' has dtype {}; patternnet reads F32, F64, F16 and BF16", path_, name, e->dtype);
}

std::vector<double> SafetensorsReader::load_f64(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw Error("'{}' has no tensor named '{}'", path_, name);
  if (e->dtype != "F64") throw Error("'{}': tensor '{}' is {}, expected F64", path_, name, e->dtype);
  std::vector<double> d(static_cast<std::size_t>(e->shape.numel()));
  read_bytes(e->begin, d.data(), d.size() * 8);
  return d;
}

void write_safetensors_items(const std::string& path, const std::vector<SafetensorsItem>& items,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& it : items) {
    if (it.name == "__metadata__" || it.name.empty()) throw Error("cannot write a tensor named '{}'", it.name);
    if (header.contains(it.name)) throw Error("'{}': tensor name '{}' is used twice", path, it.name);
    const bool f64 = it.f64 != nullptr;
    const Shape shape = f64 ? it.f64_shape : it.f32->shape();
    if (f64 && static_cast<std::int64_t>(it.f64->size()) != shape.numel()) {
      throw Error("'{}': tensor '{}' has {} values for shape {}", path, it.name, it.f64->size(), shape);
    }
    const std::uint64_t bytes = static_cast<std::uint64_t>(shape.numel()) * (f64 ? 8 : 4);
    header[it.name] = {{"dtype", f64 ? "F64" : "F32"},
                       {"shape", std::vector<std::int64_t>(shape.begin(), shape.end())},
                       {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so that the data starts 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);

  AtomicFile out(path);
  out.write(len, 8);
  out.write(text.data(), text.size());
  for (const auto& it : items) {
    if (it.f64) {
      out.write(it.f64->data(), it.f64->size() * 8);
    } else {
      out.write(it.f32->data(), static_cast<std::size_t>(it.f32->numel()) * 4);
    }
  }
  out.commit();
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsItem> items;
  items.reserve(tensors.size());
  for (const auto& [name, t] : tensors) items.push_back({name, t, nullptr, {}});
  write_safetensors_items(path, items, metadata);
}

}  // namespace pn::io
