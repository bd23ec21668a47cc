// The one float32 vector layer of the C++ kernels (gemm, conv2d, attention, roof): one `vf` type
// per ISA variant, chosen at compile time, so every kernel file builds as baseline, avx2 and
// avx512; one exp.
//   AVX-512: __m512 (16 lanes), 32 registers -> 6x64 GEMM micro-tile (24 accumulators)
//   AVX2+FMA: __m256 (8 lanes), 16 registers -> 6x16 GEMM micro-tile (12 accumulators)
//   baseline: GCC vector extension of 4 floats (SSE2 on x86-64, NEON elsewhere), no FMA
//             -> 6x8 GEMM micro-tile (12 accumulators)
// exp(x): written once on the wrappers (after the ISA sections): Cody-Waite range reduction +
// degree-6 polynomial, 2^n by exponent arithmetic (scale2: AVX-512 scalef, AVX2 two exponent-bit
// factors); baseline: libm per lane. Below -87.3 (and -inf) exactly 0, NaN stays NaN; max
// relative error ~2e-7 (tests/test_attention.py). exp2_fma(x, a, b) = 2^(x*a + b): AVX2 has a
// faster one (the attention softmax folds the score scale and log2(e) into a and b;
// FAST_EXP2), the others compose exp.
#pragma once

#include <algorithm>
#include <cmath>
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
static inline vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline float hsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline float hmax(vf a) { return _mm512_reduce_max_ps(a); }
// lanes with index >= n (n may be < 0 or > W) get `fill`
static inline vf tail(vf a, int n, float fill) {
    __mmask16 k = (__mmask16)(n >= 16 ? 0xFFFF : ((1u << (n < 0 ? 0 : n)) - 1u));
    return _mm512_mask_blend_ps(k, _mm512_set1_ps(fill), a);
}
// stores that bypass the caches when p is aligned (output written once, larger than the caches)
static inline void store_nt(float* p, vf v) {
    if (((uintptr_t)p & 63) == 0) return _mm512_stream_ps(p, v);
    storeu(p, v);
}
static inline void sfence() { _mm_sfence(); }
// the pieces of exp() below
typedef __mmask16 vmask;
static inline vf min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vf round(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vmask less(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vf zero_where(vmask m, vf a) { return _mm512_mask_blend_ps(m, a, _mm512_setzero_ps()); }
static inline vf scale2(vf p, vf n) { return _mm512_scalef_ps(p, n); }  // p * 2^n
constexpr bool FAST_EXP2 = false;
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
static inline vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline float hsum(vf a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float hmax(vf a) {  // (std::max order: kept from the attention kernel)
    alignas(32) float t[8];
    _mm256_store_ps(t, a);
    float m = t[0];
    for (int i = 1; i < 8; ++i) m = std::max(m, t[i]);
    return m;
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
// lanes with index >= n (n may be < 0 or > W) get `fill`
static inline vf tail(vf a, int n, float fill) {
    return _mm256_blendv_ps(_mm256_set1_ps(fill), a, _mm256_castsi256_ps(lane_mask(n)));
}
// lanes whose int32 mask is -1 loaded (nothing is read for the others; they are 0), and bitwise or
static inline vf maskload(const float* p, const int32_t* mask) {
    return _mm256_maskload_ps(p, _mm256_load_si256((const __m256i*)mask));
}
static inline vf or_bits(vf a, vf b) { return _mm256_or_ps(a, b); }
// stores that bypass the caches when p is aligned (output written once, larger than the caches)
static inline void store_nt(float* p, vf v) {
    if (((uintptr_t)p & 31) == 0) return _mm256_stream_ps(p, v);
    storeu(p, v);
}
static inline void sfence() { _mm_sfence(); }
// the pieces of exp() below
typedef __m256 vmask;
static inline vf min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf fnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf round(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vmask less(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vf zero_where(vmask m, vf a) { return _mm256_andnot_ps(m, a); }
// p * 2^n for integral n in [-126, 128]: two exponent-bit factors so n = 128 and n = -126 stay
// finite
static inline vf scale2(vf p, vf n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i h = _mm256_srai_epi32(ni, 1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
// 2^(x*a + b), valid for x*a + b <= 127 (softmax arguments are <= ~0). Clamped below at -127,
// where the exponent bits are 0: -inf gives exactly 0. 2^n from the integer bits of
// t + 1.5*2^23 + 127 (round to nearest), degree-6 polynomial for 2^f on [-0.5, 0.5]: max
// relative error ~1e-7.
static inline vf exp2_fma(vf x, vf a, vf b) {
    __m256 t = _mm256_fmadd_ps(x, a, b);
    t = _mm256_max_ps(_mm256_set1_ps(-127.f), t);  // constant first: NaN stays NaN
    t = _mm256_min_ps(_mm256_set1_ps(127.f), t);
    const __m256 magic = _mm256_set1_ps(12583039.f);  // 1.5 * 2^23 + 127
    __m256 v = _mm256_add_ps(t, magic);
    __m256 f = _mm256_sub_ps(t, _mm256_sub_ps(v, magic));
    __m256 p = _mm256_set1_ps(1.5346250438597053e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3399935560300946e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6184872090816e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550328642129898e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022646248340607e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931471824645996e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(v), 23)));
}
constexpr bool FAST_EXP2 = true;
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
static inline vf sub(vf a, vf b) { return a - b; }
static inline vf max(vf a, vf b) { return a > b ? a : b; }
static inline float hsum(vf a) { return (a[0] + a[1]) + (a[2] + a[3]); }
static inline float hmax(vf a) {
    float m = a[0];
    for (int i = 1; i < W; ++i) m = std::max(m, (float)a[i]);
    return m;
}
static inline vf tail(vf a, int n, float fill) {
    vf r;
    for (int i = 0; i < W; ++i) r[i] = i < n ? a[i] : fill;
    return r;
}
static inline void store_nt(float* p, vf v) { storeu(p, v); }
static inline void sfence() {}
static inline vf exp(vf a) {
    vf r;
    for (int i = 0; i < W; ++i) {
        float x = a[i];
        r[i] = x < -87.33654f ? 0.f : std::exp(std::min(x, 88.72283f));
    }
    return r;
}
constexpr bool FAST_EXP2 = false;
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

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// exp(x): x = n ln2 + r (Cody-Waite, ln2 in two parts), degree-6 polynomial for e^r, times 2^n.
// Inputs below -87.3 (and -inf) give exactly 0; the clamps take the constant first, so a NaN
// input comes out as NaN. (Baseline: libm per lane, above.)
static inline vf exp(vf x) {
    const vf lo = set1(-87.33654f);
    const vmask under = less(x, lo);
    x = min(set1(88.72283f), max(lo, x));
    const vf n = round(mul(x, set1(1.44269504088896341f)));
    vf r = fnmadd(n, set1(0.693359375f), x);
    r = fnmadd(n, set1(-2.12194440e-4f), r);
    vf p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    p = fmadd(p, mul(r, r), add(r, set1(1.f)));
    return zero_where(under, scale2(p, n));
}
#endif

#if !(defined(__AVX2__) && defined(__FMA__)) || defined(__AVX512F__)
// 2^(x*a + b) through exp (FAST_EXP2 is false: callers keep exp of scaled arguments)
static inline vf exp2_fma(vf x, vf a, vf b) { return exp(mul(fmadd(x, a, b), set1(0.693147180559945f))); }
#endif

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
