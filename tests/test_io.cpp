// Chapter 2: the file formats. Round trips, exact dtype conversions, and every kind of bad file
// the readers must refuse with a message that names the problem.
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "test_files.h"
#include "pn/core/rng.h"
#include "pn/io/idx.h"
#include "pn/io/npy.h"
#include "pn/io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace {

using pntest::message_of;
using pntest::TempDir;

using ::testing::HasSubstr;
using pn::Shape;
using pn::Tensor;
namespace fs = std::filesystem;


void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header text and raw data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }


Tensor random_tensor(Shape s, std::uint64_t seed) {
  pn::Rng rng(seed);
  Tensor t(s);
  rng.fill_uniform(t.values(), -3.0f, 3.0f);
  return t;
}

TEST(Safetensors, RoundTripWithMetadata) {
  TempDir dir;
  const Tensor a = random_tensor(Shape{2, 3, 4, 5}, 1), b = random_tensor(Shape{7}, 2);
  const std::vector<double> d = {1.0 / 3.0, -2.5e-300, 1e300};
  pn::io::write_safetensors_items(dir.file("m.safetensors"), {{"a", &a, nullptr, {}}, {"b", &b, nullptr, {}}, {"d", nullptr, &d, Shape{3}}},
                            {{"k", "v"}, {"pn.architecture", "{}"}});
  pn::io::SafetensorsReader r(dir.file("m.safetensors"));
  ASSERT_EQ(r.entries().size(), 3u);
  EXPECT_EQ(r.entries()[0].name, "a");  // file order kept
  EXPECT_EQ(r.metadata().at("k"), "v");
  const Tensor a2 = r.load("a"), b2 = r.load("b");
  ASSERT_EQ(a2.shape(), a.shape());
  EXPECT_EQ(std::memcmp(a2.data(), a.data(), 4 * static_cast<std::size_t>(a.numel())), 0);
  EXPECT_EQ(std::memcmp(b2.data(), b.data(), 4 * static_cast<std::size_t>(b.numel())), 0);
  EXPECT_EQ(r.load_f64("d"), d);  // doubles survive bit for bit
  EXPECT_THAT(message_of([&] { (void)r.load("nope"); }), HasSubstr("no tensor named 'nope'"));
  EXPECT_EQ(dir.count(), 1u);  // no temporary file left behind
}

TEST(Safetensors, HalfAndBfloat16Conversions) {
  using pn::io::half_to_float;
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(pn::io::bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(pn::io::bfloat16_to_float(0xc049), -3.140625f);
}

TEST(Safetensors, ReadsF16BF16AndF64Files) {
  TempDir dir;
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
      R"("d":{"dtype":"F64","shape":[1,1],"data_offsets":[6,14]}})";
  double dv = -0.1;
  std::string data = std::string("\x00\x3c\x00\xc0", 4) + std::string("\x80\x3f", 2) + std::string(reinterpret_cast<char*>(&dv), 8);
  write_bytes(dir.file("x.safetensors"), safetensors_bytes(header, data));
  pn::io::SafetensorsReader r(dir.file("x.safetensors"));
  const Tensor h = r.load("h");
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(r.load("b")[0], 1.0f);
  EXPECT_EQ(r.load("d")[0], static_cast<float>(-0.1));
  EXPECT_EQ(r.load("d").shape(), (Shape{1, 1}));
}

struct BadFile {
  const char* label;
  std::string bytes;
  const char* expect;
};

TEST(Safetensors, RefusesBadFiles) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  const std::vector<BadFile> cases = {
      {"empty", "", "shorter than the 8-byte header length"},
      {"short", "abc", "shorter than the 8-byte header length"},
      {"header past end", le64(1000) + "{}", "truncated"},
      {"oversized header", le64(std::uint64_t{1} << 40) + "{}", "exceeds the limit"},
      {"not json", safetensors_bytes("{not json", ""), "not valid JSON"},
      {"not an object", safetensors_bytes("[1,2]", ""), "must be a JSON object"},
      {"missing key", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", data8), "needs dtype, shape and data_offsets"},
      {"unknown key", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", data8), "unknown key 'x'"},
      {"unknown dtype", safetensors_bytes(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data8), "unknown dtype 'F33'"},
      {"negative dim", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "non-negative integers"},
      {"rank 5", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]}})", data8), "rank 5"},
      {"huge shape", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8), "larger than the file"},
      {"offsets outside", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data8), "outside the 8-byte data section"},
      {"offsets reversed", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8), "outside"},
      {"byte count", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "needs 12 bytes but data_offsets give 8"},
      {"dtype vs bytes", safetensors_bytes(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", data8), "needs 16 bytes"},
      {"overlap", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "overlaps"},
      {"hole", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "belong to no tensor"},
      {"trailing bytes", safetensors_bytes(ok, data8 + "xxxx"), "the tensors cover 8"},
      {"metadata not strings", safetensors_bytes(R"({"__metadata__":{"k":1}})", ""), "is not a string"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    const std::string path = dir.file("bad.safetensors");
    write_bytes(path, c.bytes);
    EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr(c.expect)) << c.label;
  }
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(dir.file("missing.safetensors")); }), HasSubstr("cannot open"));
  // A well-formed file with a dtype patternnet does not compute in: listing works, loading names it.
  write_bytes(dir.file("i64.safetensors"), safetensors_bytes(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", data8));
  pn::io::SafetensorsReader r(dir.file("i64.safetensors"));
  EXPECT_THAT(message_of([&] { (void)r.load("n"); }), HasSubstr("dtype I64"));
}

TEST(Safetensors, WriterRefusesDuplicateNamesAndLeavesNoFile) {
  TempDir dir;
  const Tensor a = random_tensor(Shape{2}, 3);
  EXPECT_THAT(message_of([&] { pn::io::write_safetensors(dir.file("d.safetensors"), {{"a", &a}, {"a", &a}}); }),
              HasSubstr("used twice"));
  EXPECT_EQ(dir.count(), 0u);
}

TEST(Npy, RoundTripAndFloat64) {
  TempDir dir;
  for (const Shape& s : {Shape{5}, Shape{2, 3}, Shape{2, 3, 4, 5}, Shape{}}) {
    const Tensor t = random_tensor(s, 7);
    pn::io::write_npy(dir.file("t.npy"), t);
    const Tensor u = pn::io::read_npy(dir.file("t.npy"));
    ASSERT_EQ(u.shape(), t.shape());
    EXPECT_EQ(std::memcmp(u.data(), t.data(), 4 * static_cast<std::size_t>(t.numel())), 0);
    std::ifstream in(dir.file("t.npy"), std::ios::binary);
    std::string head(10, '\0');
    in.read(head.data(), 10);
    const std::size_t hl = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
    EXPECT_EQ((10 + hl) % 64, 0u);  // NumPy aligns the data to 64 bytes
  }
  // float64 written the way NumPy does, format 2.0.
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }";
  dict.append(64 - (12 + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  const auto len = static_cast<std::uint32_t>(dict.size());
  bytes.append(reinterpret_cast<const char*>(&len), 4);
  bytes += dict;
  const double v[2] = {0.1, -7.0};
  bytes.append(reinterpret_cast<const char*>(v), 16);
  write_bytes(dir.file("d.npy"), bytes);
  const Tensor d = pn::io::read_npy(dir.file("d.npy"));
  EXPECT_EQ(d.shape(), (Shape{2, 1}));
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], -7.0f);
}

std::string npy_v1(const std::string& dict, const std::string& data) {
  std::string h = dict;
  h += '\n';
  std::string b = std::string("\x93NUMPY\x01\x00", 8);
  b += static_cast<char>(h.size() & 0xff);
  b += static_cast<char>(h.size() >> 8);
  return b + h + data;
}

TEST(Npy, RefusesBadFiles) {
  TempDir dir;
  const std::string f8(8, '\0');
  const std::vector<BadFile> cases = {
      {"magic", "NOTNUMPY", "bad magic"},
      {"version", std::string("\x93NUMPY\x07\x00\x00\x00", 10), "unsupported .npy format version 7"},
      {"fortran", npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f8), "Fortran-order"},
      {"int dtype", npy_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", f8), "dtype '<i4'"},
      {"big endian", npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f8), "dtype '>f4'"},
      {"short data", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f8), "needs 12 bytes"},
      {"long data", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f8), "needs 4 bytes"},
      {"rank 5", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 2), }", f8), "more than 4 dimensions"},
      {"unknown key", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }", f8), "unknown .npy header key"},
      {"bad shape", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f8), "malformed"},
      {"missing", npy_v1("{'descr': '<f4', 'shape': (2,), }", f8), "lacks descr"},
      {"header too long", std::string("\x93NUMPY\x01\x00\xff\xff", 10), "does not fit"},
  };
  for (const auto& c : cases) {
    write_bytes(dir.file("bad.npy"), c.bytes);
    EXPECT_THAT(message_of([&] { (void)pn::io::read_npy(dir.file("bad.npy")); }), HasSubstr(c.expect)) << c.label;
  }
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

std::string idx_header(std::uint8_t rank, std::vector<std::uint32_t> dims) {
  std::string h = {'\0', '\0', '\x08', static_cast<char>(rank)};
  for (auto d : dims) {
    for (int i = 3; i >= 0; --i) h += static_cast<char>((d >> (8 * i)) & 0xff);
  }
  return h;
}

TEST(Idx, ReadsGzipAndRefusesCorruption) {
  TempDir dir;
  write_gz(dir.file("ok.gz"), idx_header(2, {2, 3}) + std::string("\x01\x02\x03\x04\x05\xff", 6));
  const auto a = pn::io::read_idx(dir.file("ok.gz"));
  EXPECT_EQ(a.dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.data.back(), 255);
  const std::vector<BadFile> cases = {
      {"magic", "\x01\x02\x08\x01", "not an IDX file"},
      {"type", std::string("\0\0\x0d\x01\0\0\0\x01", 8) + "aaaa", "element type 0x0d"},
      {"short", idx_header(1, {10}) + "abc", "ends early"},
      {"long", idx_header(1, {2}) + "abc", "continues past"},
      {"huge", idx_header(4, {65535, 65535, 65535, 65535}), "exceed"},
  };
  for (const auto& c : cases) {
    write_gz(dir.file("bad.gz"), c.bytes);
    EXPECT_THAT(message_of([&] { (void)pn::io::read_idx(dir.file("bad.gz")); }), HasSubstr(c.expect)) << c.label;
  }
  // A gzip stream whose body is garbage.
  std::string gz = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
  gz += std::string(64, '\xAB');
  write_bytes(dir.file("corrupt.gz"), gz);
  EXPECT_THAT(message_of([&] { (void)pn::io::read_idx(dir.file("corrupt.gz")); }), HasSubstr("corrupt gzip"));
}

TEST(FashionMnist, MissingFolderNamesThePackage) {
  EXPECT_THAT(message_of([] { (void)pn::io::load_fashion_mnist("/nonexistent/fmnist", "train"); }),
              HasSubstr("dataset-fashion-mnist"));
  TempDir dir;
  EXPECT_THAT(message_of([&] { (void)pn::io::load_fashion_mnist(dir.file(""), "test"); }), HasSubstr("is missing"));
  EXPECT_THAT(message_of([&] { (void)pn::io::load_fashion_mnist(dir.file(""), "validation"); }), HasSubstr("'train' or 'test'"));
}

TEST(FashionMnist, FolderFromFlagEnvironmentOrDefault) {
  ::unsetenv(pn::io::kFashionMnistEnv);
  EXPECT_EQ(pn::io::fashion_mnist_dir(), pn::io::kFashionMnistDefaultDir);
  ::setenv(pn::io::kFashionMnistEnv, "/data/fm", 1);
  EXPECT_EQ(pn::io::fashion_mnist_dir(), "/data/fm");
  EXPECT_EQ(pn::io::fashion_mnist_dir("/flag"), "/flag");
  ::unsetenv(pn::io::kFashionMnistEnv);
}

TEST(FashionMnist, TheDebianPackageLoads) {
  if (!fs::exists(pn::io::kFashionMnistDefaultDir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto test = pn::io::load_fashion_mnist(pn::io::kFashionMnistDefaultDir, "test");
  EXPECT_EQ(test.images.shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(test.labels.size(), 10000u);
  std::vector<int> counts(10);
  for (auto l : test.labels) ++counts[static_cast<std::size_t>(l)];
  for (int c : counts) EXPECT_EQ(c, 1000);  // the test set is balanced
  float lo = 1, hi = 0;
  for (float v : test.images.values()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
}

TEST(AtomicFile, NoOutputWithoutCommitAndClearErrors) {
  TempDir dir;
  {
    pn::AtomicFile f(dir.file("out.bin"));
    f.write("abc", 3);
  }  // destroyed without commit, as on an exception
  EXPECT_EQ(dir.count(), 0u);
  pn::write_file_atomic(dir.file("out.txt"), "old");
  {
    pn::AtomicFile f(dir.file("out.txt"));
    f.write("new but unfinished", 18);
  }
  std::ifstream in(dir.file("out.txt"));
  std::string s;
  std::getline(in, s);
  EXPECT_EQ(s, "old");  // an interrupted write never touches the existing file
  EXPECT_THAT(message_of([] { pn::AtomicFile f("/nonexistent-dir/x.bin"); }), HasSubstr("/nonexistent-dir/x.bin"));
}

}  // namespace
