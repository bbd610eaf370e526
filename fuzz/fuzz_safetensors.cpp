// safetensors: the 8-byte length, the JSON header (dtype, shape, data_offsets, __metadata__), the
// coverage checks of the data section, then the body: every tensor is loaded, as float32 and, for
// F64 tensors, as double, so the conversions and the byte reads see hostile offsets too.
#include "fuzz_common.h"

#include "pn/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pnfuzz::TempFile file(".safetensors");
  const std::string& path = file.write(data, size);
  pnfuzz::expect_only_pn_errors([&] {
    const pn::io::SafetensorsReader reader(path);
    for (const auto& e : reader.entries()) {
      // One refused tensor (an unsupported dtype) must not hide the others.
      pnfuzz::expect_only_pn_errors([&] { (void)reader.load(e.name); });
      if (e.dtype == "F64") pnfuzz::expect_only_pn_errors([&] { (void)reader.load_f64(e.name); });
      if (reader.find(e.name) != &e) {
        std::fprintf(stderr, "pn fuzz: find('%s') does not return its entry\n", e.name.c_str());
        std::abort();
      }
    }
  });
  return 0;
}
