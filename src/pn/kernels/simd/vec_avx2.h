// 8-lane float vector for the AVX2+FMA translation units. Included only from avx2/ files, which
// are compiled with -mavx2 -mfma. The SIMD templates in simd/*.inl are written against this small
// interface, so the AVX-512 tables run the very code the AVX2 tests check, with wider registers.
#pragma once

#include <immintrin.h>

namespace pn::kernels::avx2 {

struct Vec {
  static constexpr int width = 8;
  __m256 v;

  static Vec zero() { return {_mm256_setzero_ps()}; }
  static Vec set1(float x) { return {_mm256_set1_ps(x)}; }
  static Vec broadcast(const float* p) { return {_mm256_broadcast_ss(p)}; }
  static Vec load(const float* p) { return {_mm256_load_ps(p)}; }
  static Vec loadu(const float* p) { return {_mm256_loadu_ps(p)}; }
  void storeu(float* p) const { _mm256_storeu_ps(p, v); }
  void store(float* p) const { _mm256_store_ps(p, v); }

  friend Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
  friend Vec operator-(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
  friend Vec operator*(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
  static Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  static Vec max(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }
  // x where gate > 0, else +0.0 (a NaN gate counts as closed, as in the scalar code).
  static Vec where_positive(Vec gate, Vec x) {
    const __m256 open = _mm256_cmp_ps(gate.v, _mm256_setzero_ps(), _CMP_GT_OQ);
    return {_mm256_and_ps(open, x.v)};
  }
  // lanes of a where b > a (ordered, so NaN never replaces), and the mask of those lanes.
  static __m256 greater(Vec b, Vec a) { return _mm256_cmp_ps(b.v, a.v, _CMP_GT_OQ); }
  static Vec blend(Vec a, Vec b, __m256 mask) { return {_mm256_blendv_ps(a.v, b.v, mask)}; }
  // lane l holds l (exact in float for the small index ranges pooling uses)
  static Vec iota() { return {_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7)}; }
  // lanes p[0], p[stride], p[2*stride], ...
  static Vec gather(const float* p, int stride) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    return {_mm256_i32gather_ps(p, idx, 4)};
  }
  // stores the lanes (integer-valued floats) as int32
  void store_i32(int* p) const { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvttps_epi32(v)); }
  // p[0..8) += the lanes, in double.
  void add_to_f64(double* p) const {
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), lo));
    _mm256_storeu_pd(p + 4, _mm256_add_pd(_mm256_loadu_pd(p + 4), hi));
  }
  float sum() const {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
  }
};

using Mask = __m256;

// 4-lane double vector: the double-precision statistics GEMM (simd/dgemm.inl).
struct VecD {
  static constexpr int width = 4;
  __m256d v;

  static VecD zero() { return {_mm256_setzero_pd()}; }
  static VecD broadcast(const double* p) { return {_mm256_broadcast_sd(p)}; }
  static VecD loadu(const double* p) { return {_mm256_loadu_pd(p)}; }
  void storeu(double* p) const { _mm256_storeu_pd(p, v); }
  friend VecD operator+(VecD a, VecD b) { return {_mm256_add_pd(a.v, b.v)}; }
  static VecD fma(VecD a, VecD b, VecD c) { return {_mm256_fmadd_pd(a.v, b.v, c.v)}; }
};

}  // namespace pn::kernels::avx2
