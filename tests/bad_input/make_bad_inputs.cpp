// Writes the files of the bad-input suite (tests/bad_input/bad_input.cmake) into one folder: a
// valid random-weight mlp with its patterns and an input batch, and next to them every kind of
// hostile or mistaken file a user might hand the patternnet program. Each hostile file differs from
// a valid one in exactly the way its name says, so the error the suite expects is the only one the
// program can report.
//
// Usage: make_bad_inputs FOLDER
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/explain/patterns.h"
#include "pn/io/npy.h"
#include "pn/io/safetensors.h"
#include "pn/nn/builders.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw pn::Error("make_bad_inputs: cannot write '{}'", path.string());
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.string().c_str(), "wb");
  if (!f) throw pn::Error("make_bad_inputs: cannot write '{}'", path.string());
  const int n = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  if (gzclose(f) != Z_OK || n != static_cast<int>(bytes.size())) throw pn::Error("make_bad_inputs: cannot write '{}'", path.string());
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  for (std::size_t i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return s;
}

// A safetensors file from its JSON header and data section.
std::string safetensors(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// A version-1 .npy file with the given header dictionary and data bytes.
std::string npy(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string s = "\x93NUMPY";
  s.push_back('\x01');
  s.push_back('\x00');
  s.push_back(static_cast<char>(header.size() & 0xff));
  s.push_back(static_cast<char>(header.size() >> 8));
  return s + header + data;
}

pn::Tensor uniform(pn::Shape shape, std::uint64_t seed) {
  pn::Rng rng(seed);
  pn::Tensor t(shape);
  for (float& v : t.values()) v = static_cast<float>(rng.uniform(0.0, 1.0));
  return t;
}

pn::nn::Sequential random_mlp(std::uint64_t seed) {
  pn::nn::Sequential m = pn::nn::build_mlp();
  pn::Rng rng(seed);
  m.init(rng);
  return m;
}

// Patterns of the right shapes for every kernel layer (a = w), bound to the model's fingerprint.
pn::explain::Patterns weight_patterns(const pn::nn::Sequential& m) {
  pn::explain::Patterns p;
  p.estimator = pn::explain::Estimator::linear;
  p.model_fingerprint = m.fingerprint();
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!m.layer(i).spec.has_params()) continue;
    pn::explain::LayerPatterns lp;
    lp.layer = m.layer(i).spec.name;
    lp.a = m.layer(i).weight.value().clone();
    lp.rows = 1;
    p.layers.push_back(std::move(lp));
  }
  return p;
}

// The four gzip'd IDX files of a Fashion-MNIST folder, each made by `make(name, magic, dims)`.
template <class Make>
void fashion_folder(const fs::path& dir, Make make) {
  fs::create_directories(dir);
  make(dir / "train-images-idx3-ubyte.gz", 0x803u, std::vector<std::uint32_t>{60000, 28, 28});
  make(dir / "train-labels-idx1-ubyte.gz", 0x801u, std::vector<std::uint32_t>{60000});
  make(dir / "t10k-images-idx3-ubyte.gz", 0x803u, std::vector<std::uint32_t>{10000, 28, 28});
  make(dir / "t10k-labels-idx1-ubyte.gz", 0x801u, std::vector<std::uint32_t>{10000});
}

void make_all(const fs::path& dir) {
  fs::create_directories(dir);
  // The valid files every test starts from.
  const pn::nn::Sequential model = random_mlp(1);
  pn::nn::save_model((dir / "model.safetensors").string(), model);
  pn::nn::save_model((dir / "other_model.safetensors").string(), random_mlp(2));
  pn::explain::save_patterns((dir / "patterns.safetensors").string(), weight_patterns(model));
  const pn::Tensor x = uniform(pn::Shape{2, 1, 28, 28}, 3);
  pn::io::write_npy((dir / "x.npy").string(), x);
  const std::string x_data(reinterpret_cast<const char*>(x.data()), static_cast<std::size_t>(x.numel()) * sizeof(float));
  const std::string arch = model.architecture_json();

  // Model files.
  const std::string good = read_bytes(dir / "model.safetensors");
  write_bytes(dir / "model_truncated.safetensors", good.substr(0, good.size() / 2));
  write_bytes(dir / "model_header_past_end.safetensors", le64(4096) + R"({"a":)");
  write_bytes(dir / "model_header_too_large.safetensors", le64(std::uint64_t{1} << 40) + "{}");
  const auto meta = [&](const std::string& a) {
    std::string quoted;
    for (char c : a) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    return R"("__metadata__":{"pn.architecture":")" + quoted + R"("})";
  };
  const std::string data16(16, '\0');
  write_bytes(dir / "model_offsets_outside.safetensors",
              safetensors("{" + meta(arch) + R"(,"fc1.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,4000000]}})", data16));
  write_bytes(dir / "model_offsets_overlap.safetensors",
              safetensors("{" + meta(arch) + R"(,"fc1.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                              R"("fc2.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                          data16));
  write_bytes(dir / "model_dtype_bytes.safetensors",
              safetensors("{" + meta(arch) + R"(,"fc1.bias":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]},)"
                              R"("pad":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                          data16));
  write_bytes(dir / "model_unknown_dtype.safetensors",
              safetensors("{" + meta(arch) + R"(,"fc1.bias":{"dtype":"Q4","shape":[16],"data_offsets":[0,16]}})", data16));
  {
    pn::nn::Sequential nan = random_mlp(1);
    nan.layer(nan.size() - 1).weight.mutable_value()[5] = std::numeric_limits<float>::quiet_NaN();
    pn::nn::save_model((dir / "model_nan.safetensors").string(), nan);
  }
  {
    std::vector<std::pair<std::string, const pn::Tensor*>> tensors;
    for (std::size_t i = 0; i < model.size(); ++i) {
      if (!model.layer(i).spec.has_params()) continue;
      tensors.emplace_back(model.layer(i).spec.name + ".weight", &model.layer(i).weight.value());
      tensors.emplace_back(model.layer(i).spec.name + ".bias", &model.layer(i).bias.value());
    }
    pn::io::write_safetensors((dir / "model_no_architecture.safetensors").string(), tensors);
    // The same tensors with an architecture that has one unknown key, one unknown layer kind, or
    // that misses a tensor / has one of the wrong shape.
    const auto with_arch = [&](const std::string& name, const std::string& a, std::size_t drop = 0) {
      auto t = tensors;
      t.resize(t.size() - drop);
      pn::io::write_safetensors((dir / name).string(), t, {{pn::nn::kArchitectureKey, a}});
    };
    std::string unknown_key = arch;
    unknown_key.insert(unknown_key.find(R"("type")"), R"("activation": "gelu", )");
    with_arch("model_unknown_key.safetensors", unknown_key);
    std::string unknown_layer = arch;
    unknown_layer.replace(unknown_layer.find(R"("relu")"), 6, R"("batchnorm2d")");
    with_arch("model_unknown_layer.safetensors", unknown_layer);
    with_arch("model_missing_tensor.safetensors", arch, 1);
    const pn::Tensor transposed = pn::Tensor::zeros(pn::Shape{784, model.layer(1).spec.out});
    auto t = tensors;
    t[0].second = &transposed;
    pn::io::write_safetensors((dir / "model_wrong_shape.safetensors").string(), t, {{pn::nn::kArchitectureKey, arch}});
  }

  // Input batches.
  write_bytes(dir / "x_fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1, 28, 28), }", x_data));
  write_bytes(dir / "x_int32.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }", x_data));
  write_bytes(dir / "x_truncated.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }", x_data.substr(0, 1000)));
  write_bytes(dir / "x_wrong_shape.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", std::string(24, '\0')));
  write_bytes(dir / "x_garbage.npy", "this is a text file, not a NumPy array\n");
  for (const auto& [name, value] : {std::pair{"x_nan.npy", std::numeric_limits<float>::quiet_NaN()},
                                    std::pair{"x_inf.npy", std::numeric_limits<float>::infinity()}}) {
    pn::Tensor bad = x.clone();
    bad[900] = value;
    pn::io::write_npy((dir / name).string(), bad);
  }

  // Images: bytes that are no image, and a BMP header claiming 30000 x 30000 pixels.
  write_bytes(dir / "image_corrupt.png", "\x89PNG\r\n\x1a\n this stream ends here");
  {
    std::string bmp = "BM" + std::string(12, '\0');
    std::string info(40, '\0');
    const auto put32 = [&](std::size_t at, std::uint32_t v) {
      for (std::size_t i = 0; i < 4; ++i) info[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    put32(0, 40), put32(4, 30000), put32(8, 30000);
    info[12] = 1, info[14] = 24;
    bmp[10] = 54;
    write_bytes(dir / "image_huge.bmp", bmp + info + std::string(64, '\0'));
  }

  // Patterns: NaN in an otherwise valid file.
  {
    pn::explain::Patterns p = weight_patterns(model);
    p.layers[1].a[3] = std::numeric_limits<float>::quiet_NaN();
    pn::explain::save_patterns((dir / "patterns_nan.safetensors").string(), p);
  }

  // Fashion-MNIST folders: empty, corrupt gzip, wrong IDX magic, a header promising more images
  // than the file holds.
  fs::create_directories(dir / "data_empty");
  fashion_folder(dir / "data_corrupt_gzip", [](const fs::path& p, std::uint32_t, const std::vector<std::uint32_t>&) {
    write_bytes(p, std::string("\x1f\x8b\x08\x00", 4) + "not deflate data at all");
  });
  fashion_folder(dir / "data_bad_magic", [](const fs::path& p, std::uint32_t, const std::vector<std::uint32_t>& dims) {
    std::string s = be32(0x12340000u | 0x0800u | static_cast<std::uint32_t>(dims.size()));
    for (std::uint32_t d : dims) s += be32(d);
    write_gz(p, s);
  });
  fashion_folder(dir / "data_truncated", [](const fs::path& p, std::uint32_t magic, const std::vector<std::uint32_t>& dims) {
    std::string s = be32(magic);
    for (std::uint32_t d : dims) s += be32(d);
    write_gz(p, s + std::string(100, '\0'));
  });

  // An output path that is a folder.
  fs::create_directories(dir / "out_is_a_folder.npy");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc != 2) throw pn::Error("usage: make_bad_inputs FOLDER");
    make_all(argv[1]);
    fmt::print("bad-input files written to {}\n", argv[1]);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_bad_inputs: error: {}\n", e.what());
    return 1;
  }
}
