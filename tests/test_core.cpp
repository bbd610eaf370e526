// Core types: pn::Error, pn::Shape, pn::AlignedBuffer, pn::Tensor, pn::Rng.
#include "pn/core/aligned_buffer.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/core/shape.h"
#include "pn/core/tensor.h"
#include "test_util.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <type_traits>
#include <vector>

// Under AddressSanitizer an impossible allocation aborts the process unless the allocator may
// return null; the allocation-failure tests need the null (ctest also sets this, see
// tests/CMakeLists.txt, but the hook makes the binary behave the same when run by hand).
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace {

using ::testing::HasSubstr;
using pntest::error_message;

// --- pn::Error ----------------------------------------------------------------------------------

TEST(Error, FormatsItsArguments) {
  const pn::Error e("{}: expected {} values, got {:.2f}", "load", 3, 2.5);
  EXPECT_STREQ(e.what(), "load: expected 3 values, got 2.50");
  EXPECT_STREQ(pn::Error("shape {}", pn::Shape{2, 3}).what(), "shape (2, 3)");
}

TEST(Error, PlainStringIsTakenLiterally) {
  // A std::string message is not a format string: braces survive.
  const std::string msg = "literal {} and {0}";
  EXPECT_EQ(std::string(pn::Error(msg).what()), msg);
}

TEST(Error, IsARuntimeError) {
  static_assert(std::is_base_of_v<std::runtime_error, pn::Error>);
  try {
    throw pn::Error("boom {}", 42);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom 42");
    return;
  }
  FAIL() << "not caught as std::runtime_error";
}

// --- pn::Shape ----------------------------------------------------------------------------------

TEST(Shape, RankDimsAndNumel) {
  const pn::Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s.dim(2), 4);
  EXPECT_EQ(s.dim(-1), 4);
  EXPECT_EQ(s.dim(-3), 2);
  EXPECT_THROW(s.dim(3), pn::Error);
  EXPECT_THROW(s.dim(-4), pn::Error);
  EXPECT_EQ(std::vector<std::int64_t>(s.begin(), s.end()), (std::vector<std::int64_t>{2, 3, 4}));

  EXPECT_EQ(pn::Shape{}.rank(), 0);
  EXPECT_EQ(pn::Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ((pn::Shape{5, 0, 7}.numel()), 0);
  const std::vector<int> dims = {1, 2, 3, 4};
  EXPECT_EQ(pn::Shape::from_range(dims.begin(), dims.end()), (pn::Shape{1, 2, 3, 4}));
}

TEST(Shape, Equality) {
  EXPECT_EQ((pn::Shape{2, 3}), (pn::Shape{2, 3}));
  EXPECT_NE((pn::Shape{2, 3}), (pn::Shape{3, 2}));
  EXPECT_NE((pn::Shape{2, 3}), (pn::Shape{2, 3, 1}));
  EXPECT_NE((pn::Shape{}), (pn::Shape{1}));
}

TEST(Shape, StrFormat) {
  EXPECT_EQ(pn::Shape{}.str(), "()");
  EXPECT_EQ(pn::Shape{5}.str(), "(5,)");
  EXPECT_EQ((pn::Shape{2, 3, 4}.str()), "(2, 3, 4)");
  EXPECT_EQ((pn::Shape{1, 0, 224, 224}.str()), "(1, 0, 224, 224)");
  EXPECT_EQ(fmt::format("{}", pn::Shape{7, 8}), "(7, 8)");
}

TEST(Shape, RankLimitIsFour) {
  EXPECT_NO_THROW((pn::Shape{1, 2, 3, 4}));
  EXPECT_THAT(error_message([] { pn::Shape{1, 2, 3, 4, 5}; }), HasSubstr("rank 4"));
  pn::Shape s{1, 2, 3, 4};
  EXPECT_THROW(s.push_back(5), pn::Error);
  EXPECT_EQ(s.rank(), 4) << "a failed push_back must not change the shape";
  const std::vector<int> five = {1, 1, 1, 1, 1};
  EXPECT_THROW(pn::Shape::from_range(five.begin(), five.end()), pn::Error);
}

TEST(Shape, NegativeDimensionThrows) {
  const std::string msg = error_message([] { pn::Shape{2, -3}; });
  EXPECT_THAT(msg, HasSubstr("negative"));
  EXPECT_THAT(msg, HasSubstr("-3"));
  pn::Shape s{4};
  EXPECT_THROW(s.push_back(-1), pn::Error);
}

TEST(Shape, ElementCountOverflowThrows) {
  const std::int64_t big = std::int64_t{1} << 32;
  EXPECT_THROW((pn::Shape{big, big}), pn::Error);  // 2^64 elements
  EXPECT_NO_THROW((pn::Shape{big, big / 2 - 1}));
  EXPECT_THAT(error_message([&] { pn::Shape{big, 4, big}; }), HasSubstr("overflows"));
}

// A push_back that fails the overflow check leaves the shape as it was.
TEST(Shape, FailedPushBackLeavesShapeUnchanged) {
  pn::Shape s{std::int64_t{1} << 32};
  EXPECT_THROW(s.push_back(std::int64_t{1} << 32), pn::Error);
  EXPECT_EQ(s.rank(), 1);
  EXPECT_NO_THROW((void)s.numel());
}

TEST(Shape, CheckedMul) {
  EXPECT_EQ(pn::checked_mul(0, std::numeric_limits<std::int64_t>::max(), "x"), 0);
  EXPECT_EQ(pn::checked_mul(std::numeric_limits<std::int64_t>::max(), 1, "x"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(pn::checked_mul(3037000499, 3037000499, "x"), std::int64_t{3037000499} * 3037000499);  // < 2^63
  const std::string msg = error_message([] { pn::checked_mul(3037000500, 3037000500, "weights of layer 7"); });
  EXPECT_THAT(msg, HasSubstr("weights of layer 7"));
  EXPECT_THAT(msg, HasSubstr("overflow"));
  EXPECT_THROW(pn::checked_mul(std::int64_t{1} << 62, 2, "x"), pn::Error);
  EXPECT_THROW(pn::checked_mul(-1, 2, "x"), pn::Error);
  EXPECT_THROW(pn::checked_mul(2, -1, "x"), pn::Error);
}

// --- pn::AlignedBuffer --------------------------------------------------------------------------

TEST(AlignedBuffer, AlignmentAndSize) {
  for (std::int64_t n : {1, 3, 15, 16, 17, 1000, 100003}) {
    pn::AlignedBuffer b(n);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 64, 0u) << n;
    EXPECT_EQ(b.size(), n);
    b.data()[n - 1] = 1.0f;  // the whole range is writable (ASan checks)
  }
  pn::AlignedBuffer empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(pn::AlignedBuffer().data(), nullptr);
  EXPECT_THROW(pn::AlignedBuffer(-1), pn::Error);
}

// Blocks of 1 MiB and more are kept when freed and handed to the next request they fit with at
// most a quarter to spare; never more than kRecycleCapBytes are held.
TEST(AlignedBuffer, LargeFreedBlocksAreReusedWithinTheCap) {
  constexpr std::int64_t kFloats = std::int64_t{1} << 20;  // 4 MiB
  float* first = nullptr;
  {
    pn::AlignedBuffer a(kFloats);
    first = a.data();
    a.data()[kFloats - 1] = 1.0f;
  }
  {
    pn::AlignedBuffer again(kFloats);
    EXPECT_EQ(again.data(), first) << "the freed block of the same size is reused";
    again.data()[kFloats - 1] = 2.0f;  // the whole request is writable
  }
  {
    pn::AlignedBuffer smaller(kFloats * 9 / 10);
    EXPECT_EQ(smaller.data(), first) << "a block at most a quarter larger is reused";
    EXPECT_EQ(smaller.size(), kFloats * 9 / 10);
    pn::AlignedBuffer half(kFloats / 2);
    EXPECT_NE(half.data(), first) << "a block twice the request is not handed out";
  }
  {
    pn::AlignedBuffer small(1000);  // below the threshold: plain malloc, never held
    EXPECT_NE(small.data(), first);
  }
  {
    std::vector<pn::AlignedBuffer> many;
    for (int i = 0; i < 40; ++i) many.emplace_back(kFloats);  // 160 MiB
  }
  EXPECT_LE(pn::AlignedBuffer::recycled_bytes(), pn::AlignedBuffer::kRecycleCapBytes);
  EXPECT_GE(pn::AlignedBuffer::recycled_bytes(), pn::AlignedBuffer::kRecycleCapBytes - std::size_t{4 << 20});
}

TEST(AlignedBuffer, MoveTransfersOwnership) {
  pn::AlignedBuffer a(10);
  float* p = a.data();
  pn::AlignedBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 10);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  pn::AlignedBuffer c(3);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 10);
}

TEST(AlignedBuffer, ImpossibleAllocationThrowsInsteadOfCrashing) {
  // 2^62 floats: the byte count itself would overflow 64 bits.
  const std::string overflow = error_message([] { pn::AlignedBuffer b(std::int64_t{1} << 62); });
  EXPECT_THAT(overflow, HasSubstr("out of memory"));
  EXPECT_THAT(overflow, HasSubstr("cannot be addressed"));
  // 2^60 floats (4 EiB): representable, but no allocator can provide it.
  const std::string oom = error_message([] { pn::AlignedBuffer b(std::int64_t{1} << 60); });
  EXPECT_THAT(oom, HasSubstr("out of memory"));
  EXPECT_THAT(oom, HasSubstr("1152921504606846976 floats"));
  // Near INT64_MAX bytes: refused before the round-up to the alignment could overflow.
  EXPECT_THROW(pn::AlignedBuffer(std::numeric_limits<std::int64_t>::max() / 4), pn::Error);
  // And a tensor whose shape asks for it fails the same way.
  EXPECT_THAT(error_message([] { pn::Tensor t(pn::Shape{std::int64_t{1} << 30, std::int64_t{1} << 30}); }),
              HasSubstr("out of memory"));
}

// --- pn::Tensor ---------------------------------------------------------------------------------

TEST(Tensor, DataIs64ByteAligned) {
  for (const pn::Shape& s : {pn::Shape{1}, pn::Shape{3}, pn::Shape{7, 3}, pn::Shape{2, 3, 5, 7}, pn::Shape{1000}}) {
    const pn::Tensor t(s);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u) << s.str();
    EXPECT_EQ(t.numel(), s.numel());
    EXPECT_EQ(t.shape(), s);
  }
}

TEST(Tensor, ConstructorsAndFill) {
  const pn::Tensor z = pn::Tensor::zeros(pn::Shape{3, 4});
  for (float v : z.values()) EXPECT_EQ(v, 0.0f);
  pn::Tensor f = pn::Tensor::full(pn::Shape{2, 5}, 1.5f);
  for (float v : f.values()) EXPECT_EQ(v, 1.5f);
  f.fill(-2.0f);
  for (float v : f.values()) EXPECT_EQ(v, -2.0f);
  const std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  const pn::Tensor t = pn::Tensor::from(pn::Shape{2, 3}, vals);
  EXPECT_EQ(std::vector<float>(t.values().begin(), t.values().end()), vals);
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.dim(1), 3);
  EXPECT_EQ(t.dim(-2), 2);
  EXPECT_FALSE(t.empty());
  EXPECT_TRUE(pn::Tensor(pn::Shape{4, 0}).empty());
  const pn::Tensor scalar(pn::Shape{});  // rank 0: one element, with storage
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_NE(scalar.data(), nullptr);

  const std::string msg = error_message([&] { pn::Tensor::from(pn::Shape{4, 2}, vals); });
  EXPECT_THAT(msg, HasSubstr("(4, 2)"));
  EXPECT_THAT(msg, HasSubstr("8"));
  EXPECT_THAT(msg, HasSubstr("6"));
}

TEST(Tensor, CloneIsADeepCopy) {
  const std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  pn::Tensor a = pn::Tensor::from(pn::Shape{3, 2}, vals);
  pn::Tensor b = a.clone();
  EXPECT_EQ(b.shape(), a.shape());
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 64, 0u);
  b[0] = 100.0f;
  a[5] = -1.0f;
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(b[5], 6.0f);
  EXPECT_EQ(b[1], 2.0f);
  // Cloning an empty tensor is fine too.
  const pn::Tensor e(pn::Shape{0, 3});
  EXPECT_EQ(e.clone().shape(), (pn::Shape{0, 3}));
}

TEST(Tensor, MoveTransfersStorage) {
  static_assert(!std::is_copy_constructible_v<pn::Tensor>);
  static_assert(!std::is_copy_assignable_v<pn::Tensor>);
  static_assert(std::is_nothrow_move_constructible_v<pn::Tensor>);
  pn::Tensor a = pn::Tensor::full(pn::Shape{2, 3}, 4.0f);
  const float* p = a.data();
  pn::Tensor b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.shape(), (pn::Shape{2, 3}));
  EXPECT_EQ(b[5], 4.0f);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  pn::Tensor c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.shape(), (pn::Shape{2, 3}));
}

// A tensor without storage says so (numel() == 0, values() an empty span): moved-from and
// default-constructed tensors, and moved-from buffers.
TEST(Tensor, TensorsWithoutStorageAreEmpty) {
  pn::Tensor a = pn::Tensor::full(pn::Shape{2, 3}, 4.0f);
  pn::Tensor b(std::move(a));
  EXPECT_EQ(a.numel(), 0) << "moved-from tensor still has shape " << a.shape().str();  // NOLINT
  EXPECT_TRUE(a.empty());                                                                // NOLINT
  const pn::Tensor d;
  EXPECT_TRUE(d.data() != nullptr || d.values().empty())
      << "default tensor: numel " << d.numel() << " but data() is null";
  pn::AlignedBuffer x(10);
  pn::AlignedBuffer y(std::move(x));
  EXPECT_EQ(x.size(), 0) << "moved-from AlignedBuffer reports size " << x.size() << " with no storage";  // NOLINT
}

TEST(Tensor, ReshapeKeepsDataAndChecksCount) {
  pn::Tensor t = pn::Tensor::from(pn::Shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  const float* p = t.data();
  t.reshape(pn::Shape{3, 2});
  EXPECT_EQ(t.shape(), (pn::Shape{3, 2}));
  EXPECT_EQ(t.data(), p);
  EXPECT_EQ(t.at({2, 1}), 5.0f);
  t.reshape(pn::Shape{6});
  EXPECT_EQ(t.rank(), 1);

  const std::string msg = error_message([&] { t.reshape(pn::Shape{4, 2}); });
  EXPECT_THAT(msg, HasSubstr("(6,)"));
  EXPECT_THAT(msg, HasSubstr("(4, 2)"));
  EXPECT_THAT(msg, HasSubstr("reshape"));
  EXPECT_EQ(t.shape(), (pn::Shape{6})) << "a failed reshape must not change the shape";

  pn::Tensor r = std::move(t).reshaped(pn::Shape{1, 2, 3, 1});
  EXPECT_EQ(r.shape(), (pn::Shape{1, 2, 3, 1}));
  EXPECT_EQ(r.data(), p);
  EXPECT_THROW(std::move(r).reshaped(pn::Shape{7}), pn::Error);
}

TEST(Tensor, AtIsRowMajorAndBoundsChecked) {
  pn::Tensor t(pn::Shape{2, 3, 4, 5});
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i);
  EXPECT_EQ(t.at({0, 0, 0, 0}), 0.0f);
  EXPECT_EQ(t.at({1, 2, 3, 4}), static_cast<float>(t.numel() - 1));
  EXPECT_EQ(t.at({1, 0, 2, 3}), static_cast<float>(((1 * 3 + 0) * 4 + 2) * 5 + 3));
  t.at({0, 1, 0, 0}) = -1.0f;
  EXPECT_EQ(t[20], -1.0f);
  const pn::Tensor& ct = t;
  EXPECT_EQ(ct.at({0, 1, 0, 0}), -1.0f);

  EXPECT_THAT(error_message([&] { t.at({2, 0, 0, 0}); }), HasSubstr("out of range"));
  EXPECT_THAT(error_message([&] { t.at({0, 0, 0, 5}); }), HasSubstr("(2, 3, 4, 5)"));
  EXPECT_THROW(t.at({-1, 0, 0, 0}), pn::Error);
  EXPECT_THROW(ct.at({0, 3, 0, 0}), pn::Error);
  EXPECT_THAT(error_message([&] { t.at({0, 0, 0}); }), HasSubstr("3 indices"));
  EXPECT_THROW(t.at({0, 0, 0, 0, 0}), pn::Error);
}

TEST(Tensor, RequireShape) {
  const pn::Tensor t(pn::Shape{2, 3});
  EXPECT_NO_THROW(pn::require_shape(t, pn::Shape{2, 3}, "op", "thing"));
  EXPECT_EQ(error_message([&] { pn::require_shape(t, pn::Shape{3, 2}, "myop", "weight"); }),
            "myop: expected weight of shape (3, 2), got (2, 3)");
}

// --- pn::Rng ------------------------------------------------------------------------------------

// Independent implementation of the published algorithms (splitmix64 seeding, xoshiro256**), so
// that a change to the stream, which would silently change every seeded result, is caught.
struct ReferenceXoshiro {
  std::uint64_t s[4];
  explicit ReferenceXoshiro(std::uint64_t seed) {
    for (auto& v : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      v = z ^ (z >> 31);
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

TEST(Rng, StreamIsXoshiro256StarStar) {
  for (std::uint64_t seed : {0ULL, 1ULL, 20180214ULL, ~0ULL}) {
    pn::Rng rng(seed);
    ReferenceXoshiro ref(seed);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(rng.next_u64(), ref.next()) << "seed " << seed << " draw " << i;
  }
}

TEST(Rng, SameSeedSameStreamDifferentSeedsDiffer) {
  pn::Rng a(42), b(42), c(43);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next_u64();
    ASSERT_EQ(x, b.next_u64());
    differ += x != c.next_u64();
  }
  EXPECT_GE(differ, 999);
  // The same holds for the derived distributions, including the cached Box-Muller spare.
  pn::Rng d(7), e(7);
  for (int i = 0; i < 101; ++i) {
    ASSERT_EQ(d.normal(), e.normal());
    ASSERT_EQ(d.uniform(), e.uniform());
  }
}

TEST(Rng, UniformRangeAndMoments) {
  pn::Rng rng(1);
  const int n = 100000;
  double sum = 0.0, sum2 = 0.0, lo = 1.0, hi = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.005);         // sd of the mean: 0.0009
  EXPECT_NEAR(var, 1.0 / 12.0, 0.002);
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1.0 - 1e-3);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.uniform(-3.0, 5.0);
    ASSERT_GE(u, -3.0);
    ASSERT_LT(u, 5.0);
  }
  std::vector<float> buf(1000);
  rng.fill_uniform(buf, -0.5f, 0.25f);
  for (float v : buf) {
    ASSERT_GE(v, -0.5f);
    ASSERT_LE(v, 0.25f);  // rounding to float may reach the upper bound
  }
  EXPECT_GT(std::set<float>(buf.begin(), buf.end()).size(), 990u);
}

TEST(Rng, NormalMoments) {
  pn::Rng rng(2);
  const int n = 100000;
  double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);   // sd of the mean: 0.0032
  EXPECT_NEAR(var, 1.0, 0.03);    // sd of the variance: 0.0045
  EXPECT_NEAR(sum4 / n, 3.0, 0.15);  // the kurtosis of a normal

  std::vector<float> buf(20000);
  rng.fill_normal(buf, 10.0f, 0.5f);
  double s = 0.0, s2 = 0.0;
  for (float v : buf) {
    s += v;
    s2 += static_cast<double>(v) * v;
  }
  const double m = s / 20000.0;
  EXPECT_NEAR(m, 10.0, 0.02);
  EXPECT_NEAR(std::sqrt(s2 / 20000.0 - m * m), 0.5, 0.02);
  pn::Rng r2(3);
  double ms = 0.0;
  for (int i = 0; i < 10000; ++i) ms += r2.normal(-4.0, 2.0);
  EXPECT_NEAR(ms / 10000.0, -4.0, 0.1);
}

TEST(Rng, BelowRangeAndUniformity) {
  pn::Rng rng(5);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rng.below(1), 0u);
  const std::uint64_t huge = (std::uint64_t{1} << 63) + 1;  // the worst case for rejection
  for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(huge), huge);
  for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(~std::uint64_t{0}), ~std::uint64_t{0});

  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, n / 7, 500) << "bucket counts are not uniform";  // sd ~ 93
  EXPECT_THAT(error_message([&] { rng.below(0); }), HasSubstr("empty"));
}

TEST(Rng, SplitGivesAnIndependentDeterministicStream) {
  pn::Rng a(9), b(9);
  pn::Rng ca = a.split(), cb = b.split();
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = ca.next_u64();
    ASSERT_EQ(x, cb.next_u64());  // deterministic
    differ += x != a.next_u64();  // not the parent's continuation
  }
  EXPECT_GE(differ, 99);
}

}  // namespace
