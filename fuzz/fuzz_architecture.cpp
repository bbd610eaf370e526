// The pn.architecture JSON (Sequential::from_architecture_json, which load_model calls on a model
// file's metadata): JSON syntax, keys, layer kinds and integer fields, the layer/parameter/
// activation limits and the shape inference of the network it builds. A network that parses must
// also survive its own round trip: architecture_json() parsed again gives the same text.
#include "fuzz_common.h"

#include "pn/nn/sequential.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pnfuzz::expect_only_pn_errors([&] {
    std::string again;
    {  // freed before the second parse: two networks at the parameter limit would not fit -rss_limit_mb
      const pn::nn::Sequential m = pn::nn::Sequential::from_architecture_json(text, "fuzz input");
      again = m.architecture_json();
    }
    std::string third;
    try {
      third = pn::nn::Sequential::from_architecture_json(again, "round trip").architecture_json();
    } catch (const pn::Error& e) {
      std::fprintf(stderr, "pn fuzz: architecture_json() of a parsed network is refused: %s\n", e.what());
      std::abort();
    }
    if (third != again) {
      std::fprintf(stderr, "pn fuzz: architecture round trip differs:\n%s\n%s\n", again.c_str(), third.c_str());
      std::abort();
    }
  });
  return 0;
}
