// .npy: magic, version, header length, the Python-dict header (descr, fortran_order, shape) and
// the data size checks, then the float32/float64 read.
#include "fuzz_common.h"

#include "pn/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pnfuzz::TempFile file(".npy");
  const std::string& path = file.write(data, size);
  pnfuzz::expect_only_pn_errors([&] { (void)pn::io::read_npy(path); });
  return 0;
}
