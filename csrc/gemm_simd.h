// The float32 vector layer of the C++ GEMM (and of the roof benchmark): one `vf` type per ISA
// variant, chosen at compile time, so the same gemm.cpp builds as baseline, avx2 and avx512.
//   AVX-512: __m512 (16 lanes), 32 registers -> 6x64 micro-tile (24 accumulators)
//   AVX2+FMA: __m256 (8 lanes), 16 registers -> 6x16 micro-tile (12 accumulators)
//   baseline: GCC vector extension of 4 floats (SSE2 on x86-64, NEON elsewhere), no FMA
//             -> 6x8 micro-tile (12 accumulators)
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace fastnn {
namespace simd {

#if defined(__AVX512F__)
constexpr int W = 16;   // lanes per vector
constexpr int NV = 4;   // vectors per micro-tile row: NR = 64
constexpr int MR = 6;   // micro-tile rows
constexpr int NREG = 32;
typedef __m512 vf;
static inline vf zero() { return _mm512_setzero_ps(); }
static inline vf set1(float x) { return _mm512_set1_ps(x); }
static inline vf load(const float* p) { return _mm512_load_ps(p); }
static inline vf loadu(const float* p) { return _mm512_loadu_ps(p); }
static inline void storeu(float* p, vf v) { _mm512_storeu_ps(p, v); }
static inline void store(float* p, vf v) { _mm512_store_ps(p, v); }
static inline vf fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline float hsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline void prefetch(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_T0); }
// the first n (1..W) lanes; the others load as 0 / are not stored (never touched in memory)
static inline vf loadu_n(const float* p, int n) {
    return n == W ? loadu(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}
static inline void storeu_n(float* p, vf v, int n) {
    if (n == W) storeu(p, v);
    else _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), v);
}
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int W = 8;
constexpr int NV = 2;  // 6x16
constexpr int MR = 6;
constexpr int NREG = 16;
typedef __m256 vf;
static inline vf zero() { return _mm256_setzero_ps(); }
static inline vf set1(float x) { return _mm256_set1_ps(x); }
static inline vf load(const float* p) { return _mm256_load_ps(p); }
static inline vf loadu(const float* p) { return _mm256_loadu_ps(p); }
static inline void storeu(float* p, vf v) { _mm256_storeu_ps(p, v); }
static inline void store(float* p, vf v) { _mm256_store_ps(p, v); }
static inline vf fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline float hsum(vf a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline void prefetch(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_T0); }
static inline __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf loadu_n(const float* p, int n) {
    return n == W ? loadu(p) : _mm256_maskload_ps(p, lane_mask(n));
}
static inline void storeu_n(float* p, vf v, int n) {
    if (n == W) storeu(p, v);
    else _mm256_maskstore_ps(p, lane_mask(n), v);
}
#else
constexpr int W = 4;
constexpr int NV = 2;  // 6x8
constexpr int MR = 6;
constexpr int NREG = 16;
typedef float vf __attribute__((vector_size(16), aligned(16)));
typedef float vf_u __attribute__((vector_size(16), aligned(4)));  // unaligned access
static inline vf zero() { return vf{0.f, 0.f, 0.f, 0.f}; }
static inline vf set1(float x) { return vf{x, x, x, x}; }
static inline vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
static inline vf loadu(const float* p) { return *reinterpret_cast<const vf_u*>(p); }
static inline void storeu(float* p, vf v) { *reinterpret_cast<vf_u*>(p) = v; }
static inline void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }
static inline vf fmadd(vf a, vf b, vf c) { return a * b + c; }
static inline vf mul(vf a, vf b) { return a * b; }
static inline vf add(vf a, vf b) { return a + b; }
static inline vf max(vf a, vf b) { return a > b ? a : b; }
static inline float hsum(vf a) { return (a[0] + a[1]) + (a[2] + a[3]); }
static inline void prefetch(const void* p) { __builtin_prefetch(p); }
static inline vf loadu_n(const float* p, int n) {
    if (n == W) return loadu(p);
    vf v = zero();
    for (int i = 0; i < n; ++i) v[i] = p[i];
    return v;
}
static inline void storeu_n(float* p, vf v, int n) {
    if (n == W) return storeu(p, v);
    for (int i = 0; i < n; ++i) p[i] = v[i];
}
#endif

constexpr int NR = NV * W;  // micro-tile columns

// Transposes the W x W block whose row r starts at src + r * lds into dst (row q at dst + q * ldd):
// dst[q][r] = src[r][q]. Only full blocks; callers handle edges with scalar code.
static inline void transpose_block(const float* src, int64_t lds, float* dst, int64_t ldd) {
#if defined(__AVX512F__)
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + q], lane L: column 4L + q of rows 4g..4g+3
    for (int g = 0; g < 4; ++g) {
        __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
        __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
        r[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    // 4x4 transpose of 128-bit lanes among u[q], u[4+q], u[8+q], u[12+q]
    for (int q = 0; q < 4; ++q) {
        __m512 v0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xEE);
        __m512 v2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44);
        __m512 v3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xEE);
        _mm512_storeu_ps(dst + (0 + q) * ldd, _mm512_shuffle_f32x4(v0, v2, 0x88));
        _mm512_storeu_ps(dst + (4 + q) * ldd, _mm512_shuffle_f32x4(v0, v2, 0xDD));
        _mm512_storeu_ps(dst + (8 + q) * ldd, _mm512_shuffle_f32x4(v1, v3, 0x88));
        _mm512_storeu_ps(dst + (12 + q) * ldd, _mm512_shuffle_f32x4(v1, v3, 0xDD));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 2; ++g) {
        r[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        r[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        r[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        r[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {
        _mm256_storeu_ps(dst + q * ldd, _mm256_permute2f128_ps(r[q], r[4 + q], 0x20));
        _mm256_storeu_ps(dst + (4 + q) * ldd, _mm256_permute2f128_ps(r[q], r[4 + q], 0x31));
    }
#else
    for (int q = 0; q < W; ++q)
        for (int r = 0; r < W; ++r) dst[q * ldd + r] = src[r * lds + q];
#endif
}

}  // namespace simd
}  // namespace fastnn
