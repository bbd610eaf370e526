// pn::Rng: a seeded random number generator with no global state.
// xoshiro256** (Blackman & Vigna) seeded through splitmix64: fast, 256 bits of state, and the
// same stream on every platform, so a seed names a result. Normal deviates use Box-Muller in
// double (both values of a pair are used). Every consumer owns its Rng; nothing is shared.
#pragma once

#include <cstdint>
#include <span>

namespace pn {

class Rng {
public:
  explicit Rng(std::uint64_t seed);

  std::uint64_t next_u64();
  double uniform();                           // [0, 1)
  double uniform(double low, double high);    // [low, high)
  double normal();                            // N(0, 1)
  double normal(double mean, double stddev);
  std::uint64_t below(std::uint64_t n);       // uniform integer in [0, n), n > 0, unbiased

  void fill_uniform(std::span<float> out, float low, float high);
  void fill_normal(std::span<float> out, float mean, float stddev);

  // An independent generator derived from this one (for per-thread or per-layer streams).
  Rng split();

private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace pn
