// 16-lane float vector for the AVX-512 translation units (compiled with -mavx512f and friends).
// Same interface as vec_avx2.h; see there.
#pragma once

#include <immintrin.h>

namespace pn::kernels::avx512 {

struct Vec {
  static constexpr int width = 16;
  __m512 v;

  static Vec zero() { return {_mm512_setzero_ps()}; }
  static Vec set1(float x) { return {_mm512_set1_ps(x)}; }
  static Vec broadcast(const float* p) { return {_mm512_set1_ps(*p)}; }
  static Vec load(const float* p) { return {_mm512_load_ps(p)}; }
  static Vec loadu(const float* p) { return {_mm512_loadu_ps(p)}; }
  void storeu(float* p) const { _mm512_storeu_ps(p, v); }
  void store(float* p) const { _mm512_store_ps(p, v); }

  friend Vec operator+(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
  friend Vec operator-(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
  friend Vec operator*(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
  static Vec fma(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  static Vec max(Vec a, Vec b) { return {_mm512_max_ps(a.v, b.v)}; }
  static Vec where_positive(Vec gate, Vec x) {
    const __mmask16 open = _mm512_cmp_ps_mask(gate.v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return {_mm512_maskz_mov_ps(open, x.v)};
  }
  static __mmask16 greater(Vec b, Vec a) { return _mm512_cmp_ps_mask(b.v, a.v, _CMP_GT_OQ); }
  static Vec blend(Vec a, Vec b, __mmask16 mask) { return {_mm512_mask_blend_ps(mask, a.v, b.v)}; }
  static Vec iota() { return {_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)}; }
  static Vec gather(const float* p, int stride) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(stride));
    return {_mm512_i32gather_ps(idx, p, 4)};
  }
  void store_i32(int* p) const { _mm512_storeu_si512(p, _mm512_cvttps_epi32(v)); }
  void add_to_f64(double* p) const {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    _mm512_storeu_pd(p, _mm512_add_pd(_mm512_loadu_pd(p), lo));
    _mm512_storeu_pd(p + 8, _mm512_add_pd(_mm512_loadu_pd(p + 8), hi));
  }
  float sum() const { return _mm512_reduce_add_ps(v); }
};

using Mask = __mmask16;

// 8-lane double vector (see vec_avx2.h).
struct VecD {
  static constexpr int width = 8;
  __m512d v;

  static VecD zero() { return {_mm512_setzero_pd()}; }
  static VecD broadcast(const double* p) { return {_mm512_set1_pd(*p)}; }
  static VecD loadu(const double* p) { return {_mm512_loadu_pd(p)}; }
  void storeu(double* p) const { _mm512_storeu_pd(p, v); }
  friend VecD operator+(VecD a, VecD b) { return {_mm512_add_pd(a.v, b.v)}; }
  static VecD fma(VecD a, VecD b, VecD c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
};

}  // namespace pn::kernels::avx512
