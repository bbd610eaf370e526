#include "pn/io/npy.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace pn::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
// NumPy itself writes headers of a few hundred bytes; the limit only stops a 4 GiB length field
// (format 2.0 and 3.0) from allocating before anything is checked.
constexpr std::size_t kMaxHeader = 1 << 20;
// Error messages quote the header; a long one is cut, as it is hostile rather than informative.
constexpr std::size_t kQuotedHeader = 200;

// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// A tiny parser for exactly that grammar: string keys; string, bool or int-tuple values.
struct HeaderParser {
  const std::string& s;
  const std::string& path;
  std::size_t i = 0;

  [[noreturn]] void fail(const char* what) const {
    throw Error("'{}': malformed .npy header ({} at character {}): {}{}", path, what, i, s.substr(0, kQuotedHeader),
                s.size() > kQuotedHeader ? "..." : "");
  }
  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    skip();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail("unexpected character");
  }
  std::string string_lit() {
    skip();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a string");
    const char q = s[i++];
    const std::size_t start = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) fail("unterminated string");
    return s.substr(start, i++ - start);
  }
  std::string word() {
    skip();
    const std::size_t start = i;
    while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(start, i - start);
  }
};

}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open .npy file '{}': {}", path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  // The header and the data are checked against this size before anything is allocated.
  if (end < 0) throw Error("cannot read .npy file '{}': its size is unknown (not a regular file?)", path);
  const auto file_size = static_cast<std::uint64_t>(end);
  in.seekg(0);
  unsigned char pre[10];
  in.read(reinterpret_cast<char*>(pre), 8);
  if (!in || std::memcmp(pre, kMagic, 6) != 0) throw Error("'{}' is not a .npy file (bad magic)", path);
  const int major = pre[6];
  std::uint64_t header_len = 0;
  std::uint64_t preamble = 0;
  if (major == 1) {
    in.read(reinterpret_cast<char*>(pre), 2);
    header_len = pre[0] | (pre[1] << 8);
    preamble = 10;
  } else if (major == 2 || major == 3) {
    in.read(reinterpret_cast<char*>(pre), 4);
    header_len = pre[0] | (pre[1] << 8) | (pre[2] << 16) | (static_cast<std::uint64_t>(pre[3]) << 24);
    preamble = 12;
  } else {
    throw Error("'{}': unsupported .npy format version {}.{}", path, major, static_cast<int>(pre[7]));
  }
  if (!in) throw Error("'{}': .npy file of {} bytes ends inside its preamble", path, file_size);
  if (header_len > kMaxHeader) {
    throw Error("'{}': .npy header of {} bytes exceeds the limit of {} bytes", path, header_len, kMaxHeader);
  }
  if (preamble + header_len > file_size) {
    throw Error("'{}': .npy header length {} does not fit the {}-byte file", path, header_len, file_size);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));

  HeaderParser p{header, path};
  std::string descr;
  bool fortran = false, have_descr = false, have_fortran = false, have_shape = false;
  std::vector<std::int64_t> dims;
  std::int64_t n = 1;  // product of dims, checked as it grows
  p.expect('{');
  while (!p.eat('}')) {
    const std::string key = p.string_lit();
    p.expect(':');
    // A repeated key would silently replace (or, for the shape, extend) the first one.
    if ((key == "descr" && have_descr) || (key == "fortran_order" && have_fortran) || (key == "shape" && have_shape)) {
      throw Error("'{}': .npy header key '{}' appears twice", path, key);
    }
    if (key == "descr") {
      descr = p.string_lit();
      have_descr = true;
    } else if (key == "fortran_order") {
      const std::string w = p.word();
      if (w != "True" && w != "False") p.fail("fortran_order must be True or False");
      fortran = w == "True";
      have_fortran = true;
    } else if (key == "shape") {
      p.expect('(');
      while (!p.eat(')')) {
        const std::string w = p.word();
        if (w.empty() || w.size() > 15 || !std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
          p.fail("shape entries must be non-negative integers");
        }
        if (static_cast<int>(dims.size()) == kMaxRank) throw Error("'{}': array has more than {} dimensions", path, kMaxRank);
        dims.push_back(std::stoll(w));  // at most 15 digits: fits
        n = checked_mul(n, dims.back(), fmt::format("'{}': .npy shape", path).c_str());
        if (!p.eat(',')) {
          p.expect(')');
          break;
        }
      }
      have_shape = true;
    } else {
      throw Error("'{}': unknown .npy header key '{}'", path, key);
    }
    if (!p.eat(',')) {
      p.expect('}');
      break;
    }
  }
  if (!have_descr || !have_fortran || !have_shape) throw Error("'{}': .npy header lacks descr, fortran_order or shape", path);
  if (fortran) throw Error("'{}': Fortran-order arrays are not supported; save with np.ascontiguousarray", path);
  std::uint64_t esize = 0;
  if (descr == "<f4") {
    esize = 4;
  } else if (descr == "<f8") {
    esize = 8;
  } else {
    throw Error("'{}': dtype '{}' is not supported; patternnet reads little-endian float32 ('<f4') or float64 ('<f8')",
                path, descr);
  }
  const Shape shape = Shape::from_range(dims.begin(), dims.end());
  const std::uint64_t data = file_size - preamble - header_len;
  // Compared with the file before allocating: the data must be exactly n elements.
  std::uint64_t need = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(n), esize, &need)) {
    throw Error("'{}': shape {} of {} needs more than 2^64 bytes of data, the file has {}", path, shape, descr, data);
  }
  if (need != data) throw Error("'{}': shape {} of {} needs {} bytes of data, the file has {}", path, shape, descr, need, data);
  Tensor t(shape);
  if (esize == 4) {
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(need));
  } else {
    std::vector<double> d(static_cast<std::size_t>(n));
    in.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(need));
    for (std::int64_t i = 0; i < n; ++i) t[i] = static_cast<float>(d[static_cast<std::size_t>(i)]);
  }
  if (!in) throw Error("'{}': could not read the array data", path);
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < t.rank(); ++i) dict += std::to_string(t.dim(i)) + (t.rank() == 1 ? ",)" : (i + 1 < t.rank() ? ", " : ")"));
  if (t.rank() == 0) dict += ")";
  dict += ", }";
  // Pad with spaces and a newline so that magic + length + header is a multiple of 64 bytes.
  const std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string pre(kMagic, 6);
  pre += '\x01';
  pre += '\x00';
  pre += static_cast<char>(dict.size() & 0xff);
  pre += static_cast<char>((dict.size() >> 8) & 0xff);
  AtomicFile out(path);
  out.write(pre.data(), pre.size());
  out.write(dict.data(), dict.size());
  out.write(t.data(), static_cast<std::size_t>(t.numel()) * 4);
  out.commit();
}

}  // namespace pn::io
