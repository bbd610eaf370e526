// IDX files (the MNIST family's format), gzip-compressed as Debian's dataset-fashion-mnist ships
// them, read with zlib; and the Fashion-MNIST data set built from them. Chapter 2.
// Images become an (N, 1, 28, 28) float tensor scaled to [0, 1]; labels a vector of class indices.
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::io {

struct IdxArray {
  std::uint8_t type = 0;             // 0x08 = unsigned byte (the only type read here)
  std::vector<std::int64_t> dims;    // big-endian dimension sizes from the header
  std::vector<std::uint8_t> data;
};

// Reads a gzip-compressed (or plain) IDX file of unsigned bytes. Errors name the file and what
// is wrong: a corrupt gzip stream, a bad magic number, dimensions that disagree with the data.
// Limits against hostile files: at most max_elements elements (product checked without overflow),
// no more declared bytes than the file could decompress to (deflate's 1032:1 ratio), and memory
// that grows with the bytes actually decompressed, never past the declared size.
IdxArray read_idx(const std::string& path, std::int64_t max_elements = std::int64_t{1} << 32);

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kFashionMnistEnv = "PN_FASHION_MNIST_DIR";

struct LabelledImages {
  Tensor images;                    // (N, 1, 28, 28) in [0, 1]
  std::vector<std::int32_t> labels;  // N class indices 0..9
};

// The folder to read Fashion-MNIST from: the flag value if non-empty, else $PN_FASHION_MNIST_DIR,
// else the Debian package's folder.
std::string fashion_mnist_dir(const std::string& flag_value = {});

// split: "train" (60000 images) or "test" (10000). A missing folder or file is an error with a hint
// to install the Debian package dataset-fashion-mnist.
LabelledImages load_fashion_mnist(const std::string& dir, const std::string& split);

// The ten class names, index = label.
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace pn::io
