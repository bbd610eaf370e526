// Chapter 2 (issue 8): hostile input files. Every resource limit of the readers (safetensors, .npy,
// gzip'd IDX, images, the pn.architecture JSON) is refused with a pn::Error that names the file and
// the problem, before the reader allocates what the file claims: the tests also bound the growth
// of the process's peak memory. The Regression tests replay inputs found by the fuzzers of fuzz/.
#include "pn/core/error.h"
#include "pn/explain/patterns.h"
#include "pn/explain/stats_checkpoint.h"
#include "pn/io/idx.h"
#include "pn/io/image.h"
#include "pn/io/npy.h"
#include "pn/io/safetensors.h"
#include "pn/nn/model_io.h"
#include "pn/nn/sequential.h"
#include "pn/core/rng.h"
#include "test_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace {

using pntest::message_of;
using pntest::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return s;
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string safetensors_bytes(const std::string& header, const std::string& data = {}) {
  return le64(header.size()) + header + data;
}

// Peak resident memory of this process so far. ctest runs every test in its own process, so the
// growth across one refusal is what that refusal cost.
std::int64_t peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) / 1024;  // KiB on Linux
}

// The message of the pn::Error f throws, checking that refusing cost less than `mib` MiB.
template <class F>
std::string refused_within(std::int64_t mib, F&& f) {
  const std::int64_t before = peak_rss_mib();
  const std::string msg = message_of(f);
  EXPECT_LT(peak_rss_mib() - before, mib) << "refusing the file allocated what it claims: " << msg;
  return msg;
}

// A deeply nested JSON array: [[[...]]] with `depth` levels.
std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// --- safetensors ----------------------------------------------------------------------------------

TEST(HostileSafetensors, HeaderLengthOf2To60FailsFast) {
  TempDir dir;
  const std::string path = dir.file("h.safetensors");
  write_bytes(path, le64(std::uint64_t{1} << 60) + "{}");
  const std::string msg = refused_within(16, [&] { pn::io::SafetensorsReader r(path); });
  EXPECT_THAT(msg, AllOf(HasSubstr(path), HasSubstr("header of 1152921504606846976 bytes exceeds the limit of 104857600")));
  write_bytes(path, le64(~std::uint64_t{0}) + "{}");
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr("exceeds the limit"));
}

TEST(HostileSafetensors, HeaderInsideTheLimitButPastTheEndFailsFast) {
  TempDir dir;
  const std::string path = dir.file("h.safetensors");
  write_bytes(path, le64(std::uint64_t{99} << 20) + "{}");
  const std::string msg = refused_within(16, [&] { pn::io::SafetensorsReader r(path); });
  EXPECT_THAT(msg, AllOf(HasSubstr(path), HasSubstr("truncated: the header claims 103809024 bytes but only 2 follow")));
}

TEST(HostileSafetensors, ShapeProductsCannotOverflow) {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  const std::string data8(8, '\0');
  // 2^32 x 2^32 x 2^32 wraps to 0 in 64 bits: every partial product is bounded by the data size.
  write_bytes(path, safetensors_bytes(
                        R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", data8));
  EXPECT_THAT(refused_within(16, [&] { pn::io::SafetensorsReader r(path); }),
              AllOf(HasSubstr(path), HasSubstr("tensor 'a': shape dimension 0 (4294967296) makes it larger than the file (8 bytes")));
  write_bytes(path, safetensors_bytes(
                        R"({"a":{"dtype":"U8","shape":[2,4294967296,4294967296],"data_offsets":[0,8]}})", data8));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr("shape dimension 1 (4294967296) makes it larger"));
  // A dimension above 2^63 cannot become a negative int64.
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]}})", data8));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr("makes it larger than the file"));
  // Zero times anything is fine, and so is a scalar.
  write_bytes(path, safetensors_bytes(
                        R"({"z":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})",
                        data8));
  const pn::io::SafetensorsReader r(path);
  EXPECT_EQ(r.load("z").numel(), 0);
  EXPECT_EQ(r.load("s").numel(), 1);
}

TEST(HostileSafetensors, RankAndOffsetLimits) {
  TempDir dir;
  const std::string path = dir.file("r.safetensors");
  const std::string data8(8, '\0');
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,8],"data_offsets":[0,8]}})", data8));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr("tensor 'a' has rank 9; patternnet supports rank <= 4"));
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,18446744073709551615]}})", data8));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }),
              HasSubstr("data_offsets [0, 18446744073709551615] lie outside the 8-byte data section"));
}

TEST(HostileSafetensors, ManyTensorsAreFoundByName) {
  // find() is a binary search: a header with many tensors must not make lookups quadratic, and
  // every name must still be found (and only those names).
  TempDir dir;
  const std::string path = dir.file("many.safetensors");
  std::string header = "{";
  constexpr int kCount = 20000;
  for (int i = 0; i < kCount; ++i) {
    if (i) header += ',';
    header += fmt::format(R"("t{}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", i);
  }
  header += "}";
  write_bytes(path, safetensors_bytes(header));
  const pn::io::SafetensorsReader r(path);
  ASSERT_EQ(r.entries().size(), static_cast<std::size_t>(kCount));
  for (const auto& e : r.entries()) ASSERT_EQ(r.find(e.name), &e) << e.name;
  EXPECT_EQ(r.find("t20000"), nullptr);
  EXPECT_EQ(r.find(""), nullptr);
  EXPECT_NE(r.find("t0"), nullptr);
}

// --- .npy -----------------------------------------------------------------------------------------

std::string npy(int version, const std::string& dict, const std::string& data) {
  std::string b = std::string("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
  if (version == 1) {
    b += static_cast<char>(dict.size() & 0xff);
    b += static_cast<char>(dict.size() >> 8);
  } else {
    b += le32(static_cast<std::uint32_t>(dict.size()));
  }
  return b + dict + data;
}

TEST(HostileNpy, HeaderLengthLimit) {
  TempDir dir;
  const std::string path = dir.file("h.npy");
  // Format 2.0 has a 4-byte header length: 4 GiB claimed by 12 bytes.
  write_bytes(path, std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12));
  EXPECT_THAT(refused_within(16, [&] { (void)pn::io::read_npy(path); }),
              AllOf(HasSubstr(path), HasSubstr(".npy header of 4294967295 bytes exceeds the limit of 1048576 bytes")));
  // Inside the limit but longer than the file.
  write_bytes(path, std::string("\x93NUMPY\x02\x00\x00\x00\x0f\x00", 12));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_npy(path); }), HasSubstr("header length 983040 does not fit the 12-byte file"));
}

TEST(HostileNpy, ShapeProductOverflowIsRefused) {
  TempDir dir;
  const std::string path = dir.file("s.npy");
  write_bytes(path, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", ""));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_npy(path); }),
              AllOf(HasSubstr(path), HasSubstr(".npy shape: size 4294967296 x 4294967296 overflows 64 bits")));
}

TEST(HostileNpy, ShapeLargerThanTheFileFailsFast) {
  TempDir dir;
  const std::string path = dir.file("s.npy");
  write_bytes(path, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }", std::string(8, '\0')));
  EXPECT_THAT(refused_within(16, [&] { (void)pn::io::read_npy(path); }),
              AllOf(HasSubstr(path), HasSubstr("needs 4000000000000 bytes of data, the file has 8")));
  // 3e18 elements fit int64, but not their 2.4e19 bytes.
  write_bytes(path, npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000000, 30000), }", std::string(8, '\0')));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_npy(path); }), HasSubstr("needs more than 2^64 bytes of data, the file has 8"));
}

TEST(HostileNpy, RepeatedKeysAndLongHeaders) {
  TempDir dir;
  const std::string path = dir.file("k.npy");
  write_bytes(path, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (1, 1), }", std::string(4, '\0')));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_npy(path); }), HasSubstr(".npy header key 'shape' appears twice"));
  // A malformed header is quoted, but only its start.
  write_bytes(path, npy(1, "{'descr' " + std::string(60000, 'x') + "}", ""));
  const std::string msg = message_of([&] { (void)pn::io::read_npy(path); });
  EXPECT_THAT(msg, HasSubstr("malformed .npy header"));
  EXPECT_LT(msg.size(), 600u);
}

// --- gzip'd IDX -----------------------------------------------------------------------------------

std::string idx_header(std::vector<std::uint32_t> dims) {
  std::string h = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (auto d : dims) h += be32(d);
  return h;
}

TEST(HostileIdx, DimensionProductIsBounded) {
  TempDir dir;
  const std::string path = dir.file("d.gz");
  write_gz(path, idx_header({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_idx(path); }), AllOf(HasSubstr(path), HasSubstr("IDX dimensions exceed 4294967296 elements")));
}

TEST(HostileIdx, DeclaredSizeBeyondWhatTheFileCanHoldFailsFast) {
  // Fashion-MNIST's header in a file of a few dozen bytes: 47 MB cannot inflate from it.
  TempDir dir;
  const std::string path = dir.file("bomb.gz");
  write_gz(path, idx_header({60000, 28, 28}) + "abc");
  const std::string msg = refused_within(16, [&] { (void)pn::io::read_idx(path); });
  EXPECT_THAT(msg, AllOf(HasSubstr(path), HasSubstr("the IDX header declares 47040000 bytes of data, more than a")));
  EXPECT_THAT(msg, HasSubstr("-byte file can hold"));
}

TEST(HostileIdx, AStreamThatEndsEarlyCostsOnlyWhatItHolds) {
  // 256 KiB of incompressible bytes under a header declaring 200 MB: plausible for the file size
  // (deflate could expand it that far), so the reader must find out by reading, and must not
  // allocate the declared 200 MB on the way.
  TempDir dir;
  const std::string path = dir.file("short.gz");
  std::string data(256 << 10, '\0');
  std::uint64_t state = 99;
  for (char& c : data) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  write_gz(path, idx_header({200, 1000, 1000}) + data);
  EXPECT_THAT(refused_within(64, [&] { (void)pn::io::read_idx(path); }),
              AllOf(HasSubstr(path), HasSubstr("ends early: the IDX data is incomplete")));
}

TEST(HostileIdx, DataPastTheDeclaredSizeIsRefused) {
  TempDir dir;
  const std::string path = dir.file("long.gz");
  write_gz(path, idx_header({4}) + std::string(1 << 20, '\0'));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_idx(path); }), HasSubstr("data continues past the 4 elements the header declares"));
  write_gz(path, idx_header({2, 2}) + "abcd");  // and the honest file still reads
  EXPECT_EQ(pn::io::read_idx(path).data.size(), 4u);
}

// --- images ---------------------------------------------------------------------------------------

std::string png_chunk(const std::string& type, const std::string& body) {
  const std::string tb = type + body;
  const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(tb.data()), static_cast<uInt>(tb.size())));
  return be32(static_cast<std::uint32_t>(body.size())) + tb + be32(crc);
}

// A PNG that is all header: IHDR (8-bit gray) and IEND, no pixel data.
std::string png_header_only(std::uint32_t w, std::uint32_t h) {
  const std::string ihdr = be32(w) + be32(h) + std::string("\x08\x00\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IEND", "");
}

// A 24-bit BMP header of w x h pixels with no pixel data: stb would decode it as zeros.
std::string bmp_header_only(std::uint32_t w, std::uint32_t h) {
  std::string info = le32(40) + le32(w) + le32(h) + std::string("\x01\x00\x18\x00", 4) + le32(0) + le32(0) + le32(2835) +
                     le32(2835) + le32(0) + le32(0);
  return std::string("BM", 2) + le32(54) + le32(0) + le32(54) + info;
}

TEST(HostileImages, SidesAndPixelCountAreCheckedBeforeDecoding) {
  TempDir dir;
  const std::string path = dir.file("i.png");
  write_bytes(path, png_header_only(20000, 100));
  EXPECT_THAT(refused_within(16, [&] { (void)pn::io::read_image(path); }),
              AllOf(HasSubstr(path), HasSubstr("is 20000x100 pixels, more than patternnet reads (at most 16384 per side")));
  write_bytes(path, png_header_only(16384, 16384));
  EXPECT_THAT(refused_within(16, [&] { (void)pn::io::read_image(path); }),
              AllOf(HasSubstr("is 16384x16384 pixels"), HasSubstr("67108864 pixels in all")));
}

TEST(HostileImages, ABmpHeaderClaimingAHugeImageFailsFast) {
  // stb decodes a BMP whose pixels are missing as zeros: without the header check this 54-byte file
  // would cost 16384 x 16384 x 3 bytes of decoding and four times that as floats.
  TempDir dir;
  const std::string path = dir.file("i.bmp");
  write_bytes(path, bmp_header_only(16384, 16384));
  EXPECT_THAT(refused_within(16, [&] { (void)pn::io::read_image(path); }), AllOf(HasSubstr(path), HasSubstr("is 16384x16384 pixels")));
  write_bytes(path, bmp_header_only(2, 2) + std::string(16, '\x7f'));  // a real one still reads
  const pn::Tensor t = pn::io::read_image(path);
  EXPECT_EQ(t.shape(), (pn::Shape{3, 2, 2}));
  EXPECT_EQ(t[0], 127.0f);
}

// --- pn.architecture ------------------------------------------------------------------------------

std::string arch_error(const std::string& json) {
  return message_of([&] { (void)pn::nn::Sequential::from_architecture_json(json, "hostile.safetensors"); });
}

TEST(HostileArchitecture, LayerCountLimit) {
  std::string layers;
  for (int i = 0; i < 1025; ++i) layers += fmt::format(R"({}{{"name":"r{}","type":"relu"}})", i ? "," : "", i);
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[)" + layers + "]}"),
              AllOf(HasSubstr("hostile.safetensors"), HasSubstr("1025 layers, more than the limit of 1024")));
}

TEST(HostileArchitecture, ParameterLimitFailsFast) {
  // 2^20 x 2^20 weights would be 4 TiB of floats.
  const std::string dense = R"({"input":[1048576],"layers":[{"name":"fc","type":"linear","in_features":1048576,"out_features":1048576}]})";
  EXPECT_THAT(refused_within(16, [&] { (void)pn::nn::Sequential::from_architecture_json(dense, "hostile.safetensors"); }),
              AllOf(HasSubstr("hostile.safetensors"), HasSubstr("layer 'fc' brings the parameter count past the limit of 268435456")));
  const std::string conv = R"({"input":[65536,1,1],"layers":[{"name":"c","type":"conv2d","in_channels":65536,"out_channels":65536,"kernel":1}]})";
  EXPECT_THAT(arch_error(conv), HasSubstr("layer 'c' brings the parameter count past the limit"));
  // Each factor is bounded by 2^31, so the product is checked without overflow: 2^31 x 2^31 x 2^31 x 2^31.
  const std::string wrap = R"({"input":[1,1,1],"layers":[{"name":"c","type":"conv2d","in_channels":2147483648,"out_channels":2147483648,"kernel":2147483648}]})";
  EXPECT_THAT(arch_error(wrap), AllOf(HasSubstr("layer 'c' parameter count"), HasSubstr("overflows 64 bits")));
}

TEST(HostileArchitecture, ActivationLimit) {
  EXPECT_THAT(arch_error(R"({"input":[1,1048576,1048576],"layers":[]})"),
              HasSubstr("\"input\" (1, 1048576, 1048576) has 1099511627776 values per sample, more than the limit of 268435456"));
  // A 1x1 input padded to 131073 x 131073.
  EXPECT_THAT(arch_error(R"({"input":[1,1,1],"layers":[{"name":"c","type":"conv2d","in_channels":1,"out_channels":1,"kernel":1,"padding":65536}]})"),
              HasSubstr("layer 'c' outputs (1, 131073, 131073) = 17180131329 values per sample, more than the limit"));
}

TEST(HostileArchitecture, NegativeAndOverflowingIntegers) {
  const auto linear = [](const std::string& out) {
    return R"({"input":[4],"layers":[{"name":"fc","type":"linear","in_features":4,"out_features":)" + out + "}]}";
  };
  for (const char* bad : {"-1", "2147483649", "18446744073709551615", "9223372036854775808", "1.5", "\"7\""}) {
    EXPECT_THAT(arch_error(linear(bad)), HasSubstr("layer 'fc': \"out_features\" must be an integer in 0..2^31")) << bad;
  }
  EXPECT_THAT(arch_error(R"({"input":[-3],"layers":[]})"), HasSubstr("\"input\" dimensions must be integers in 1..2^20, got -3"));
  EXPECT_THAT(arch_error(R"({"input":[18446744073709551615],"layers":[]})"), HasSubstr("\"input\" dimensions must be integers"));
}

// --- JSON corner cases shared by the safetensors header and pn.architecture -------------------

TEST(HostileJson, NumberOverflowIsAPnError) {
  // nlohmann::json reports 1e999 as out_of_range, not parse_error: it must still be a pn::Error.
  TempDir dir;
  const std::string path = dir.file("n.safetensors");
  write_bytes(path, safetensors_bytes(R"({"__metadata__":{"k":"v"},"a":1e999})"));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }),
              AllOf(HasSubstr(path), HasSubstr("not valid JSON"), HasSubstr("number overflow")));
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[{"name":"d","type":"dropout","p":-1e999}]})"),
              AllOf(HasSubstr("hostile.safetensors: pn.architecture is not valid JSON"), HasSubstr("number overflow")));
}

TEST(HostileJson, DeepNestingIsNotQuotedRecursively) {
  // 200000 levels parse iteratively, but dump() would recurse once per level: error messages
  // must describe such a value, not print it.
  TempDir dir;
  const std::string path = dir.file("deep.safetensors");
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"U8","shape":[99999999999,)" + nested(200000) +
                                      R"(],"data_offsets":[0,0]}})"));
  EXPECT_THAT(message_of([&] { pn::io::SafetensorsReader r(path); }), HasSubstr("shape dimension 0 (99999999999) makes it larger"));
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[)" + nested(200000) + "]}"),
              HasSubstr("every layer needs a string \"name\" and \"type\", got array of 1 entries"));
  EXPECT_THAT(arch_error(R"({"input":)" + nested(200000) + R"(,"layers":[]})"),
              HasSubstr("\"input\" dimensions must be integers in 1..2^20, got array of 1 entries"));
  EXPECT_THAT(arch_error(R"({"input":[1,)" + nested(200000) + R"(],"layers":[]})"),
              HasSubstr("\"input\" must be [C, H, W] or [D], got array of 2 entries"));
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[{"name":"fc","type":"linear","in_features":4,"out_features":)" +
                         nested(200000) + "}]}"),
              HasSubstr("\"out_features\" must be an integer in 0..2^31, got array of 1 entries"));
}

TEST(HostileArchitecture, DropoutProbabilityOutsideTheFloatRange) {
  // 1e300 does not fit a float: the range is checked on the double, before narrowing (which would
  // report "inf", or worse), so the message quotes the file's value.
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[{"name":"d","type":"dropout","p":1e300}]})"),
              HasSubstr("layer 'd' (dropout): p must be in [0, 1), got 1e+300"));
  EXPECT_THAT(arch_error(R"({"input":[4],"layers":[{"name":"d","type":"dropout","p":-1e-50}]})"),
              HasSubstr("p must be in [0, 1)"));
}

// --- Regressions: inputs found by the fuzzers (fuzz/README.md), replayed byte for byte ------------

std::string bytes_of(std::initializer_list<unsigned char> b) { return std::string(b.begin(), b.end()); }

TEST(Regression, FuzzImageJpegHuffmanTableOverflow) {
  // fuzz_image, 60 s run: a JPEG whose DHT segment declares more than 256 codes made stb_image
  // 2.27 write past stbi__huffman::size[257] (UBSan: index 257 out of bounds). read_image now
  // refuses the table before stb reads the file.
  const std::string crash = bytes_of({
    0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08,
    0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x26, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5,
    0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x3f, 0xff, 0xd9,
  });
  TempDir dir;
  const std::string path = dir.file("dht.jpg");
  write_bytes(path, crash);
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }),
              AllOf(HasSubstr(path), HasSubstr("a JPEG Huffman table declares"), HasSubstr("codes, more than 256")));
}

// pn.layers of a statistics file and of a patterns file: JSON numbers beyond double, entries of
// the wrong type and deep nesting are pn::Errors naming the file, not escaping library exceptions.
TEST(Regression, FuzzImageJpegFillBytesBeforeTheStartOfImage) {
  // fuzz_image, 600 s run: the same Huffman-table overflow behind five 0xFF bytes before the
  // start-of-image marker. stb skips such fill bytes; the pre-check took the file for no JPEG at
  // all and let stb decode it. The check now finds the marker as stb does.
  const std::string crash = bytes_of({
    0xff, 0xff, 0xff, 0xff, 0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01,
    0x11, 0x00, 0xff, 0xc4, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01,
    0x00, 0x00, 0x3f, 0x00, 0x3f, 0xff, 0xd9,
  });
  TempDir dir;
  const std::string path = dir.file("fill.jpg");
  write_bytes(path, crash);
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }),
              AllOf(HasSubstr(path), HasSubstr("a JPEG Huffman table declares"), HasSubstr("codes, more than 256")));
}

TEST(Regression, FuzzImagePnmHeaderNumberOverflow) {
  // fuzz_image, 600 s run: a P6 header whose width has 28 digits made stb_image 2.27 overflow a
  // signed int (UBSan: 224444444 * 10 cannot be represented in type 'int'). read_image now refuses
  // header numbers of ten or more digits before stb reads the file.
  const std::string crash = bytes_of({
    0x50, 0x36, 0x0a, 0x32, 0x32, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34,
    0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x34, 0x20, 0x3f, 0x30, 0xff, 0x00, 0x20,
  });
  TempDir dir;
  const std::string path = dir.file("wide.ppm");
  write_bytes(path, crash);
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }),
              AllOf(HasSubstr(path), HasSubstr("the PNM header's width has ten or more digits")));
  // Comments and whitespace are skipped as stb skips them; the height is checked too.
  write_bytes(path, "P5 # a comment\n16\t12345678901 255\n");
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }), HasSubstr("the PNM header's height has ten or more digits"));
  // 16-bit samples (maximum value above 255): stb 2.27 overflowed its conversion buffer reading this
  // 12-byte file (fuzz_image, the next 600 s run; ASan: heap-buffer-overflow in
  // stbi__convert_16_to_8).
  write_bytes(path, std::string("P5\n2 2\n525\n\0", 12));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }), HasSubstr("16-bit PNM (maximum value 525) is not supported"));
  // A valid header goes on to stb, which decodes the image.
  write_bytes(path, "P5 2 2 255\n" + std::string(4, '\x80'));
  EXPECT_EQ(pn::io::read_image(path).shape(), pn::Shape({3, 2, 2}));
}

TEST(Regression, FuzzImageTinyTgaClaimingAHugeImage) {
  // fuzz_image, 5 s CI run: 147 bytes of TGA header claiming 3855 x 3855 pixels. stb reads zeros
  // past the end of a TGA, so the file decoded into 15 million black pixels (0.4 s and 180 MB of
  // floats in release, a libFuzzer timeout under ASan). Formats other than PNG and JPEG must now
  // hold at least one byte per 256 pixels they claim (GIF 4096).
  TempDir dir;
  const std::string path = dir.file("tiny.tga");
  const auto tga = [](int w, int h, std::size_t data_bytes) {
    std::string t = bytes_of({0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<unsigned char>(w & 0xff),
                              static_cast<unsigned char>(w >> 8), static_cast<unsigned char>(h & 0xff),
                              static_cast<unsigned char>(h >> 8), 24, 0});
    for (std::size_t i = 0; i < data_bytes; ++i) t.push_back(static_cast<char>(i * 37 % 251));
    return t;
  };
  write_bytes(path, tga(3855, 3855, 129));
  const std::string msg = message_of([&] { (void)pn::io::read_image(path); });
  EXPECT_THAT(msg, HasSubstr("claims 3855x3855 pixels in 147 bytes: it is truncated"));
  // The bound itself: 512 x 512 pixels need 1024 bytes, header included.
  write_bytes(path, tga(512, 512, 1023 - 18));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }), HasSubstr("512x512 pixels in 1023 bytes: it is truncated"));
  // A complete small TGA (3 x 2 pixels, 18 bytes of data) still decodes.
  write_bytes(path, tga(3, 2, 18));
  const pn::Tensor img = pn::io::read_image(path);
  EXPECT_EQ(img.shape(), pn::Shape({3, 2, 3}));
}

TEST(Regression, FuzzImagePngEmptyFirstIdat) {
  // fuzz_image, 5 s CI run: a PNG whose first IDAT chunk is empty made stb_image 2.27 call
  // memcpy(NULL, data, 0) (UBSan: null pointer passed as argument 1, declared never null).
  // Empty IDAT chunks are legal and carry nothing; read_image drops them before stb decodes.
  TempDir dir;
  const std::string path = dir.file("idat.png");
  const std::vector<std::uint8_t> rgb = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  pn::io::write_png(path, rgb, 2, 2);
  const pn::Tensor want = pn::io::read_image(path);
  std::string png;
  {
    std::ifstream in(path, std::ios::binary);
    png.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  // length 0, type IDAT, no data, CRC-32 of "IDAT"; twice, before the chunk with the pixels.
  const auto crc = static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>("IDAT"), 4));
  const std::string empty_idat = bytes_of({0, 0, 0, 0, 'I', 'D', 'A', 'T', static_cast<unsigned char>(crc >> 24),
                                           static_cast<unsigned char>(crc >> 16), static_cast<unsigned char>(crc >> 8),
                                           static_cast<unsigned char>(crc)});
  write_bytes(path, png.substr(0, idat - 4) + empty_idat + empty_idat + png.substr(idat - 4));
  const pn::Tensor got = pn::io::read_image(path);
  ASSERT_EQ(got.shape(), want.shape());
  for (std::int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(got[i], want[i]) << "value " << i;
  // A PNG whose only IDAT is empty has no pixels: a clear error, as from stb for a missing IDAT.
  std::size_t length = 0;
  for (std::size_t i = idat - 4; i < idat; ++i) length = (length << 8) | static_cast<unsigned char>(png[i]);
  const std::size_t next = idat - 4 + 12 + length;
  write_bytes(path, png.substr(0, idat - 4) + empty_idat + png.substr(next));
  EXPECT_THAT(message_of([&] { (void)pn::io::read_image(path); }), AllOf(HasSubstr(path), HasSubstr("cannot decode image file")));
}

TEST(HostileMetadata, StatsAndPatternsLayerListsAreChecked) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const auto stats_with_layers = [&](const std::string& layers) {
    const std::string meta = R"({"__metadata__":{"pn.format":"patternnet.pattern-stats","pn.format_version":"1",)"
                             R"("pn.model_fingerprint":"0","pn.estimator":"linear","pn.statistics":"linear",)"
                             R"("pn.second_moments":"false","pn.data":"d","pn.data_fingerprint":"0","pn.samples":"1",)"
                             R"("pn.batch":"1","pn.preprocess":"none","pn.kernels":"scalar","pn.threads":"1","pn.first":"0",)"
                             R"("pn.images":"1","pn.checksum":"0000000000000000","pn.layers":")" +
                             layers + R"("}})";
    write_bytes(path, safetensors_bytes(meta));
    return message_of([&] { pn::explain::read_stats_header(path); });
  };
  EXPECT_THAT(stats_with_layers("[1e999]"), AllOf(HasSubstr(path), HasSubstr("pn.layers is not valid JSON")));
  EXPECT_THAT(stats_with_layers("[" + nested(5000) + "]"), AllOf(HasSubstr(path), HasSubstr("found a array")));

  const auto patterns_with_layers = [&](const std::string& layers) {
    const std::string meta = R"({"__metadata__":{"pn.estimator":"linear","pn.model_fingerprint":"0","pn.layers":")" + layers +
                             R"("}})";
    write_bytes(path, safetensors_bytes(meta));
    return message_of([&] { pn::explain::load_patterns(path); });
  };
  EXPECT_THAT(patterns_with_layers("[1e999]"), AllOf(HasSubstr(path), HasSubstr("pn.layers is not valid JSON")));
  EXPECT_THAT(patterns_with_layers(R"([{\"name\":\"fc1\",\"dead\":\"many\"}])"),
              AllOf(HasSubstr(path), HasSubstr("entry 'fc1' has a field of the wrong type")));
}

// A model or patterns file holding a NaN or infinity is refused at load time, naming the tensor:
// every explanation of it would otherwise be NaN (or, for max-pooling and ReLU, silently wrong).
TEST(HostileValues, NonFiniteWeightsAndPatternsAreRefused) {
  TempDir dir;
  const std::string path = dir.file("nan_model.safetensors");
  std::vector<pn::nn::LayerSpec> specs(1);
  specs[0].name = "fc1";
  specs[0].kind = pn::nn::Kind::linear;
  specs[0].in = 4, specs[0].out = 3;
  pn::nn::Sequential m(pn::Shape{4}, specs);
  pn::Rng rng(5);
  m.init(rng);
  m.layer(0).weight.mutable_value()[7] = std::nanf("");
  pn::nn::save_model(path, m);
  EXPECT_THAT(message_of([&] { (void)pn::nn::load_model(path); }),
              AllOf(HasSubstr(path), HasSubstr("tensor 'fc1.weight' holds nan at element 7 of (3, 4)")));
  m.layer(0).weight.mutable_value()[7] = 0.5f;
  m.layer(0).bias.mutable_value()[2] = -std::numeric_limits<float>::infinity();
  pn::nn::save_model(path, m);
  EXPECT_THAT(message_of([&] { (void)pn::nn::load_model(path); }), HasSubstr("tensor 'fc1.bias' holds -inf at element 2 of (3,)"));

  pn::explain::Patterns p;
  p.estimator = pn::explain::Estimator::linear;
  p.model_fingerprint = "0";
  pn::explain::LayerPatterns lp;
  lp.layer = "fc1";
  lp.a = pn::Tensor::zeros(pn::Shape{3, 4});
  lp.a[11] = std::numeric_limits<float>::infinity();
  p.layers.push_back(std::move(lp));
  const std::string ppath = dir.file("inf_patterns.safetensors");
  pn::explain::save_patterns(ppath, p);
  EXPECT_THAT(message_of([&] { (void)pn::explain::load_patterns(ppath); }),
              AllOf(HasSubstr(ppath), HasSubstr("the pattern of layer 'fc1' holds inf at element 11 of (3, 4)")));
}

}  // namespace
