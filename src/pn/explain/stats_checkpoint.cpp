#include "pn/explain/stats_checkpoint.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <set>

namespace pn::explain {
namespace {

// The per-layer arrays in file (and checksum) order; "n" comes first and is handled apart, as it
// is a scalar in Raw.
enum class Dims { d, o, od, dd };
struct Field {
  const char* name;
  std::vector<double> PatternStats::Raw::*member;
  Dims dims;
  bool regimes_only, second_only;
};
constexpr Field kFields[] = {
    {"shift_x", &PatternStats::Raw::shift_x, Dims::d, false, false},
    {"shift_y", &PatternStats::Raw::shift_y, Dims::o, false, false},
    {"sy", &PatternStats::Raw::sy, Dims::o, false, false},
    {"syy", &PatternStats::Raw::syy, Dims::o, false, false},
    {"sx", &PatternStats::Raw::sx, Dims::d, false, false},
    {"sxy", &PatternStats::Raw::sxy, Dims::od, false, false},
    {"npos", &PatternStats::Raw::npos, Dims::o, true, false},
    {"sypos", &PatternStats::Raw::sypos, Dims::o, true, false},
    {"syypos", &PatternStats::Raw::syypos, Dims::o, true, false},
    {"sxpos", &PatternStats::Raw::sxpos, Dims::od, true, false},
    {"sxypos", &PatternStats::Raw::sxypos, Dims::od, true, false},
    {"sxx", &PatternStats::Raw::sxx, Dims::dd, false, true},
};

bool present(const Field& f, bool regimes, bool second) { return (!f.regimes_only || regimes) && (!f.second_only || second); }

Shape shape_of(Dims dims, std::int64_t d, std::int64_t o) {
  switch (dims) {
    case Dims::d: return Shape{d};
    case Dims::o: return Shape{o};
    case Dims::od: return Shape{o, d};
    case Dims::dd: return Shape{d, d};
  }
  return Shape{};
}

constexpr const char* kChecksumKey = "pn.checksum";
const std::string kChecksumPlaceholder(16, '0');

std::int64_t parse_count(const std::string& path, const std::string& key, const std::string& text) {
  std::int64_t v = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    throw Error("'{}': metadata \"{}\" is '{}', expected a non-negative integer", path, key, text);
  }
  return v;
}

bool parse_bool(const std::string& path, const std::string& key, const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw Error("'{}': metadata \"{}\" is '{}', expected true or false", path, key, text);
}

}  // namespace


void write_stats_file(const std::string& path, const StatsIdentity& id, std::int64_t first, std::int64_t images,
                      const std::vector<std::string>& names, const std::vector<PatternStats>& stats) {
  if (names.size() != stats.size()) throw Error("'{}': {} layer names for {} statistics", path, names.size(), stats.size());
  const std::map<std::string, std::string> meta = {
      {"pn.format", kStatsFormat},
      {"pn.format_version", std::to_string(kStatsFormatVersion)},
      {"pn.model_fingerprint", id.model_fingerprint},
      {"pn.estimator", id.estimator},
      {"pn.statistics", id.regimes ? "regimes" : "linear"},
      {"pn.second_moments", id.second_moments ? "true" : "false"},
      {"pn.data", id.data},
      {"pn.data_fingerprint", id.data_fingerprint},
      {"pn.samples", std::to_string(id.samples)},
      {"pn.batch", std::to_string(id.batch)},
      {"pn.preprocess", id.preprocess},
      {"pn.kernels", id.kernels},
      {"pn.threads", std::to_string(id.threads)},
      {"pn.model_path", id.model_path},
      {"pn.arch", id.arch},
      {"pn.shard", id.shard},
      {"pn.first", std::to_string(first)},
      {"pn.images", std::to_string(images)},
      {"pn.layers", nlohmann::json(names).dump()},
      {kChecksumKey, kChecksumPlaceholder},
  };
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = meta;
  std::uint64_t offset = 0;
  const auto entry = [&](const std::string& name, const Shape& shape) {
    if (header.contains(name)) throw Error("'{}': tensor name '{}' is used twice (two layers named alike?)", path, name);
    const std::uint64_t bytes = static_cast<std::uint64_t>(shape.numel()) * 8;
    header[name] = {{"dtype", "F64"},
                    {"shape", std::vector<std::int64_t>(shape.begin(), shape.end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  };
  for (std::size_t k = 0; k < stats.size(); ++k) {
    const PatternStats& s = stats[k];
    entry(names[k] + ".n", Shape{1});
    for (const Field& f : kFields) {
      if (present(f, s.has_regimes(), s.has_second_moments())) entry(names[k] + "." + f.name, shape_of(f.dims, s.inputs(), s.neurons()));
    }
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  // The checksum covers the data, which is written after the header: its placeholder is patched in
  // at the end rather than holding every layer's sums twice to compute it first.
  const std::string key = fmt::format("\"{}\":\"", kChecksumKey);
  const std::size_t at = text.find(key);
  if (at == std::string::npos) throw Error("'{}': internal error: no checksum field in the header", path);
  const std::uint64_t checksum_offset = 8 + at + key.size();

  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);
  AtomicFile out(path);
  out.write(len, 8);
  out.write(text.data(), text.size());
  Hasher h;
  h.add_u64(static_cast<std::uint64_t>(first));
  h.add_u64(static_cast<std::uint64_t>(images));
  for (const PatternStats& s : stats) {
    // One copy of one layer at a time: for VGG-16's fc6 this is the transient cost (0.8 GB linear,
    // 2.4 GB with regimes), against holding all layers twice.
    const PatternStats::Raw r = s.raw();
    out.write(&r.n, 8);
    h.add(&r.n, 8);
    for (const Field& f : kFields) {
      if (!present(f, r.regimes, r.second)) continue;
      const std::vector<double>& v = r.*f.member;
      if (static_cast<std::int64_t>(v.size()) != shape_of(f.dims, r.d, r.o).numel()) {
        throw Error("'{}': internal error: statistics array {} has {} values", path, f.name, v.size());
      }
      out.write(v.data(), v.size() * 8);
      h.add(v.data(), v.size() * 8);
    }
  }
  const std::string sum = h.hex();
  out.write_at(checksum_offset, sum.data(), sum.size());
  out.commit();
}

StatsHeader read_stats_header(const std::string& path) {
  StatsHeader hdr{path, {}, 0, 0, {}, {}, io::SafetensorsReader(path)};
  const auto& meta = hdr.file.metadata();
  const auto get = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) throw Error("'{}' is not a patternnet statistics file: its metadata lacks \"{}\"", path, key);
    return it->second;
  };
  if (get("pn.format") != kStatsFormat) {
    throw Error("'{}' is not a patternnet statistics file: pn.format is '{}', expected '{}'", path, get("pn.format"), kStatsFormat);
  }
  const std::int64_t version = parse_count(path, "pn.format_version", get("pn.format_version"));
  if (version != kStatsFormatVersion) {
    throw Error("'{}' has statistics format version {}; this patternnet reads version {}", path, version, kStatsFormatVersion);
  }
  StatsIdentity& id = hdr.identity;
  id.model_fingerprint = get("pn.model_fingerprint");
  id.estimator = get("pn.estimator");
  const std::string& kind = get("pn.statistics");
  if (kind != "linear" && kind != "regimes") throw Error("'{}': pn.statistics is '{}', expected linear or regimes", path, kind);
  id.regimes = kind == "regimes";
  id.second_moments = parse_bool(path, "pn.second_moments", get("pn.second_moments"));
  id.data = get("pn.data");
  id.data_fingerprint = get("pn.data_fingerprint");
  id.samples = parse_count(path, "pn.samples", get("pn.samples"));
  id.batch = parse_count(path, "pn.batch", get("pn.batch"));
  id.preprocess = get("pn.preprocess");
  id.kernels = get("pn.kernels");
  id.threads = static_cast<int>(parse_count(path, "pn.threads", get("pn.threads")));
  const auto optional = [&](const char* key) {
    const auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  id.model_path = optional("pn.model_path");
  id.arch = optional("pn.arch");
  id.shard = optional("pn.shard");
  hdr.first = parse_count(path, "pn.first", get("pn.first"));
  hdr.images = parse_count(path, "pn.images", get("pn.images"));
  hdr.checksum = get(kChecksumKey);
  if (hdr.checksum.size() != 16 || hdr.checksum.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw Error("'{}': pn.checksum is '{}', expected 16 hex digits", path, hdr.checksum);
  }

  nlohmann::json names;
  try {
    names = nlohmann::json::parse(get("pn.layers"));
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw Error("'{}': pn.layers is not valid JSON ({})", path, e.what());
  }
  if (!names.is_array() || names.empty()) throw Error("'{}': pn.layers must be a non-empty list of layer names", path);
  std::size_t expected_tensors = 0;
  std::set<std::string> seen;
  for (const auto& n : names) {
    // The entry's type, not its text: a hostile entry may be nested thousands of levels deep.
    if (!n.is_string()) throw Error("'{}': pn.layers must be a list of layer names, found a {}", path, n.type_name());
    StatsLayer l{n.get<std::string>(), 0, 0};
    if (!seen.insert(l.name).second) throw Error("'{}': layer '{}' appears twice in pn.layers", path, l.name);
    const auto tensor = [&](const std::string& field) -> const io::SafetensorsEntry& {
      const io::SafetensorsEntry* e = hdr.file.find(l.name + "." + field);
      if (!e) throw Error("'{}': layer '{}' lacks the tensor '{}.{}'", path, l.name, l.name, field);
      if (e->dtype != "F64") throw Error("'{}': tensor '{}.{}' is {}, expected F64", path, l.name, field, e->dtype);
      return *e;
    };
    const Shape& sx = tensor("shift_x").shape;
    const Shape& sy = tensor("shift_y").shape;
    if (sx.rank() != 1 || sy.rank() != 1 || sx.dim(0) == 0 || sy.dim(0) == 0) {
      throw Error("'{}': layer '{}': shift_x and shift_y must be non-empty vectors, got {} and {}", path, l.name, sx, sy);
    }
    l.d = sx.dim(0);
    l.o = sy.dim(0);
    if (tensor("n").shape != Shape{1}) throw Error("'{}': tensor '{}.n' must have shape (1)", path, l.name);
    ++expected_tensors;
    for (const Field& f : kFields) {
      if (!present(f, id.regimes, id.second_moments)) continue;
      const Shape want = shape_of(f.dims, l.d, l.o);
      if (tensor(f.name).shape != want) {
        throw Error("'{}': tensor '{}.{}' has shape {}, expected {}", path, l.name, f.name, tensor(f.name).shape, want);
      }
      ++expected_tensors;
    }
    hdr.layers.push_back(std::move(l));
  }
  if (hdr.file.entries().size() != expected_tensors) {
    throw Error("'{}' holds {} tensors, but its pn.layers, pn.statistics and pn.second_moments call for {}", path,
                hdr.file.entries().size(), expected_tensors);
  }
  return hdr;
}

void read_stats_sums(const StatsHeader& hdr, std::vector<PatternStats>& stats) {
  if (stats.size() != hdr.layers.size()) {
    throw Error("'{}' holds the statistics of {} layers, expected {}", hdr.path, hdr.layers.size(), stats.size());
  }
  Hasher h;
  h.add_u64(static_cast<std::uint64_t>(hdr.first));
  h.add_u64(static_cast<std::uint64_t>(hdr.images));
  for (std::size_t k = 0; k < stats.size(); ++k) {
    const StatsLayer& l = hdr.layers[k];
    stats[k] = PatternStats();  // free the old sums first: peak memory is one layer's, twice
    PatternStats::Raw r;
    r.d = l.d;
    r.o = l.o;
    r.regimes = hdr.identity.regimes;
    r.second = hdr.identity.second_moments;
    r.n = hdr.file.load_f64(l.name + ".n").at(0);
    h.add(&r.n, 8);
    for (const Field& f : kFields) {
      if (!present(f, r.regimes, r.second)) continue;
      std::vector<double>& v = r.*f.member;
      v = hdr.file.load_f64(l.name + "." + f.name);
      h.add(v.data(), v.size() * 8);
    }
    stats[k] = PatternStats::from_raw(std::move(r));
  }
  if (h.hex() != hdr.checksum) {
    throw Error("'{}' is corrupt: its contents do not match its checksum (pn.checksum {}, computed {})", hdr.path,
                hdr.checksum, h.hex());
  }
}

std::vector<std::string> identity_mismatches(const StatsIdentity& file, const StatsIdentity& run) {
  std::vector<std::string> out;
  if (file.model_fingerprint != run.model_fingerprint) {
    out.push_back(fmt::format("model: fingerprint {} in the file, {} for --model (other architecture or weights)",
                              file.model_fingerprint, run.model_fingerprint));
  }
  if (file.estimator != run.estimator) {
    out.push_back(fmt::format("estimator: '{}' in the file, --estimator '{}'", file.estimator, run.estimator));
  }
  if (file.regimes != run.regimes || file.second_moments != run.second_moments) {
    const auto kind = [](const StatsIdentity& i) {
      return fmt::format("{}{}", i.regimes ? "regimes" : "linear", i.second_moments ? " + second moments" : "");
    };
    out.push_back(fmt::format("statistics: {} in the file, {} for this run", kind(file), kind(run)));
  }
  if (file.data_fingerprint != run.data_fingerprint || file.samples != run.samples) {
    out.push_back(fmt::format("data: {} ({} samples, fingerprint {}) in the file, --data {} ({} samples, fingerprint {})",
                              file.data, file.samples, file.data_fingerprint, run.data, run.samples, run.data_fingerprint));
  }
  if (file.batch != run.batch) {
    out.push_back(fmt::format("batch: {} in the file, --batch {} (batches must be formed alike)", file.batch, run.batch));
  }
  if (file.preprocess != run.preprocess) {
    out.push_back(fmt::format("preprocessing: '{}' in the file, --preprocess '{}'", file.preprocess, run.preprocess));
  }
  return out;
}

}  // namespace pn::explain
