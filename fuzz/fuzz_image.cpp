// Image decoding: read_image's header check (stbi_info and the size limits) and stb_image's decoders
// behind it (PNG, JPEG, BMP and the rest stb reads). In the fuzz build stb_image is compiled from
// source with the same instrumentation (stb_impl.cpp), so its code is covered and checked too.
#include "fuzz_common.h"

#include "pn/io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pnfuzz::TempFile file(".img");
  const std::string& path = file.write(data, size);
  pnfuzz::expect_only_pn_errors([&] {
    const pn::Tensor t = pn::io::read_image(path);
    if (t.rank() != 3 || t.dim(0) != 3 || t.dim(1) * t.dim(2) > pn::io::kMaxImagePixels) {
      std::fprintf(stderr, "pn fuzz: read_image returned shape %s\n", t.shape().str().c_str());
      std::abort();
    }
  });
  return 0;
}
