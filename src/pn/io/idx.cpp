#include "pn/io/idx.h"

#include "pn/core/error.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace pn::io {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const noexcept { gzclose(f); }
};

void read_exact(gzFile f, void* out, std::size_t bytes, const std::string& path, const char* what) {
  auto* p = static_cast<unsigned char*>(out);
  while (bytes > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(bytes, 1u << 30));
    const int got = gzread(f, p, chunk);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw Error("'{}': corrupt gzip data while reading the {} ({})", path, what, msg ? msg : "unknown zlib error");
    }
    if (got == 0) throw Error("'{}' ends early: the {} is incomplete", path, what);
    p += got;
    bytes -= static_cast<std::size_t>(got);
  }
}

bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

IdxArray read_idx(const std::string& path, std::int64_t max_elements) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw Error("cannot open IDX file '{}': {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("cannot read IDX file '{}': not a regular file", path);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error("cannot open IDX file '{}': {}", path, std::strerror(errno));
  unsigned char magic[4];
  read_exact(f.get(), magic, 4, path, "IDX header");
  if (magic[0] != 0 || magic[1] != 0) throw Error("'{}' is not an IDX file (magic bytes {:02x} {:02x})", path, magic[0], magic[1]);
  IdxArray a;
  a.type = magic[2];
  if (a.type != 0x08) throw Error("'{}': IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)", path, a.type);
  const int rank = magic[3];
  if (rank < 1 || rank > 4) throw Error("'{}': IDX rank {} is outside 1..4", path, rank);
  std::int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    unsigned char b[4];
    read_exact(f.get(), b, 4, path, "IDX header");
    const std::int64_t d = (std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    a.dims.push_back(d);
    if (d != 0 && n > max_elements / d) throw Error("'{}': IDX dimensions exceed {} elements", path, max_elements);
    n *= d;
  }
  // Deflate expands a byte into at most 1032 bytes, so a file of S bytes cannot hold more than
  // 1032 S bytes of data (a plain file holds S): a header declaring more is refused before any
  // allocation, whatever the stream would really decompress to.
  constexpr std::uint64_t kMaxDeflateRatio = 1032;
  if (static_cast<std::uint64_t>(n) / kMaxDeflateRatio > file_size) {
    throw Error("'{}': the IDX header declares {} bytes of data, more than a {}-byte file can hold", path, n, file_size);
  }
  // Read in chunks, growing the buffer only as data arrives: a stream that ends early (or a header
  // that lies) costs at most one chunk beyond the bytes really present, not the declared size.
  // Typical IDX data compresses 2:1 (Fashion-MNIST) to 5:1, so reserving up to 8 times the file
  // size at once reads such files without a reallocation, at a cost the file's own size bounds.
  constexpr std::size_t kChunk = std::size_t{16} << 20;
  const auto total = static_cast<std::size_t>(n);
  a.data.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(total, 8 * file_size)));
  while (a.data.size() < total) {
    const std::size_t have = a.data.size();
    const std::size_t step = std::min(kChunk, total - have);
    if (a.data.capacity() < have + step) a.data.reserve(std::min(total, std::max(have + step, 2 * a.data.capacity())));
    a.data.resize(have + step);
    read_exact(f.get(), a.data.data() + have, step, path, "IDX data");
  }
  unsigned char extra;
  if (gzread(f.get(), &extra, 1) != 0) throw Error("'{}': data continues past the {} elements the header declares", path, n);
  return a;
}

std::string fashion_mnist_dir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv(kFashionMnistEnv); env != nullptr && *env != '\0') return env;
  return kFashionMnistDefaultDir;
}

LabelledImages load_fashion_mnist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test") throw Error("Fashion-MNIST split must be 'train' or 'test', got '{}'", split);
  if (!is_dir(dir)) {
    throw Error("Fashion-MNIST folder '{}' does not exist; install the Debian package dataset-fashion-mnist "
                "(scripts/deps does) or point --data-dir / ${} at a folder with the four IDX files",
                dir, kFashionMnistEnv);
  }
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  for (const auto& p : {images_path, labels_path}) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) {
      throw Error("Fashion-MNIST file '{}' is missing; the Debian package dataset-fashion-mnist provides it", p);
    }
  }
  const IdxArray img = read_idx(images_path);
  const IdxArray lab = read_idx(labels_path);
  if (img.dims.size() != 3 || img.dims[1] != 28 || img.dims[2] != 28) {
    throw Error("'{}': expected images of shape (N, 28, 28)", images_path);
  }
  if (lab.dims.size() != 1 || lab.dims[0] != img.dims[0]) {
    throw Error("'{}' has {} labels for {} images in '{}'", labels_path, lab.dims.empty() ? 0 : lab.dims[0], img.dims[0], images_path);
  }
  LabelledImages out{Tensor(Shape{img.dims[0], 1, 28, 28}), {}};
  for (std::size_t i = 0; i < img.data.size(); ++i) out.images[static_cast<std::int64_t>(i)] = static_cast<float>(img.data[i]) / 255.0f;
  out.labels.resize(lab.data.size());
  for (std::size_t i = 0; i < lab.data.size(); ++i) {
    if (lab.data[i] > 9) throw Error("'{}': label {} at index {} is outside 0..9", labels_path, lab.data[i], i);
    out.labels[i] = lab.data[i];
  }
  return out;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace pn::io
