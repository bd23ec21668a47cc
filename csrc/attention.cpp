// Fused scaled dot-product attention, float32: FlashAttention-2 forward and backward.
//
// Forward: OpenMP over (batch x heads x query blocks of BQ rows), dynamic schedule (causal
// blocks differ in cost). Each task walks key blocks of BK keys with the online softmax: S =
// Q_blk K_blk^T (register-blocked micro-kernel), one vectorised pass per row (scale, mask,
// running max, fast exp, running sum, rescale of the output row), then O_blk += P V_blk with
// the same micro-kernel. Causal: key blocks right of the diagonal are skipped, the diagonal
// block masks by a per-row column limit. Only BQ x BK scores exist at a time: extra memory is
// K^T (and V) packed, O(L d).
// Backward (FA-2): per (batch x head [x key-block group when there are fewer heads than
// threads]) task, for each key block j and each query block i: recompute S, P = exp(S - lse),
// dP = dO V^T, dS = P (dP - D) with D = rowsum(dO o O); dV_j += P^T dO_i, dK_j += dS^T Q_i,
// dQ_i += dS K_j, all with the one micro-kernel (transposed A operands are read by broadcast).
//
// Micro-kernel: C[MR x 16*NV] (+)= A[MR x K] B[K x 16*NV]; A is read one scalar at a time
// (row- or column-major, a template argument), B rows are contiguous vectors. Every N dimension
// is padded to a multiple of 16 in our own buffers, so the kernel needs no masked tails.
// Vector type V16 (16 floats) on the one SIMD layer, csrc/simd.h: one zmm (AVX-512), two ymm
// (AVX2+FMA), four 4-float GCC vectors (baseline).
// Tiles: AVX-512 6 x 64 (24 of 32 zmm accumulators); AVX2 6 x 16 (12 of 16 ymm, like BLIS
// haswell; 6 x 64 needed 48 ymm and spilled). AVX2 packs every B operand (K^T, V^T, V, Q, K,
// dO) in contiguous 16-column panels: with a block's or a row's stride the 64-256 rows of a
// 16-column panel fell in a few L1 sets. AVX2 forward: each thread packs its task's head
// itself (no barrier between packing and use). Blocks (both ISAs): forward BQ 48 x BK 256,
// backward 128 x 128 (on Zen 3, 48x128/96x128/96x256/24x256/48x512 forward and 64x64 .. 256x128
// backward were all within the noise, 2026-12-01).
// exp: simd::exp (Cody-Waite + degree-6 polynomial; below -87.3 exactly 0); the AVX2 softmax
// passes use simd::exp2_fma, 2^(s * scale*log2e - m*log2e) with the scale folded in (no scaling
// pass when there is no mask).
//
// Versions (ratio: GFLOP/s vs PyTorch 2.13 CPU SDPA timed interleaved; notes and every figure in
// docs/benchmarks.md, "Kernel history")
//   version  idea                                           measured                      date
//   1        FA-2 fwd/bwd, 64x64 bwd blocks, K^T with       -                            2026-11-23
//            row stride Lk
//   2        128x128 bwd blocks, K^T/V^T packed per key     Zen 4 AVX-512, 2 thr: fwd    2026-11-23
//            block                                          1.13-1.33x, bwd 1.30-1.47x
//   3 (now)  AVX2: 6x16 tile, 16-column B panels, folded    Zen 3 AVX2, 1 thr: fwd       2026-12-01
//            exp2, per-thread head packing (AVX-512 as 2)   1.12-1.19x, bwd 1.15-1.28x
//            (version 2 on AVX2: 0.40-0.51x)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "common.h"
#include "simd.h"

namespace fastnn {
namespace attn {

// ------------------------------------------------------------------------------ vector type
// V16: 16 floats as 16 / simd::W vectors of the one SIMD layer (csrc/simd.h): one zmm (AVX-512),
// two ymm (AVX2+FMA), four 4-float GCC vectors (baseline). The tiles and panels below are 16
// columns wide on every ISA.
constexpr int VN = 16 / simd::W;
static_assert(VN * simd::W == 16, "V16: a whole number of vectors");
struct V16 {
    simd::vf p[VN];
};
// V16{f(0), .., f(VN-1)} and f(0); ..; f(VN-1) with compile-time indices: no loop over p[], so
// GCC keeps every part in a register (a loop over a V16's array sent the AVX2 accumulators
// through the stack: attention 7-18% slower)
template <class F, int... I>
static inline V16 vmap_(F f, std::integer_sequence<int, I...>) {
    return V16{{f(std::integral_constant<int, I>{})...}};
}
template <class F>
static inline V16 vmap(F f) {
    return vmap_(f, std::make_integer_sequence<int, VN>{});
}
template <class F, int... I>
static inline void vfor_(F f, std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
}
template <class F>
static inline void vfor(F f) {
    vfor_(f, std::make_integer_sequence<int, VN>{});
}
static inline V16 vload(const float* p) { return vmap([&](auto i) { return simd::loadu(p + i * simd::W); }); }
static inline void vstore(float* p, V16 a) {
    vfor([&](auto i) { simd::storeu(p + i * simd::W, a.p[i]); });
}
static inline V16 vset1(float x) { return vmap([&](auto) { return simd::set1(x); }); }
static inline V16 vfma(V16 a, V16 b, V16 c) {
    return vmap([&](auto i) { return simd::fmadd(a.p[i], b.p[i], c.p[i]); });
}
static inline V16 vadd(V16 a, V16 b) { return vmap([&](auto i) { return simd::add(a.p[i], b.p[i]); }); }
static inline V16 vsub(V16 a, V16 b) { return vmap([&](auto i) { return simd::sub(a.p[i], b.p[i]); }); }
static inline V16 vmul(V16 a, V16 b) { return vmap([&](auto i) { return simd::mul(a.p[i], b.p[i]); }); }
static inline V16 vmax(V16 a, V16 b) { return vmap([&](auto i) { return simd::max(a.p[i], b.p[i]); }); }
static inline float vhmax(V16 a) {
    simd::vf m = a.p[0];
    vfor([&](auto i) { if constexpr (i > 0) m = simd::max(m, a.p[i]); });
    return simd::hmax(m);
}
static inline float vhsum(V16 a) {
    simd::vf s = a.p[0];
    vfor([&](auto i) { if constexpr (i > 0) s = simd::add(s, a.p[i]); });
    return simd::hsum(s);
}
// lanes with index >= n get `fill`
static inline V16 vtail(V16 a, int n, float fill) {
    return vmap([&](auto i) { return simd::tail(a.p[i], n - i * simd::W, fill); });
}
static inline V16 vexp(V16 a) { return vmap([&](auto i) { return simd::exp(a.p[i]); }); }
// 2^(x*a + b): the softmax passes' exp with the score scale and log2(e) folded into a and b
// (FOLD_EXP2, where the ISA has a fast exp2: AVX2; the others keep exp of scaled scores)
static inline V16 vexp2(V16 x, V16 a, V16 b) {
    return vmap([&](auto i) { return simd::exp2_fma(x.p[i], a.p[i], b.p[i]); });
}
constexpr bool FOLD_EXP2 = simd::FAST_EXP2;

// Scalar exp with the vector version's semantics, for tests (attention_exp_test).
static void vexp_array(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vstore(y + i, vexp(vload(x + i)));
    if (i < n) {
        alignas(64) float t[16];
        for (int j = 0; j < 16; ++j) t[j] = i + j < n ? x[i + j] : 0.f;
        vstore(t, vexp(vload(t)));
        for (int64_t j = 0; i + j < n; ++j) y[i + j] = t[j];
    }
}

// ---------------------------------------------------------------------------- micro-kernel
// C[r, 16v + l] (+)= sum_p A(r, p) * B[p*ldb + 16v + l], A(r, p) = A[r*lda + p], or A[p*lda + r]
// when TA. ACC and TA are template arguments: a run-time `acc ? load : zero`, and GCC's
// versioning of a run-time stride, routed the AVX2 accumulators through the stack.
template <int MR, int NV, bool ACC, bool TA>
static void ukr(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc) {
    V16 c[MR][NV];
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) c[r][v] = ACC ? vload(C + r * ldc + 16 * v) : vset1(0.f);
    if (K <= 0) {  // (keeps the loop below free of a zero-trip path: GCC spilled around it)
        for (int r = 0; r < MR; ++r)
            for (int v = 0; v < NV; ++v) vstore(C + r * ldc + 16 * v, c[r][v]);
        return;
    }
    int64_t p = 0;
    do {
        V16 b[NV];
        for (int v = 0; v < NV; ++v) b[v] = vload(B + p * ldb + 16 * v);
        for (int r = 0; r < MR; ++r) {
            V16 ar = vset1(TA ? A[p * lda + r] : A[r * lda + p]);
            for (int v = 0; v < NV; ++v) c[r][v] = vfma(ar, b[v], c[r][v]);
        }
    } while (++p < K);
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) vstore(C + r * ldc + 16 * v, c[r][v]);
}

using ukr_fn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t);

constexpr int MRMAX = 6;
// AVX2 (16 ymm registers): 6 x 16 (12 ymm accumulators, 2 for B, 1 broadcast), like BLIS
// haswell; AVX-512: 6 x 64, 24 of the 32 zmm registers (baseline as AVX-512, spilling)
constexpr int NVMAX = simd::W == 8 ? 1 : 4;

template <int MR, bool ACC, bool TA>
static ukr_fn pick_nv(int nv) {
    if constexpr (NVMAX == 1) {
        return ukr<MR, 1, ACC, TA>;
    } else {
        return nv == 1 ? ukr<MR, 1, ACC, TA> : nv == 2 ? ukr<MR, 2, ACC, TA>
             : nv == 3 ? ukr<MR, 3, ACC, TA> : ukr<MR, 4, ACC, TA>;
    }
}
template <bool ACC, bool TA>
static ukr_fn pick_mr(int mr, int nv) {
    switch (mr) {
        case 1: return pick_nv<1, ACC, TA>(nv);
        case 2: return pick_nv<2, ACC, TA>(nv);
        case 3: return pick_nv<3, ACC, TA>(nv);
        case 4: return pick_nv<4, ACC, TA>(nv);
        case 5: return pick_nv<5, ACC, TA>(nv);
        default: return pick_nv<6, ACC, TA>(nv);
    }
}
static ukr_fn pick(int mr, int nv, bool acc, bool ta) {
    return acc ? (ta ? pick_mr<true, true>(mr, nv) : pick_mr<true, false>(mr, nv))
               : (ta ? pick_mr<false, true>(mr, nv) : pick_mr<false, false>(mr, nv));
}

// C[M x N] (+)= A[M x K] B[K x N]; N a multiple of 16; A(i, p) = A[i*rsa + p*csa] with rsa == 1
// or csa == 1. B(p, j) = B[p*ldb + j], or with pstride > 0 B is stored in column panels of width
// ldb (a multiple of 16*NVMAX): B(p, j) = B[(j / ldb)*pstride + p*ldb + j % ldb].
static void block_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
                       const float* B, int64_t ldb, float* C, int64_t ldc, bool acc,
                       int64_t pstride = 0) {
    const bool ta = csa != 1;
    const int64_t lda = ta ? csa : rsa;
    for (int64_t j = 0; j < N; j += 16 * NVMAX) {
        const int nv = (int)std::min<int64_t>(NVMAX, (N - j) / 16);
        ukr_fn full = pick(MRMAX, nv, acc, ta);
        const float* Bj = pstride > 0 ? B + j / ldb * pstride + j % ldb : B + j;
        int64_t i = 0;
        for (; i + MRMAX <= M; i += MRMAX)
            full(K, A + i * rsa, lda, Bj, ldb, C + i * ldc + j, ldc);
        if (i < M) pick((int)(M - i), nv, acc, ta)(K, A + i * rsa, lda, Bj, ldb, C + i * ldc + j, ldc);
    }
}

static inline int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols; zero the padded columns r >= rows
static void transpose_pad(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                          int64_t ldd) {
    constexpr int W = simd::W;
    int64_t r0 = 0;
    // W x W vector tiles (the scalar strided loop below was ~3% of a forward); baseline: scalar
    if constexpr (W >= 8) {
        for (; r0 + W <= rows; r0 += W) {
            int64_t c = 0;
            for (; c + W <= cols; c += W)
                simd::transpose_block(src + r0 * lds + c, lds, dst + c * ldd + r0, ldd);
            for (; c < cols; ++c)
                for (int64_t r = r0; r < r0 + W; ++r) dst[c * ldd + r] = src[r * lds + c];
        }
    }
    for (int64_t c = 0; c < cols; ++c) {
        float* d = dst + c * ldd;
        for (int64_t r = r0; r < rows; ++r) d[r] = src[r * lds + c];
        for (int64_t r = rows; r < ldd; ++r) d[r] = 0.f;
    }
}

// K^T packed per key block: block kb holds (cols x bk) with element (c, r) = src[(kb*bk + r), c],
// zero for keys beyond rows. A block's rows are bk floats apart (not Lk: a power-of-two Lk would
// put every row of the panel in the same L1 sets).
static void transpose_blocked(const float* src, int64_t rows, int64_t cols, int64_t bk, float* dst) {
    const int64_t nb = (rows + bk - 1) / bk;
    for (int64_t kb = 0; kb < nb; ++kb) {
        const int64_t j0 = kb * bk, n = std::min(bk, rows - j0);
        transpose_pad(src + j0 * cols, n, cols, cols, dst + kb * cols * bk, bk);
    }
}

// dst = src (rows x cols) in column panels of width w: panel p (rows x w) at dst + p*rows*w,
// zero columns up to a multiple of w (w == pad16(cols): rows padded to a multiple of 16).
static void copy_panels(const float* src, int64_t rows, int64_t cols, int64_t w, float* dst) {
    for (int64_t c0 = 0; c0 < cols; c0 += w) {
        const int64_t n = std::min(w, cols - c0);
        float* d = dst + c0 * rows;
        for (int64_t r = 0; r < rows; ++r) {
            const float* sr = src + r * cols + c0;
            float* dr = d + r * w;
            int64_t c = 0;
            for (; c + 16 <= n; c += 16) vstore(dr + c, vload(sr + c));  // (a 64-byte memcpy call
            for (; c < n; ++c) dr[c] = sr[c];                             // per row cost ~10%)
            for (; c < w; ++c) dr[c] = 0.f;
        }
    }
}

struct Shape {
    int64_t B, H, Lq, Lk, D, Dv, Bm, Hm;
    float scale;
    bool causal;
    const float* mask;  // (Bm, Hm, Lq, Lk) additive or null
    const float* mask_at(int64_t b, int64_t h) const {
        if (!mask) return nullptr;
        return mask + ((Bm == 1 ? 0 : b) * Hm + (Hm == 1 ? 0 : h)) * Lq * Lk;
    }
};

// Column limit of query row i in the key block starting at j0 with nk keys: keys >= limit are
// masked by causality (or do not exist).
static inline int64_t row_limit(const Shape& s, int64_t i, int64_t j0, int64_t nk) {
    if (!s.causal) return nk;
    return std::max<int64_t>(0, std::min<int64_t>(nk, i - j0 + 1));
}

// s[0..lim) = s*scale + mask (masked columns up to nkp -> -inf); returns the max.
static inline float scale_mask_row(float* srow, const float* mrow, int64_t lim, int64_t nkp,
                                   float scale) {
    const V16 vs = vset1(scale);
    const float ninf = -std::numeric_limits<float>::infinity();
    V16 vm = vset1(ninf);
    for (int64_t c = 0; c < nkp; c += 16) {
        const int n = (int)std::min<int64_t>(16, lim - c);
        V16 x;
        if (n <= 0) {
            x = vset1(ninf);
        } else {
            x = vmul(vload(srow + c), vs);
            if (mrow) {
                if (n == 16) {
                    x = vadd(x, vload(mrow + c));
                } else {
                    alignas(64) float t[16] = {0};
                    for (int l = 0; l < n; ++l) t[l] = mrow[c + l];
                    x = vadd(x, vload(t));
                }
            }
            if (n < 16) x = vtail(x, n, ninf);
        }
        vstore(srow + c, x);
        vm = vmax(vm, x);
    }
    return vhmax(vm);
}

constexpr float LOG2E = 1.44269504088896341f;

// Max of the unscaled row over columns < lim; columns lim..nkp become -inf. With no mask and
// scale > 0, scale * this is the max of the scaled row (rounding is monotonic).
static inline float rawmax_row(float* srow, int64_t lim, int64_t nkp) {
    const float ninf = -std::numeric_limits<float>::infinity();
    V16 vm = vset1(ninf);
    int64_t c = 0;
    for (; c + 16 <= lim; c += 16) vm = vmax(vm, vload(srow + c));
    for (; c < nkp; c += 16) {
        const int n = (int)std::max<int64_t>(-1, std::min<int64_t>(16, lim - c));
        V16 x = vtail(vload(srow + c), n, ninf);
        vstore(srow + c, x);
        vm = vmax(vm, x);
    }
    return vhmax(vm);
}

// ------------------------------------------------------------------------------- forward
// block sizes (overridable at compile time for benchmarks/attention_tuning.py experiments)
#ifndef FASTNN_ATTN_FWD_BQ
#define FASTNN_ATTN_FWD_BQ 48
#endif
#ifndef FASTNN_ATTN_FWD_BK
#define FASTNN_ATTN_FWD_BK 256
#endif
#ifndef FASTNN_ATTN_BWD_BQ
#define FASTNN_ATTN_BWD_BQ 128
#endif
#ifndef FASTNN_ATTN_BWD_BK
#define FASTNN_ATTN_BWD_BK 128
#endif
constexpr int64_t FWD_BQ = FASTNN_ATTN_FWD_BQ;
constexpr int64_t FWD_BK = FASTNN_ATTN_FWD_BK;
// K^T packed in panels of KTW keys (D x KTW each). AVX2: 16, one micro-tile wide, so a panel is
// contiguous (with the row stride of a 256-key block, the 64 rows of a 16-column panel fell in
// 4 of the 64 L1 sets). AVX-512: the whole key block, as before.
constexpr int64_t FWD_KTW = NVMAX == 1 ? 16 : FWD_BK;
static_assert(FWD_BK % FWD_KTW == 0 && FWD_KTW % 16 == 0, "key block: a multiple of the panel");
#ifndef FASTNN_ATTN_FWD_LOCAL_PACK
#define FASTNN_ATTN_FWD_LOCAL_PACK (NVMAX == 1)  // AVX2 (see forward); AVX-512 as before
#endif
constexpr bool FWD_LOCAL_PACK = FASTNN_ATTN_FWD_LOCAL_PACK;

static void forward(const Shape& s, const float* Q, const float* K, const float* V, float* O,
                    float* LSE) {
    const int64_t B = s.B, H = s.H, Lq = s.Lq, Lk = s.Lk, D = s.D, Dv = s.Dv;
    const int64_t BH = B * H;
    const int64_t Lkp = pad16(Lk), Dvp = pad16(Dv);
    // V in column panels of vw (Lk x vw each, zero columns up to Dvp): AVX2 16, one micro-tile
    // (contiguous B rows); AVX-512 Dvp, i.e. V itself, padded when Dv is not a multiple of 16.
    const int64_t vw = NVMAX == 1 ? 16 : Dvp;
    const bool pack_v = NVMAX == 1 || Dv != Dvp;
    // K^T per (b, h), in panels of FWD_KTW keys: (D x FWD_KTW) each, zero beyond Lk; key j0's
    // panel starts at j0 * D.
    const int64_t nkb = (Lk + FWD_BK - 1) / FWD_BK, ktsz = nkb * D * FWD_BK;
    const int64_t nqb = (Lq + FWD_BQ - 1) / FWD_BQ;
    // FWD_LOCAL_PACK: each thread packs the head of its task into its own buffers (when its
    // previous task was another head), tasks are handed out in runs of `chunk` query blocks of
    // one head: no barrier between packing and use. Otherwise all heads are packed first.
    const bool local = FWD_LOCAL_PACK;
    const int64_t chunk =
        local ? std::max<int64_t>(1, std::min<int64_t>(nqb, BH * nqb / (4 * max_threads()))) : 1;
    std::unique_ptr<float[]> kt(local ? nullptr : new float[std::max<int64_t>(1, BH * ktsz)]);
    std::unique_ptr<float[]> vp(pack_v && !local ? new float[std::max<int64_t>(1, BH * Lk * Dvp)]
                                                 : nullptr);
    const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel
    {
        if (!local) {  // packing and the query blocks in one parallel region
#pragma omp for schedule(static)
            for (int64_t bh = 0; bh < BH; ++bh) {
                transpose_blocked(K + bh * Lk * D, Lk, D, FWD_KTW, kt.get() + bh * ktsz);
                if (pack_v) copy_panels(V + bh * Lk * Dv, Lk, Dv, vw, vp.get() + bh * Lk * Dvp);
            }
        }
        std::vector<float> ktl(local ? ktsz + 16 : 0), vpl(local && pack_v ? Lk * Dvp + 16 : 0);
        int64_t packed = -1;
        std::vector<float> sbuf(FWD_BQ * std::min<int64_t>(FWD_BK, Lkp) + 16);
        std::vector<float> obuf(FWD_BQ * Dvp + 16), mrow(FWD_BQ), lrow(FWD_BQ);
        const int64_t lds = std::min<int64_t>(FWD_BK, Lkp);
#pragma omp for schedule(dynamic, chunk)
        for (int64_t task = 0; task < BH * nqb; ++task) {
            const int64_t bh = task / nqb, qb = task % nqb;
            const int64_t b = bh / H, h = bh % H;
            const int64_t i0 = qb * FWD_BQ, mq = std::min(FWD_BQ, Lq - i0);
            const float* q = Q + (bh * Lq + i0) * D;
            if (local && bh != packed) {
                transpose_blocked(K + bh * Lk * D, Lk, D, FWD_KTW, ktl.data());
                if (pack_v) copy_panels(V + bh * Lk * Dv, Lk, Dv, vw, vpl.data());
                packed = bh;
            }
            const float* ktb = local ? ktl.data() : kt.get() + bh * ktsz;
            const float* vb = !pack_v ? V + bh * Lk * Dv : local ? vpl.data() : vp.get() + bh * Lk * Dvp;
            const float* mb = s.mask_at(b, h);
            std::fill(obuf.begin(), obuf.end(), 0.f);
            std::fill(mrow.begin(), mrow.end(), ninf);
            std::fill(lrow.begin(), lrow.end(), 0.f);
            // causal: keys beyond the last row's diagonal are never seen
            const int64_t kend = s.causal ? std::min(Lk, i0 + mq) : Lk;
            for (int64_t j0 = 0; j0 < kend; j0 += FWD_BK) {
                const int64_t nk = std::min(FWD_BK, kend - j0), nkp = pad16(nk);
                block_gemm(mq, nkp, D, q, D, 1, ktb + j0 * D, FWD_KTW, sbuf.data(), lds, false,
                           D * FWD_KTW);
                for (int64_t r = 0; r < mq; ++r) {
                    float* srow = sbuf.data() + r * lds;
                    const int64_t lim = row_limit(s, i0 + r, j0, nk);
                    const float* mr = mb ? mb + (i0 + r) * Lk + j0 : nullptr;
                    // fold: scores stay unscaled, exp2(s * scale*log2e - m*log2e) in one pass
                    const bool fold = FOLD_EXP2 && !mr && s.scale > 0.f;
                    const float bmax = fold ? s.scale * rawmax_row(srow, lim, nkp)
                                            : scale_mask_row(srow, mr, lim, nkp, s.scale);
                    const float mnew = std::max(mrow[r], bmax);
                    const float muse = mnew == ninf ? 0.f : mnew;
                    const float alpha = mrow[r] == ninf ? 0.f : std::exp(mrow[r] - muse);
                    V16 acc = vset1(0.f);
                    if (FOLD_EXP2) {
                        const V16 va = vset1((fold ? s.scale : 1.f) * LOG2E), vb = vset1(-muse * LOG2E);
                        for (int64_t c = 0; c < nkp; c += 16) {
                            V16 e = vexp2(vload(srow + c), va, vb);
                            vstore(srow + c, e);
                            acc = vadd(acc, e);
                        }
                    } else {
                        const V16 vmuse = vset1(muse);
                        for (int64_t c = 0; c < nkp; c += 16) {
                            V16 e = vexp(vsub(vload(srow + c), vmuse));
                            vstore(srow + c, e);
                            acc = vadd(acc, e);
                        }
                    }
                    lrow[r] = lrow[r] * alpha + vhsum(acc);
                    mrow[r] = mnew;
                    if (alpha != 1.f) {
                        float* orow = obuf.data() + r * Dvp;
                        const V16 va = vset1(alpha);
                        for (int64_t c = 0; c < Dvp; c += 16) vstore(orow + c, vmul(vload(orow + c), va));
                    }
                }
                block_gemm(mq, Dvp, nk, sbuf.data(), lds, 1, vb + j0 * vw, vw, obuf.data(), Dvp, true,
                           Lk * vw);
            }
            for (int64_t r = 0; r < mq; ++r) {
                float* out = O + (bh * Lq + i0 + r) * Dv;
                const float l = lrow[r];
                if (l != 0.f) {  // NaN scores give NaN rows, not zeros
                    const float inv = 1.f / l;
                    for (int64_t c = 0; c < Dv; ++c) out[c] = obuf[r * Dvp + c] * inv;
                    LSE[bh * Lq + i0 + r] = mrow[r] + std::log(l);
                } else {
                    for (int64_t c = 0; c < Dv; ++c) out[c] = 0.f;
                    LSE[bh * Lq + i0 + r] = std::numeric_limits<float>::infinity();
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------ backward
constexpr int64_t BWD_BQ = FASTNN_ATTN_BWD_BQ;
constexpr int64_t BWD_BK = FASTNN_ATTN_BWD_BK;
constexpr int64_t BWD_KTW = NVMAX == 1 ? 16 : BWD_BK;  // K^T / V^T panels, as FWD_KTW
static_assert(BWD_BK % BWD_KTW == 0 && BWD_KTW % 16 == 0, "key block: a multiple of the panel");

static void backward(const Shape& s, const float* dO, const float* Q, const float* K,
                     const float* V, const float* O, const float* LSE, float* dQ, float* dK,
                     float* dV) {
    const int64_t B = s.B, H = s.H, Lq = s.Lq, Lk = s.Lk, D = s.D, Dv = s.Dv;
    const int64_t BH = B * H;
    const int64_t Dp = pad16(D), Dvp = pad16(Dv);
    const int64_t nkb = (Lk + BWD_BK - 1) / BWD_BK;
    // Q, K, dO in column panels of dw / dvw (see forward's V): AVX2 16, AVX-512 the padded row
    const int64_t dw = NVMAX == 1 ? 16 : Dp, dvw = NVMAX == 1 ? 16 : Dvp;
    const int nthreads = max_threads();
    // fewer heads than threads: split key blocks into groups, each with its own dQ partial
    const int64_t G = BH >= nthreads ? 1 : std::max<int64_t>(1, std::min<int64_t>(nkb, (nthreads + BH - 1) / BH));
    std::unique_ptr<float[]> dqp(G > 1 ? new float[std::max<int64_t>(1, G * BH * Lq * Dp)] : nullptr);
    const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel
    {
        std::vector<float> kt(nkb * D * BWD_BK + 16), vt(nkb * Dv * BWD_BK + 16), qp(Lq * Dp + 16),
            kp(Lk * Dp + 16),
            dop(Lq * Dvp + 16), delta(Lq + 1), dqacc(G > 1 ? 0 : Lq * Dp + 16);
        std::vector<float> sb(BWD_BQ * BWD_BK), dpb(BWD_BQ * BWD_BK), dkacc(BWD_BK * Dp),
            dvacc(BWD_BK * Dvp);
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < BH * G; ++task) {
            const int64_t bh = task / G, g = task % G;
            const int64_t b = bh / H, h = bh % H;
            const float* q = Q + bh * Lq * D;
            const float* k = K + bh * Lk * D;
            const float* v = V + bh * Lk * Dv;
            const float* o = O + bh * Lq * Dv;
            const float* go = dO + bh * Lq * Dv;
            const float* lse = LSE + bh * Lq;
            const float* mb = s.mask_at(b, h);
            transpose_blocked(k, Lk, D, BWD_KTW, kt.data());
            transpose_blocked(v, Lk, Dv, BWD_KTW, vt.data());
            copy_panels(q, Lq, D, dw, qp.data());
            copy_panels(k, Lk, D, dw, kp.data());
            copy_panels(go, Lq, Dv, dvw, dop.data());
            for (int64_t i = 0; i < Lq; ++i) {
                float acc = 0.f;
                for (int64_t c = 0; c < Dv; ++c) acc += go[i * Dv + c] * o[i * Dv + c];
                delta[i] = acc;
            }
            float* dqa = G > 1 ? dqp.get() + (g * BH + bh) * Lq * Dp : dqacc.data();
            std::fill(dqa, dqa + Lq * Dp, 0.f);
            const int64_t kb_lo = g * nkb / G, kb_hi = (g + 1) * nkb / G;
            for (int64_t kb = kb_lo; kb < kb_hi; ++kb) {
                const int64_t j0 = kb * BWD_BK, nk = std::min(BWD_BK, Lk - j0), nkp = pad16(nk);
                std::fill(dkacc.begin(), dkacc.end(), 0.f);
                std::fill(dvacc.begin(), dvacc.end(), 0.f);
                const int64_t istart = s.causal ? j0 / BWD_BQ * BWD_BQ : 0;
                for (int64_t i0 = istart; i0 < Lq; i0 += BWD_BQ) {
                    const int64_t mq = std::min(BWD_BQ, Lq - i0);
                    block_gemm(mq, nkp, D, q + i0 * D, D, 1, kt.data() + j0 * D, BWD_KTW, sb.data(),
                               BWD_BK, false, D * BWD_KTW);
                    block_gemm(mq, nkp, Dv, go + i0 * Dv, Dv, 1, vt.data() + j0 * Dv, BWD_KTW,
                               dpb.data(), BWD_BK, false, Dv * BWD_KTW);
                    for (int64_t r = 0; r < mq; ++r) {
                        float* srow = sb.data() + r * BWD_BK;
                        float* dprow = dpb.data() + r * BWD_BK;
                        const int64_t lim = row_limit(s, i0 + r, j0, nk);
                        const float* mr = mb ? mb + (i0 + r) * Lk + j0 : nullptr;
                        const bool fold = FOLD_EXP2 && !mr && s.scale > 0.f;
                        if (!fold) scale_mask_row(srow, mr, lim, nkp, s.scale);
                        const float l = lse[i0 + r];
                        const V16 vl = vset1(l == -ninf ? 0.f : l);
                        const bool dead = l == -ninf;  // fully masked row: P = 0
                        const V16 vd = vset1(delta[i0 + r]);
                        if (FOLD_EXP2) {  // P = exp2(s * scale*log2e - lse*log2e), 0 from column lim
                            const V16 va = vset1((fold ? s.scale : 1.f) * LOG2E);
                            const V16 vb = vset1(-(l == -ninf ? 0.f : l) * LOG2E);
                            for (int64_t c = 0; c < nkp; c += 16) {
                                V16 p = dead ? vset1(0.f) : vexp2(vload(srow + c), va, vb);
                                if (fold && c + 16 > lim) p = vtail(p, (int)(lim - c), 0.f);
                                vstore(srow + c, p);
                                vstore(dprow + c, vmul(p, vsub(vload(dprow + c), vd)));
                            }
                        } else {
                            for (int64_t c = 0; c < nkp; c += 16) {
                                V16 p = dead ? vset1(0.f) : vexp(vsub(vload(srow + c), vl));
                                vstore(srow + c, p);
                                vstore(dprow + c, vmul(p, vsub(vload(dprow + c), vd)));
                            }
                        }
                    }
                    // dV_j += P^T dO_i ; dK_j += dS^T Q_i ; dQ_i += dS K_j
                    block_gemm(nk, Dvp, mq, sb.data(), 1, BWD_BK, dop.data() + i0 * dvw, dvw, dvacc.data(),
                               Dvp, true, Lq * dvw);
                    block_gemm(nk, Dp, mq, dpb.data(), 1, BWD_BK, qp.data() + i0 * dw, dw, dkacc.data(), Dp,
                               true, Lq * dw);
                    block_gemm(mq, Dp, nk, dpb.data(), BWD_BK, 1, kp.data() + j0 * dw, dw, dqa + i0 * Dp, Dp,
                               true, Lk * dw);
                }
                for (int64_t r = 0; r < nk; ++r) {
                    float* dkr = dK + (bh * Lk + j0 + r) * D;
                    float* dvr = dV + (bh * Lk + j0 + r) * Dv;
                    for (int64_t c = 0; c < D; ++c) dkr[c] = dkacc[r * Dp + c] * s.scale;
                    for (int64_t c = 0; c < Dv; ++c) dvr[c] = dvacc[r * Dvp + c];
                }
            }
            if (G == 1)
                for (int64_t i = 0; i < Lq; ++i)
                    for (int64_t c = 0; c < D; ++c) dQ[(bh * Lq + i) * D + c] = dqa[i * Dp + c] * s.scale;
        }
        if (G > 1) {
#pragma omp for schedule(static)
            for (int64_t bh = 0; bh < BH; ++bh)
                for (int64_t i = 0; i < Lq; ++i)
                    for (int64_t c = 0; c < D; ++c) {
                        float acc = 0.f;
                        for (int64_t g = 0; g < G; ++g) acc += dqp[((g * BH + bh) * Lq + i) * Dp + c];
                        dQ[(bh * Lq + i) * D + c] = acc * s.scale;
                    }
        }
    }
}

}  // namespace attn
}  // namespace fastnn

// ------------------------------------------------------------------------------- bindings
namespace {

using fastnn::check_dim;
using fastnn::check_f32;

fastnn::attn::Shape check_inputs(const py::array& q, const py::array& k, const py::array& v,
                                 const py::object& mask, bool causal, double scale) {
    check_f32(q, "q", 4);
    check_f32(k, "k", 4);
    check_f32(v, "v", 4);
    fastnn::attn::Shape s{};
    s.B = q.shape(0);
    s.H = q.shape(1);
    s.Lq = q.shape(2);
    s.D = q.shape(3);
    s.Lk = k.shape(2);
    s.Dv = v.shape(3);
    check_dim(k, "k", 0, s.B);
    check_dim(k, "k", 1, s.H);
    check_dim(k, "k", 3, s.D);
    check_dim(v, "v", 0, s.B);
    check_dim(v, "v", 1, s.H);
    check_dim(v, "v", 2, s.Lk);
    s.causal = causal;
    s.scale = (float)scale;
    s.mask = nullptr;
    s.Bm = s.Hm = 1;
    if (!mask.is_none()) {
        if (!py::isinstance<py::array>(mask))
            throw py::type_error("mask: expected a float32 array or None, got " +
                                 std::string(py::str(py::type::of(mask).attr("__name__"))));
        py::array m = py::reinterpret_borrow<py::array>(mask);
        check_f32(m, "mask", 4);
        s.Bm = m.shape(0);
        s.Hm = m.shape(1);
        if (s.Bm != 1 && s.Bm != s.B)
            throw py::value_error("mask: dimension 0 must be 1 or " + std::to_string(s.B));
        if (s.Hm != 1 && s.Hm != s.H)
            throw py::value_error("mask: dimension 1 must be 1 or " + std::to_string(s.H));
        check_dim(m, "mask", 2, s.Lq);
        check_dim(m, "mask", 3, s.Lk);
        s.mask = fastnn::fptr(m);
    }
    return s;
}

py::tuple attention_forward_py(py::array q, py::array k, py::array v, py::object mask, bool causal,
                               double scale) {
    auto s = check_inputs(q, k, v, mask, causal, scale);
    auto out = fastnn::empty_f32({s.B, s.H, s.Lq, s.Dv});
    auto lse = fastnn::empty_f32({s.B, s.H, s.Lq});
    const float *Q = fastnn::fptr(q), *K = fastnn::fptr(k), *V = fastnn::fptr(v);
    float *O = out.mutable_data(), *L = lse.mutable_data();
    if (s.B * s.H * s.Lq > 0) {
        py::gil_scoped_release nogil;
        fastnn::attn::forward(s, Q, K, V, O, L);
    }
    return py::make_tuple(out, lse);
}

py::tuple attention_backward_py(py::array grad_out, py::array q, py::array k, py::array v,
                                py::array out, py::array lse, py::object mask, bool causal,
                                double scale) {
    auto s = check_inputs(q, k, v, mask, causal, scale);
    check_f32(grad_out, "grad_out", 4);
    check_f32(out, "out", 4);
    check_f32(lse, "lse", 3);
    for (int a = 0; a < 4; ++a) {
        const int64_t want[4] = {s.B, s.H, s.Lq, s.Dv};
        check_dim(grad_out, "grad_out", a, want[a]);
        check_dim(out, "out", a, want[a]);
        if (a < 3) check_dim(lse, "lse", a, want[a]);
    }
    auto dq = fastnn::empty_f32({s.B, s.H, s.Lq, s.D});
    auto dk = fastnn::empty_f32({s.B, s.H, s.Lk, s.D});
    auto dv = fastnn::empty_f32({s.B, s.H, s.Lk, s.Dv});
    const float *G = fastnn::fptr(grad_out), *Q = fastnn::fptr(q), *K = fastnn::fptr(k),
                *V = fastnn::fptr(v), *O = fastnn::fptr(out), *L = fastnn::fptr(lse);
    float *dQ = dq.mutable_data(), *dK = dk.mutable_data(), *dV = dv.mutable_data();
    {
        py::gil_scoped_release nogil;
        const int64_t nq = s.B * s.H * s.Lq, nk = s.B * s.H * s.Lk;
        if (nq == 0 || nk == 0) {
            std::fill(dQ, dQ + nq * s.D, 0.f);
            std::fill(dK, dK + nk * s.D, 0.f);
            std::fill(dV, dV + nk * s.Dv, 0.f);
        } else {
            fastnn::attn::backward(s, G, Q, K, V, O, L, dQ, dK, dV);
        }
    }
    return py::make_tuple(dq, dk, dv);
}

py::array attention_exp_test(py::array x) {
    check_f32(x, "x", 1);
    auto y = fastnn::empty_f32({x.shape(0)});
    fastnn::attn::vexp_array(fastnn::fptr(x), y.mutable_data(), x.shape(0));
    return y;
}

}  // namespace

void register_attention(py::module_& m) {
    m.def("attention_forward", &attention_forward_py, py::arg("q"), py::arg("k"), py::arg("v"),
          py::arg("mask"), py::arg("causal"), py::arg("scale"),
          "Fused attention forward (FlashAttention-2, online softmax): (out, lse).");
    m.def("attention_backward", &attention_backward_py, py::arg("grad_out"), py::arg("q"),
          py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("mask"),
          py::arg("causal"), py::arg("scale"),
          "Fused attention backward (FlashAttention-2, recompute from lse): (dq, dk, dv).");
    m.def("attention_exp_test", &attention_exp_test, py::arg("x"),
          "The attention kernels' vectorised exp on a float32 vector (for accuracy tests).");
}
