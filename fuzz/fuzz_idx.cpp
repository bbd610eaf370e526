// gzip'd IDX. Mutating compressed bytes rarely yields a stream that inflates, so an input that starts
// with 'Z' is gzip-compressed here first (the rest of it is the IDX payload: header dims, data,
// trailing bytes); any other input is written as it is (a gzip stream, possibly corrupt, or a
// plain IDX file, which zlib reads through). Both reach read_idx through a file.
#include "fuzz_common.h"

#include "pn/io/idx.h"

#include <zlib.h>

#include <vector>

namespace {

std::vector<std::uint8_t> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper, as gzopen writes.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<std::uint8_t> out(deflateBound(&z, static_cast<uLong>(size)) + 32);
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pnfuzz::TempFile file(".gz");
  std::string path;
  if (size > 0 && data[0] == 'Z') {
    const std::vector<std::uint8_t> gz = gzip(data + 1, size - 1);
    path = file.write(gz.data(), gz.size());
  } else {
    path = file.write(data, size);
  }
  pnfuzz::expect_only_pn_errors([&] {
    const pn::io::IdxArray a = pn::io::read_idx(path);
    std::size_t n = 1;
    for (const auto d : a.dims) n *= static_cast<std::size_t>(d);
    if (a.data.size() != n) {
      std::fprintf(stderr, "pn fuzz: read_idx returned %zu bytes for dims of %zu elements\n", a.data.size(), n);
      std::abort();
    }
  });
  return 0;
}
